//! A connection's handshake as socket.io describes it to other servers
//! ([`HandshakeData`]): headers, time, address, URL, query, auth.

use std::time::{Duration, SystemTime};

use sockio_engine::Handshake;
use sockio_protocol::socket::Value;

use crate::adapter::HandshakeData;

/// The handshake of a connection, with the socket's `auth`, in socket.io's form.
pub(crate) fn describe(h: &Handshake, auth: &Value) -> HandshakeData {
    let mut headers: Vec<(String, Value)> = Vec::new();
    for (name, value) in h.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
            Some((_, Value::String(existing))) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => headers.push((name.as_str().to_owned(), Value::String(value))),
        }
    }
    let query = h.query().map(|(k, v)| (k, Value::String(v))).collect();
    HandshakeData {
        headers: Value::Object(headers),
        time: js_date_string(h.issued),
        address: h
            .remote_addr
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        xdomain: h.headers().contains_key(http::header::ORIGIN),
        secure: false,
        issued: h.issued_ms(),
        url: h.uri.to_string(),
        query: Value::Object(query),
        auth: auth.clone(),
    }
}

/// `new Date(t).toString()` as Node writes it in UTC:
/// `Sun Nov 22 2026 23:38:37 GMT+0000 (Coordinated Universal Time)`.
pub(crate) fn js_date_string(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:02} {} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The Gregorian (year, month 1-12, day 1-31) of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift to an era starting on 0000-03-01, so leap days end each cycle.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_javascript_writes_them() {
        let at = |s: u64| js_date_string(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(
            at(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        // 2026-11-22T23:38:37Z, the capture in socket.io's own notes.
        assert_eq!(
            at(1_795_390_717),
            "Sun Nov 22 2026 23:38:37 GMT+0000 (Coordinated Universal Time)"
        );
        // A leap day.
        assert_eq!(
            at(951_782_400),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }
}
