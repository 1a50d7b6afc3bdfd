//! A report page as plain data (a headline, notes, tables, percentile charts) rendered to a
//! self-contained HTML page or to Markdown within a size limit. Features that have verdicts
//! to show (`compare`, `gate`) build a [`Page`]; this module only renders what it is handed,
//! so `report/` does not depend on them.

use std::fmt::Write;

use super::html::{esc, percentile_chart};

/// How a headline or cell reads: colour in HTML, emphasis in Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Neutral,
    Good,
    Bad,
    Warn,
}

#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            tone: Tone::Neutral,
        }
    }
    pub fn toned(text: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            text: text.into(),
            tone,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Latency by percentile, one line per series (e.g. baseline and candidate).
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub series: Vec<(String, Vec<(f64, u64)>)>,
}

/// A line chart of (x, y) series (throughput against connections, latency against rate).
#[derive(Debug, Clone, Default)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_log: bool,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub title: String,
    /// The verdict, first thing on the page.
    pub headline: String,
    pub tone: Tone,
    /// Lines right under the headline (the reasons for the verdict).
    pub notes: Vec<String>,
    pub tables: Vec<Table>,
    pub charts: Vec<Chart>,
    pub plots: Vec<Plot>,
    /// Where the figures come from; last on the page.
    pub footer: Vec<String>,
}

fn color(t: Tone) -> &'static str {
    match t {
        Tone::Neutral => "inherit",
        Tone::Good => "#1a7f37",
        Tone::Bad => "#c62828",
        Tone::Warn => "#9a6700",
    }
}

/// The page as one self-contained HTML document (inline CSS and SVG, no scripts).
pub fn html(page: &Page) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}\
         th{{background:#f4f4f4}}li{{white-space:pre-wrap}}.charts{{display:flex;flex-wrap:wrap;gap:1em}}</style></head><body>",
        esc(&page.title)
    );
    let _ = write!(out, "<h1>{}</h1>", esc(&page.title));
    let _ = write!(
        out,
        "<p style=\"font-size:1.3em;font-weight:bold;color:{}\">{}</p>",
        color(page.tone),
        esc(&page.headline)
    );
    if !page.notes.is_empty() {
        out.push_str("<ul>");
        for n in &page.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>");
    }
    if !page.plots.is_empty() {
        out.push_str("<div class=\"charts\">");
        for p in &page.plots {
            let series: Vec<(&str, &[(f64, f64)])> = p
                .series
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_slice()))
                .collect();
            out.push_str(&super::html::xy_chart(
                &p.title, &p.x_label, &p.y_label, &series, p.y_log,
            ));
        }
        out.push_str("</div>");
    }
    out.push_str(&tables_html(&page.tables));
    out.push_str(&charts_html(&page.charts));
    if !page.footer.is_empty() {
        out.push_str("<h2>Provenance</h2><ul>");
        for f in &page.footer {
            let _ = write!(out, "<li>{}</li>", esc(f));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}

/// Charts as HTML (inline SVG), under one heading; nothing without charts.
pub fn charts_html(charts: &[Chart]) -> String {
    let mut out = String::new();
    if charts.is_empty() {
        return out;
    }
    out.push_str("<h2>Latency by percentile</h2><div class=\"charts\">");
    for c in charts {
        let series: Vec<(&str, &[(f64, u64)])> = c
            .series
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_slice()))
            .collect();
        out.push_str(&percentile_chart(&c.title, &series));
    }
    out.push_str("</div>");
    out
}

