//! `report.html`: one self-contained file (inline SVG, no scripts, no network) that reads like a
//! short lab report — the scenario, a comparison table with the invariant results, what the
//! figures show, and every chart.

use super::charts::{self, Chart};
use crate::compare::{CompareReport, CompareRow};
use crate::scenario::Scenario;
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn row<'a>(r: &'a CompareReport, p: &str) -> Option<&'a CompareRow> {
    r.rows.iter().find(|x| x.protocol == p)
}

/// A few sentences on what the comparison shows, from its figures.
fn findings(r: &CompareReport) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(a), Some(u)) = (row(r, "aligned"), row(r, "unaligned")) {
        if u.duration_p50_ms > 0.0 {
            out.push(format!(
                "Aligned checkpoints took {:.1} ms (p50) against {:.1} ms for unaligned ones — {:.1}× longer: aligned barriers queue behind the in-flight data, unaligned ones overtake it.",
                a.duration_p50_ms,
                u.duration_p50_ms,
                a.duration_p50_ms / u.duration_p50_ms
            ));
        }
        out.push(format!(
            "The price of unaligned checkpoints is size: {:.0} KiB of in-flight records persisted per checkpoint (p50), where aligned ones persist none; aligned ones instead kept inputs blocked for {:.1} ms in total.",
            u.channel_state_bytes_p50 / 1024.0,
            a.input_blocked_ms
        ));
    }
    if let Some(c) = row(r, "chandy_lamport") {
        out.push(format!(
            "Chandy-Lamport never blocked an input ({:.1} ms) and recorded {:.0} KiB of channel state per checkpoint; its markers still travel behind the data, so it took {:.1} ms.",
            c.input_blocked_ms,
            c.channel_state_bytes_p50 / 1024.0,
            c.duration_p50_ms
        ));
    }
    if let Some(t) = row(r, "aligned_timeout") {
        out.push(format!(
            "Aligned checkpoints with a timeout took {:.1} ms: the timeout bounds how long they align.",
            t.duration_p50_ms
        ));
    }
    if let Some(l) = row(r, "at_least_once") {
        out.push(if l.cut_violations > 0 {
            format!(
                "At-least-once snapshots are not consistent cuts: the checker found {} violations (orphan records){}.",
                l.cut_violations,
                if l.duplicated > 0 {
                    format!(", and after the failures {} records became visible twice", l.duplicated)
                } else {
                    String::new()
                }
            )
        } else {
            "At-least-once produced no orphans on this scenario (no input ran ahead of another).".to_string()
        });
    }
    out
}

/// The report of a comparison.
pub fn compare_report(s: &Scenario, r: &CompareReport, compare: &[Chart]) -> Result<String, String> {
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ckptsim — {name}</title>
<style>
body {{ font-family: sans-serif; max-width: 1340px; margin: 2em auto; color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; font-size: 0.9em; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th {{ background: #f3f3f3; }} td:first-child, th:first-child {{ text-align: left; }}
.ok {{ color: #1a7f37; }} .bad {{ color: #c62828; font-weight: bold; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 8px; }} .charts svg {{ border: 1px solid #eee; }}
code {{ background: #f5f5f5; padding: 1px 4px; }}
</style></head><body>
<h1>Checkpoint protocols on <code>{name}</code></h1>
<p>{desc}</p>
<p>Seed <code>{seed}</code>, scenario fingerprint <code>{fp}</code>. Every protocol ran the same scenario with the same seed; reproduce with <code>ckptsim compare SCENARIO --seed {seed}</code>.</p>
"#,
        name = esc(&s.name),
        desc = esc(&s.description),
        seed = r.seed,
        fp = r.fingerprint
    );
    h.push_str("<h2>Results</h2>\n<table>\n<tr><th>protocol</th><th>checkpoints done/triggered</th><th>duration p50 (ms)</th><th>duration p99 (ms)</th><th>alignment p50 (ms)</th><th>state p50 (KiB)</th><th>channel state p50 (KiB)</th><th>records/s</th><th>latency p99 (ms)</th><th>visible p99 (ms)</th><th>inputs blocked (ms)</th><th>failures</th><th>consistent cut</th><th>exactly once</th></tr>\n");
    for x in &r.rows {
        let cut = if x.protocol == "none" {
            "—".to_string()
        } else if x.cut_violations == 0 {
            format!("<span class=ok>{} checked, ok</span>", x.cut_checked)
        } else {
            format!("<span class=bad>{} violations</span>", x.cut_violations)
        };
        let once = if x.missing + x.duplicated + x.state_mismatches == 0 {
            "<span class=ok>ok</span>".to_string()
        } else {
            format!(
                "<span class=bad>{} duplicated, {} missing, {} keys wrong</span>",
                x.duplicated, x.missing, x.state_mismatches
            )
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}/{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td><td>{:.1}</td><td>{:.0}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td><td>{}</td><td>{cut}</td><td>{once}</td></tr>",
            x.protocol,
            x.completed,
            x.triggered,
            x.duration_p50_ms,
            x.duration_p99_ms,
            x.alignment_p50_ms,
            x.state_bytes_p50 / 1024.0,
            x.channel_state_bytes_p50 / 1024.0,
            x.throughput_rps,
            x.latency_p99_ms,
            x.committed_latency_p99_ms,
            x.input_blocked_ms,
            x.failures
        );
    }
    h.push_str("</table>\n<h2>What the figures show</h2>\n<ul>\n");
    for f in findings(r) {
        let _ = writeln!(h, "<li>{}</li>", esc(&f));
    }
    h.push_str("</ul>\n<h2>Side by side</h2>\n<div class=charts>\n");
    for c in compare {
        h.push_str(&c.to_svg()?);
    }
    h.push_str("</div>\n");
    for run in &r.results {
        let _ = writeln!(h, "<h2>{}</h2>\n<div class=charts>", esc(&run.summary.protocol));
        for c in charts::run_charts(run) {
            h.push_str(&c.to_svg()?);
        }
        h.push_str("</div>\n");
    }
    h.push_str("<p><small>Generated by ckptsim. Each protocol keeps its colour in every chart. Vertical grey lines: completed checkpoints; red: failures. The last checkpoint of a run is the final one taken after every task finished (FLIP-147): nothing is in flight any more, so it is short. Machine-readable data: <code>compare.json</code> and each protocol's <code>summary.json</code>, <code>checkpoints.csv</code>, <code>timeseries.csv</code>.</small></p>\n</body></html>\n");
    Ok(h)
}
