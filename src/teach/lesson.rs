//! `ckptsim lesson`: one self-contained HTML page that teaches a checkpoint — the space-time
//! diagram (one panel per protocol, on one time axis) beside the narrated steps, a time slider,
//! the origin of every record on hover, and a view inside one task's input and output channels
//! showing where the barrier is among the queued records: behind them (aligned, Chandy-Lamport) or
//! ahead of them (unaligned).
//!
//! The page is built from the same [`Diagram`]s and [`Step`]s as `diagram` and `explain`; it holds
//! them as data and its script draws the overlay, so what it shows is what those commands show.
//! No network: the SVG, the style, the data and the script are all inline.

use super::diagram::{self, Crossing, Diagram};
use super::explain::Step;
use crate::report::html::esc;
use serde_json::{Value, json};

/// One protocol's part of a lesson.
pub struct Panel {
    /// The protocol's name.
    pub protocol: String,
    /// Its diagram of the checkpoint (after [`diagram::share_axis`] when there are several).
    pub diagram: Diagram,
    /// Its narrated steps, in time order.
    pub steps: Vec<Step>,
}

/// At most this many data messages per panel go into the page (a checkpoint can span millions:
/// a micro-batch of a whole input); beyond it the ordinary ones are sampled evenly, and the ones
/// crossing the cut are kept first. The page says so.
pub const MAX_MESSAGES: usize = 20_000;

/// The messages a panel embeds: those crossing the cut first, then every `k`-th ordinary one so
/// that at most [`MAX_MESSAGES`] remain; returns them with `k`.
fn embedded(d: &Diagram) -> (Vec<&diagram::Msg>, usize) {
    let crossing = d.messages.iter().filter(|m| m.crossing != Crossing::None).take(MAX_MESSAGES);
    let mut out: Vec<&diagram::Msg> = crossing.collect();
    let ordinary: Vec<&diagram::Msg> = d.messages.iter().filter(|m| m.crossing == Crossing::None).collect();
    let room = MAX_MESSAGES - out.len();
    let every = if room == 0 { ordinary.len().max(1) } else { ordinary.len().div_ceil(room).max(1) };
    out.extend(ordinary.into_iter().step_by(every).take(room));
    (out, every)
}

/// The page's data: what its script reads (also what the structural tests check).
pub fn data(scenario: &str, panels: &[Panel]) -> Value {
    let mut y0 = 0.0;
    let mut out = Vec::new();
    for p in panels {
        let d = &p.diagram;
        let crossing = |c: Crossing| match c {
            Crossing::None => 0,
            Crossing::ChannelState => 1,
            Crossing::Orphan => 2,
        };
        let (messages, every) = embedded(d);
        out.push(json!({
            "protocol": p.protocol,
            "messages_total": d.messages.len(),
            "sampled_every": every,
            "title": d.title,
            "y0": y0,
            "from": d.from,
            "to": d.to,
            "ticks": d.ticks,
            "cp": d.cp,
            "lanes": d.lanes,
            "rows": d.rows(),
            "channels": d.channels.iter().map(|(f, t, n)| json!([f.0, t.0, n])).collect::<Vec<_>>(),
            "snapshots": d.snapshots.iter().map(|(t, at)| json!([t.0, at])).collect::<Vec<_>>(),
            "barriers": d.barriers.iter().map(|b| json!([b.ch.0, b.sent, b.arrived, b.priority])).collect::<Vec<_>>(),
            "waits": d.waits.iter().map(|w| json!([w.ch.0, w.arrived, w.taken, w.records_ahead])).collect::<Vec<_>>(),
            "blocked": d.blocked.iter().map(|(c, a, b)| json!([c.0, a, b])).collect::<Vec<_>>(),
            "recording": d.recording.iter().map(|(c, a, b)| json!([c.0, a, b])).collect::<Vec<_>>(),
            "messages": messages.iter().map(|m| {
                let (key, part, off) = match m.origin {
                    Some((k, l)) => (json!(k), json!(l.partition), json!(l.offset)),
                    None => (Value::Null, Value::Null, Value::Null),
                };
                json!([m.ch.0, m.seq, m.sent, m.consumed, crossing(m.crossing), key, part, off])
            }).collect::<Vec<_>>(),
            "steps": p.steps.iter().map(|s| json!({
                "t": s.t_ns, "task": s.task, "event": s.event, "text": s.text, "rule": s.rule,
            })).collect::<Vec<_>>(),
        }));
        y0 += d.height();
    }
    json!({
        "scenario": scenario,
        "geometry": {
            "width": diagram::DIAGRAM_WIDTH, "left": diagram::LEFT, "right": diagram::RIGHT,
            "top": diagram::TOP, "lane": diagram::LANE,
        },
        "panels": out,
    })
}

/// The lesson page: `panels` of checkpoint `cp` of `scenario`, drawing at most `max_messages`
/// ordinary data messages per panel (the data holds up to [`MAX_MESSAGES`]).
pub fn html(scenario: &str, cp: u64, panels: &[Panel], max_messages: usize) -> String {
    let svg = diagram::stack_svg(panels.iter().map(|p| &p.diagram), max_messages);
    // `</` cannot end the script element early once written as `<\/` (still valid JSON).
    let data = data(scenario, panels).to_string().replace("</", "<\\/");
    let names: Vec<&str> = panels.iter().map(|p| p.protocol.as_str()).collect();
    // Uncoordinated checkpoints have no global checkpoint: the page shows a recovery line.
    let what = if panels.iter().all(|p| p.diagram.is_recovery_line()) { "Recovery line" } else { "Checkpoint" };
    let title = format!("{what} {cp} of {} — {}", esc(scenario), esc(&names.join(", ")));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n<p class=\"how\">Click a step to see it in the diagram. Drag the time slider (or press ▶): what has not happened yet is dimmed. Hover a record for where it came from. Pick a task to look inside its channels. A link may name a view: <code>#protocol=unaligned&amp;task=agg[0]&amp;t=26.5</code> (ms).</p>\n</header>\n<div id=\"controls\">\n<button id=\"play\" type=\"button\" title=\"play\">▶</button>\n<input id=\"time\" type=\"range\" min=\"0\" max=\"1000\" value=\"0\" aria-label=\"simulated time\">\n<output id=\"now\"></output>\n<label>protocol <select id=\"proto\"></select></label>\n<label>task <select id=\"task\"></select></label>\n</div>\n<div id=\"layout\">\n<div id=\"figure\">\n{svg}</div>\n<aside id=\"steps\" aria-label=\"narrated steps\"><ol id=\"steplist\"></ol></aside>\n</div>\n<section id=\"inside\">\n<h2 id=\"inside-title\"></h2>\n<svg id=\"buffers\" xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"200\" viewBox=\"0 0 1000 200\" font-family=\"sans-serif\"></svg>\n<p id=\"inside-note\"></p>\n</section>\n<div id=\"tip\" role=\"tooltip\" hidden></div>\n<script id=\"lesson-data\" type=\"application/json\">{data}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

const STYLE: &str = include_str!("lesson.css");
const SCRIPT: &str = include_str!("lesson.js");
