//! Human output of the operator commands: aligned tables and readable times.

use serde_json::Value;

/// Prints rows under headers, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        say!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A string member, or "" (or "-" for null).
pub fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

/// A unix time member as RFC 3339 (UTC), or "-".
pub fn time(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_i64)
        .map_or_else(|| "-".into(), rfc3339)
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// An array member of strings, comma-separated (or "-").
pub fn list(v: &Value, key: &str) -> String {
    let items: Vec<&str> = v
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

/// The rows of an array (none when it is not one).
pub fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// An account's state, with its block when blocked.
pub fn account_state(a: &Value) -> String {
    match a.get("blocked").and_then(Value::as_str) {
        Some(reason) => format!("{} (blocked: {reason})", s(a, "state")),
        None => s(a, "state"),
    }
}

/// A row of the accounts table.
pub fn account_row(a: &Value) -> Vec<String> {
    vec![
        s(a, "login"),
        s(a, "role"),
        account_state(a),
        format!("{} {}", s(a, "given_name"), s(a, "family_name")),
        s(a, "email"),
        s(a, "id"),
    ]
}

/// Headers of the accounts table.
pub const ACCOUNT_HEADERS: [&str; 6] = ["LOGIN", "ROLE", "STATE", "NAME", "EMAIL", "ID"];

/// A structure's state: open, or closed since when.
pub fn structure_state(st: &Value) -> String {
    match st.get("closed_at").and_then(Value::as_i64) {
        Some(t) => format!("closed {}", rfc3339(t)),
        None => "open".into(),
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}
