//! Prometheus metrics: requests, latencies, sign-in failures, mail queue depth.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The counters.
#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_us: AtomicU64,
    count: AtomicU64,
    sign_in_failures: AtomicU64,
}

impl Metrics {
    /// Counts a failed sign-in.
    pub fn sign_in_failure(&self) {
        self.sign_in_failures.fetch_add(1, Ordering::Relaxed);
    }

    fn observe(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).saturating_sub(1).min(4);
        if let Some(c) = self.by_class.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
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
        out.push_str("# HELP apex_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE apex_http_request_duration_seconds histogram\n");
        for (bound, b) in BUCKETS.iter().zip(&self.buckets) {
            out.push_str(&format!(
                "apex_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}\n",
                b.load(Ordering::Relaxed)
            ));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!(
            "apex_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
        ));
        out.push_str(&format!(
            "apex_http_request_duration_seconds_sum {}\n",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str(&format!(
            "apex_http_request_duration_seconds_count {count}\n"
        ));
        out.push_str("# HELP apex_sign_in_failures_total Failed sign-ins.\n");
        out.push_str("# TYPE apex_sign_in_failures_total counter\n");
        out.push_str(&format!(
            "apex_sign_in_failures_total {}\n",
            self.sign_in_failures.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP apex_mail_queue_depth Mails waiting for delivery.\n");
        out.push_str("# TYPE apex_mail_queue_depth gauge\n");
        out.push_str(&format!("apex_mail_queue_depth {mail_queue_depth}\n"));
        out
    }
}

/// Middleware that measures every request.
pub async fn measure(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.observe(response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}
