//! The soak's plot, written by hand as SVG: server memory (RSS and heap in use) and
//! server counts (tasks, sessions, sockets) over time, the churn and drain phases shaded.

use std::fmt::Write;

use crate::Sample;

const WIDTH: f64 = 800.0;
const PANEL: f64 = 200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 130.0;

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

/// A round upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn panel(out: &mut String, top: f64, title: &str, unit: &str, t: &[f64], series: &[Series]) {
    let t_max = t.last().copied().unwrap_or(1.0).max(1.0);
    let y_max = nice_max(
        series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0, f64::max),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |v: f64| LEFT + v / t_max * plot_w;
    let y = |v: f64| top + PANEL - v / y_max * PANEL;
    let _ = writeln!(
        out,
        r##"<text x="{LEFT}" y="{:.0}" font-size="13" font-weight="bold">{title}</text>"##,
        top - 8.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#999"/>"##
    );
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eee"/><text x="{:.0}" y="{:.1}" text-anchor="end" font-size="11">{} {unit}</text>"##,
            LEFT + plot_w,
            LEFT - 4.0,
            yy + 4.0,
            if y_max >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        );
    }
    for (i, s) in series.iter().enumerate() {
        let mut d = String::new();
        for (tv, v) in t.iter().zip(&s.values) {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if d.is_empty() { "M" } else { " L" },
                x(*tv),
                y(*v)
            );
        }
        let _ = writeln!(
            out,
            r##"<path d="{d}" fill="none" stroke="{}" stroke-width="1.5"/>"##,
            s.color
        );
        let ly = top + 14.0 + 16.0 * i as f64;
        let _ = writeln!(
            out,
            r##"<line x1="{:.0}" y1="{ly:.0}" x2="{:.0}" y2="{ly:.0}" stroke="{}" stroke-width="2"/><text x="{:.0}" y="{:.0}" font-size="11">{}</text>"##,
            LEFT + plot_w + 8.0,
            LEFT + plot_w + 24.0,
            s.color,
            LEFT + plot_w + 28.0,
            ly + 4.0,
            s.name
        );
    }
}

/// The plot of `samples`, with the run's figures in the title.
pub fn svg(samples: &[Sample], summary: &serde_json::Value) -> String {
    let t: Vec<f64> = samples.iter().map(|s| s.t).collect();
    let t_max = t.last().copied().unwrap_or(1.0).max(1.0);
    let height = 60.0 + 2.0 * (PANEL + 50.0) + 45.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let g = |k: &str| {
        summary
            .pointer(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let _ = writeln!(
        out,
        r##"<text x="10" y="18" font-size="14">Churn soak (bench/soak): {} clients for {} min, {} connections, {} acked messages — {}</text><text x="10" y="34" font-size="12" fill="#444">server RSS {:.1} MiB idle, {:.1} peak, {:.1} after the drain; heap in use {:.1} MiB idle, {:.1} peak, {:.1} after</text>"##,
        g("/clients"),
        summary
            .get("minutes")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0),
        g("/connects") + g("/reconnects") + g("/ghosts"),
        g("/acks"),
        if summary.get("pass").and_then(serde_json::Value::as_bool) == Some(true) {
            "every check passed"
        } else {
            "a check FAILED"
        },
        g("/rss_kib/start") as f64 / 1024.0,
        g("/rss_kib/peak") as f64 / 1024.0,
        g("/rss_kib/end") as f64 / 1024.0,
        g("/heap_kib/start") as f64 / 1024.0,
        g("/heap_kib/peak") as f64 / 1024.0,
        g("/heap_kib/end") as f64 / 1024.0,
    );
    // Phases, shaded across both panels.
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |v: f64| LEFT + v / t_max * plot_w;
    for (phase, color, label) in [(1u8, "#fff4e6", "churn"), (2u8, "#e7f5ff", "drain")] {
        // From the phase's first sample to the next phase's first one.
        let a = samples.iter().find(|s| s.phase == phase).map(|s| s.t);
        let b = samples
            .iter()
            .find(|s| s.phase > phase)
            .or(samples.last())
            .map(|s| s.t);
        if let (Some(a), Some(b)) = (a.as_ref(), b.as_ref()) {
            let _ = writeln!(
                out,
                r##"<rect x="{:.1}" y="52" width="{:.1}" height="{:.0}" fill="{color}"/><text x="{:.1}" y="50" font-size="11" fill="#666">{label}</text>"##,
                x(*a),
                (x(*b) - x(*a)).max(1.0),
                2.0 * (PANEL + 50.0) - 20.0,
                x(*a) + 2.0
            );
        }
    }
    let mib = |f: fn(&Sample) -> u64| samples.iter().map(|s| f(s) as f64 / 1024.0).collect();
    panel(
        &mut out,
        70.0,
        "server memory",
        "MiB",
        &t,
        &[
            Series {
                name: "RSS",
                color: "#d9480f",
                values: mib(|s| s.rss_kib),
            },
            Series {
                name: "heap in use",
                color: "#1c7ed6",
                values: mib(|s| s.heap_kib),
            },
        ],
    );
    let n = |f: fn(&Sample) -> u64| samples.iter().map(|s| f(s) as f64).collect();
    panel(
        &mut out,
        70.0 + PANEL + 50.0,
        "server tasks, sessions, sockets",
        "",
        &t,
        &[
            Series {
                name: "tasks",
                color: "#2b8a3e",
                values: n(|s| s.tasks),
            },
            Series {
                name: "sessions",
                color: "#7048e8",
                values: n(|s| s.sessions),
            },
            Series {
                name: "sockets",
                color: "#e8590c",
                values: n(|s| s.sockets),
            },
        ],
    );
    // Time ticks under the lower panel.
    let step = nice_max(t_max / 8.0);
    let axis_y = 70.0 + 2.0 * PANEL + 50.0;
    let mut tick = 0.0;
    while tick <= t_max {
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{axis_y:.0}" x2="{x:.1}" y2="{:.0}" stroke="#999"/><text x="{x:.1}" y="{:.0}" text-anchor="middle" font-size="11">{tick:.0}</text>"##,
            axis_y + 4.0,
            axis_y + 16.0,
            x = x(tick),
        );
        tick += step;
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.0}" y="{:.0}" text-anchor="middle" font-size="11">seconds ({:.0} s in all)</text>"##,
        LEFT + plot_w / 2.0,
        height - 10.0,
        t_max
    );
    out.push_str("</svg>\n");
    out
}