/// Tables as HTML: a heading and a table each.
pub fn tables_html(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        let _ = write!(out, "<h2>{}</h2><table><tr>", esc(&t.title));
        for c in &t.columns {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        out.push_str("</tr>");
        for r in &t.rows {
            out.push_str("<tr>");
            for c in r {
                if c.tone == Tone::Neutral {
                    let _ = write!(out, "<td>{}</td>", esc(&c.text));
                } else {
                    let _ = write!(
                        out,
                        "<td style=\"color:{};font-weight:bold\">{}</td>",
                        color(c.tone),
                        esc(&c.text)
                    );
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out
}

/// Tables as Markdown, whole (summary.md has no size limit).
pub fn tables_markdown(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        let _ = writeln!(out, "\n## {}\n", t.title);
        if t.rows.is_empty() {
            let _ = writeln!(out, "none");
            continue;
        }
        let _ = writeln!(out, "| {} |", t.columns.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(t.columns.len()));
        for r in &t.rows {
            let cells: Vec<String> = r.iter().map(md_cell).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    out
}

fn md_cell(c: &Cell) -> String {
    let text = c.text.replace('|', "\\|").replace('\n', " ");
    match c.tone {
        Tone::Bad | Tone::Warn if !text.is_empty() => format!("**{text}**"),
        _ => text,
    }
}

/// The page as Markdown of at most `limit` bytes (a pull-request comment holds 65,536
/// characters): the headline and notes always, then table rows while they fit; what did not
/// fit is counted in a last line pointing to report.html. Charts are left to the HTML page.
pub fn markdown(page: &Page, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", page.title);
    let mark = match page.tone {
        Tone::Bad => "❌ ",
        Tone::Good => "✅ ",
        Tone::Warn => "⚠️ ",
        Tone::Neutral => "",
    };
    let _ = writeln!(out, "**{mark}{}**\n", page.headline);
    // Room kept for the footer and the omission lines.
    let footer: String = page.footer.iter().map(|f| format!("- {f}\n")).collect();
    let reserve = footer.len() + 400;
    let mut notes_left = 0usize;
    for n in &page.notes {
        let line = format!("- {n}\n");
        if out.len() + line.len() + reserve > limit {
            notes_left += 1;
            continue;
        }
        out.push_str(&line);
    }
    if notes_left > 0 {
        let _ = writeln!(
            out,
            "- … and {notes_left} more (in report.html and compare.json)"
        );
    }
    if !page.notes.is_empty() {
        out.push('\n');
    }
    let mut omitted = 0usize;
    for t in &page.tables {
        let mut head = String::new();
        let _ = writeln!(head, "### {}\n", t.title);
        let _ = writeln!(head, "| {} |", t.columns.join(" | "));
        let _ = writeln!(head, "|{}", "---|".repeat(t.columns.len()));
        if out.len() + head.len() + reserve > limit {
            omitted += t.rows.len();
            continue;
        }
        out.push_str(&head);
        for r in &t.rows {
            let line = format!(
                "| {} |\n",
                r.iter().map(md_cell).collect::<Vec<_>>().join(" | ")
            );
            if out.len() + line.len() + reserve > limit {
                omitted += 1;
                continue;
            }
            out.push_str(&line);
        }
        if out.len() + 1 + reserve <= limit {
            out.push('\n');
        }
    }
    if omitted > 0 {
        let _ = writeln!(
            out,
            "_{omitted} table rows left out to stay under {} KiB; all of them are in report.html and compare.json._\n",
            limit / 1024
        );
    }
    if !footer.is_empty() && out.len() + footer.len() <= limit {
        out.push_str(&footer);
    }
    // A last guard (a headline or footer alone past the limit): cut at a character boundary.
    if out.len() > limit {
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(rows: usize) -> Page {
        Page {
            title: "t".into(),
            headline: "REGRESSION <x>".into(),
            tone: Tone::Bad,
            notes: vec!["one".into()],
            tables: vec![Table {
                title: "metrics".into(),
                columns: vec!["a".into(), "b".into()],
                rows: (0..rows)
                    .map(|i| {
                        vec![
                            Cell::new(format!("row{i}|x")),
                            Cell::toned("worse", Tone::Bad),
                        ]
                    })
                    .collect(),
            }],
            charts: vec![Chart {
                title: "op".into(),
                series: vec![("baseline".into(), vec![(50.0, 10), (99.0, 20)])],
            }],
            plots: Vec::new(),
            footer: vec!["from here".into()],
        }
    }

    #[test]
    fn markdown_leads_with_the_headline_and_stays_under_the_limit() {
        let md = markdown(&page(3), 65536);
        assert!(md.starts_with("## t\n\n**❌ REGRESSION <x>**"), "{md}");
        assert!(md.contains("| row0\\|x | **worse** |"), "{md}");
        assert!(md.ends_with("- from here\n"));
        let mut many = page(5000);
        many.notes = (0..3000)
            .map(|i| format!("note {i}: ünïcödé padding to make it long enough to matter"))
            .collect();
        let md = markdown(&many, 65536);
        assert!(md.len() <= 65536, "{}", md.len());
        assert!(
            md.contains("more (in report.html"),
            "{}",
            &md[md.len() - 300..]
        );
        let mut huge = page(1);
        huge.headline = "é".repeat(70_000);
        assert!(markdown(&huge, 65536).len() <= 65536);
        let big = markdown(&page(5000), 65536);
        assert!(big.len() <= 65536, "{}", big.len());
        assert!(
            big.contains("table rows left out"),
            "{}",
            &big[big.len() - 300..]
        );
        assert!(big.ends_with("- from here\n"));
    }

    #[test]
    fn html_escapes_and_draws() {
        let h = html(&page(2));
        assert!(h.contains("REGRESSION &lt;x&gt;"));
        assert!(h.contains("<svg"));
        assert!(!h.contains("<x>"));
    }
}
