//! `report.html`: one self-contained file (inline SVG, no scripts, no network) that reads like a
//! short lab report — a heading, a few paragraphs, one results table with its verdicts, what the
//! figures show, and sections of charts. It renders neutral [`Page`]s: what goes on the page is
//! decided by the command that writes it (`compare`, `sweep`), so this module imports neither.

use super::charts::Chart;
use std::fmt::Write as _;

/// One table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Plain text (escaped).
    Text(String),
    /// A verdict that passed (green).
    Ok(String),
    /// A verdict that failed (red, bold).
    Bad(String),
    /// A check that did not run (grey), with the reason.
    NotChecked(String),
}

/// A results table: a header row, then rows of cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

/// A report page.
#[derive(Debug, Default)]
pub struct Page {
    /// The browser tab's title.
    pub title: String,
    /// The heading; text in backticks is set as code.
    pub heading: String,
    /// Paragraphs under the heading; text in backticks is set as code.
    pub paragraphs: Vec<String>,
    /// The results.
    pub table: Table,
    /// Sentences on what the figures show (omitted when empty).
    pub findings: Vec<String>,
    /// Sections of charts: a title and its charts.
    pub sections: Vec<(String, Vec<Chart>)>,
    /// The small print at the bottom; text in backticks is set as code.
    pub footer: String,
}

/// `&`, `<`, `>` and `"` escaped, for text and attribute values of HTML and SVG (the one
/// escaping function of the reports, diagrams and lesson pages).
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Escapes `s` and sets the parts in backticks as `<code>`.
fn inline(s: &str) -> String {
    esc(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_string() })
        .collect()
}

const STYLE: &str = r#"<style>
body { font-family: sans-serif; max-width: 1340px; margin: 2em auto; color: #222; line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.78em; } th, td { border: 1px solid #ccc; padding: 2px 4px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.ok { color: #1a7f37; } .bad { color: #c62828; font-weight: bold; } .nc { color: #666; font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; } .charts svg { border: 1px solid #eee; }
.wide { overflow-x: auto; } nav { margin: 1em 0; } summary { cursor: pointer; } summary h2 { display: inline; }
code { background: #f5f5f5; padding: 1px 4px; }
</style>"#;

/// Renders `p` as a self-contained HTML page.
pub fn render(p: &Page) -> Result<String, String> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n{STYLE}</head><body>\n<h1>{}</h1>\n",
        esc(&p.title),
        inline(&p.heading)
    );
    for para in &p.paragraphs {
        let _ = writeln!(h, "<p>{}</p>", inline(para));
    }
    // Contents: the results, the findings, and every section of charts.
    h.push_str("<nav><b>Contents:</b> <a href=\"#results\">results</a>");
    if !p.findings.is_empty() {
        h.push_str(" · <a href=\"#findings\">what the figures show</a>");
    }
    for (i, (title, charts)) in p.sections.iter().enumerate() {
        let _ = write!(h, " · <a href=\"#s{i}\">{}</a> ({})", esc(title), charts.len());
    }
    h.push_str("</nav>\n");
    h.push_str("<h2 id=\"results\">Results</h2>\n<div class=wide><table>\n<tr>");
    for c in &p.table.header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for row in &p.table.rows {
        h.push_str("<tr>");
        for c in row {
            let _ = match c {
                Cell::Text(t) => write!(h, "<td>{}</td>", esc(t)),
                Cell::Ok(t) => write!(h, "<td><span class=ok>{}</span></td>", esc(t)),
                Cell::Bad(t) => write!(h, "<td><span class=bad>{}</span></td>", esc(t)),
                Cell::NotChecked(t) => write!(h, "<td><span class=nc>{}</span></td>", esc(t)),
            };
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    if !p.findings.is_empty() {
        h.push_str("<h2 id=\"findings\">What the figures show</h2>\n<ul>\n");
        for f in &p.findings {
            let _ = writeln!(h, "<li>{}</li>", esc(f));
        }
        h.push_str("</ul>\n");
    }
    // The first section is open; the others (one per protocol, say) fold away.
    for (i, (title, charts)) in p.sections.iter().enumerate() {
        let open = if i == 0 { " open" } else { "" };
        let _ =
            writeln!(h, "<details id=\"s{i}\"{open}><summary><h2>{}</h2></summary>\n<div class=charts>", esc(title));
        for c in charts {
            h.push_str(&c.to_svg()?);
        }
        h.push_str("</div></details>\n");
    }
    let _ = writeln!(h, "<p><small>{}</small></p>\n</body></html>", inline(&p.footer));
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_text_sets_code_and_marks_verdicts() {
        let page = Page {
            title: "t<1>".into(),
            heading: "Sweep of `a.b` on `x`".into(),
            table: Table {
                header: vec!["p".into(), "verdict".into()],
                rows: vec![vec![Cell::Text("a&b".into()), Cell::NotChecked("not checked (why)".into())]],
            },
            ..Default::default()
        };
        let h = render(&page).unwrap();
        assert!(h.contains("<title>t&lt;1&gt;</title>"));
        assert!(h.contains("<h1>Sweep of <code>a.b</code> on <code>x</code></h1>"));
        assert!(h.contains("<td>a&amp;b</td><td><span class=nc>not checked (why)</span></td>"));
        assert!(!h.contains("What the figures show"), "no findings, no section");
    }
}
