//! The counters of every face, rendered for Prometheus at `/metrics`: HTTP requests
//! and latencies, sign-in failures, the issuer's grants and token latency, the LDAP
//! face's operations, connections and latency, mail queue depth. The names are listed
//! in README ("Logs, security events and metrics").

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A latency histogram in [`BUCKETS`].
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            out.push_str(&format!(
                "{name}_bucket{{le=\"{bound}\"}} {}\n",
                b.load(Ordering::Relaxed)
            ));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {count}\n"));
        out.push_str(&format!(
            "{name}_sum {}\n",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str(&format!("{name}_count {count}\n"));
    }
}

/// The grant types counted apart; anything else is `other`.
const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "other",
];

/// The counters.
#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    latency: Histogram,
    sign_in_failures: AtomicU64,
    /// Token requests by grant type ([`GRANT_TYPES`]) and result (answered, refused).
    grants: [[AtomicU64; 2]; GRANT_TYPES.len()],
    token_latency: Histogram,
    /// LDAP operations by kind ([`LDAP_OPS`]) and result (success, failure).
    ldap_ops: [[AtomicU64; 2]; LDAP_OPS.len()],
    ldap_latency: Histogram,
    ldap_connections: AtomicU64,
}

/// The LDAP operations counted apart.
pub const LDAP_OPS: [&str; 7] = [
    "bind", "search", "compare", "extended", "unbind", "write", "other",
];

impl Metrics {
    /// Counts a failed sign-in.
    pub fn sign_in_failure(&self) {
        self.sign_in_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an HTTP answer of `status`, and how long it took.
    pub fn http_request(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).saturating_sub(1).min(4);
        if let Some(c) = self.by_class.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.observe(seconds);
    }

    /// Counts a request to the token endpoint: its grant type as sent, whether tokens
    /// were issued, and how long it took.
    pub fn token_request(&self, grant_type: &str, issued: bool, seconds: f64) {
        let kind = GRANT_TYPES
            .iter()
            .position(|g| *g == grant_type)
            .unwrap_or(GRANT_TYPES.len() - 1);
        if let Some(c) = self
            .grants
            .get(kind)
            .and_then(|r| r.get(usize::from(!issued)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.token_latency.observe(seconds);
    }

    /// Counts an LDAP operation of `kind` (one of [`LDAP_OPS`], else `other`), whether
    /// it succeeded, and how long its answer took.
    pub fn ldap_operation(&self, kind: &str, success: bool, seconds: f64) {
        let i = LDAP_OPS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(LDAP_OPS.len() - 1);
        if let Some(c) = self
            .ldap_ops
            .get(i)
            .and_then(|r| r.get(usize::from(!success)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.ldap_latency.observe(seconds);
    }

    /// An LDAP connection opened (`true`) or closed.
    pub fn ldap_connection(&self, opened: bool) {
        if opened {
            self.ldap_connections.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = self
                .ldap_connections
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, mail_queue_depth: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP apex_http_requests_total HTTP requests by status class.\n");
        out.push_str("# TYPE apex_http_requests_total counter\n");
        for (i, c) in self.by_class.iter().enumerate() {
            out.push_str(&format!(
                "apex_http_requests_total{{class=\"{}xx\"}} {}\n",
                i + 1,
                c.load(Ordering::Relaxed)
            ));
        }
        self.latency.render(
            &mut out,
            "apex_http_request_duration_seconds",
            "HTTP request latency.",
        );
        out.push_str("# HELP apex_sign_in_failures_total Failed sign-ins.\n");
        out.push_str("# TYPE apex_sign_in_failures_total counter\n");
        out.push_str(&format!(
            "apex_sign_in_failures_total {}\n",
            self.sign_in_failures.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP apex_oidc_grants_total Token requests by grant type and result.\n");
        out.push_str("# TYPE apex_oidc_grants_total counter\n");
        for (kind, results) in GRANT_TYPES.iter().zip(&self.grants) {
            for (result, c) in ["issued", "refused"].iter().zip(results) {
                out.push_str(&format!(
                    "apex_oidc_grants_total{{grant_type=\"{kind}\",result=\"{result}\"}} {}\n",
                    c.load(Ordering::Relaxed)
                ));
            }
        }
        self.token_latency.render(
            &mut out,
            "apex_oidc_token_duration_seconds",
            "Token endpoint latency.",
        );
        out.push_str("# HELP apex_ldap_operations_total LDAP operations by kind and result.\n");
        out.push_str("# TYPE apex_ldap_operations_total counter\n");
        for (kind, results) in LDAP_OPS.iter().zip(&self.ldap_ops) {
            for (result, c) in ["success", "failure"].iter().zip(results) {
                out.push_str(&format!(
                    "apex_ldap_operations_total{{op=\"{kind}\",result=\"{result}\"}} {}\n",
                    c.load(Ordering::Relaxed)
                ));
            }
        }
        self.ldap_latency.render(
            &mut out,
            "apex_ldap_operation_duration_seconds",
            "LDAP operation latency (the whole answer, entries included).",
        );
        out.push_str("# HELP apex_ldap_connections Open LDAP connections.\n");
        out.push_str("# TYPE apex_ldap_connections gauge\n");
        out.push_str(&format!(
            "apex_ldap_connections {}\n",
            self.ldap_connections.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP apex_mail_queue_depth Mails waiting for delivery.\n");
        out.push_str("# TYPE apex_mail_queue_depth gauge\n");
        out.push_str(&format!("apex_mail_queue_depth {mail_queue_depth}\n"));
        out
    }
}
