//! The audit report as one self-contained HTML file: charts per product, a sortable table.
//!
//! No external request (a Content-Security-Policy forbids any). The page
//! opens with the verdict the exit status gives, then what the report was
//! made with (tool version, ruleset, the version of each source, the time
//! of the run), a coverage chart per product drawn as inline SVG with the
//! count on every segment, and one table of findings in the text report's
//! order, with the fix of each, that sorts when a column heading is
//! clicked (or on load, from `#sort=COLUMN`). Long names wrap, so the
//! table fits a 1280 px window.

use std::collections::BTreeMap;

use super::engine::{ConfigAudit, Coverage, EntryFinding};
use super::report::{Report, Sections, line_issue, security_issue, tls_issue};
use crate::model::SourceInfo;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                out.push_str(&format!("&#x{:x};", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The order and colour of each coverage in the charts, and the colour
/// of the number written on it (dark on the light ones).
const SERIES: [(Coverage, &str, &str); 9] = [
    (Coverage::Exact, "#2e7d32", "#fff"),
    (Coverage::Broader, "#9e9d24", "#000"),
    (Coverage::NotExpressible, "#78909c", "#000"),
    (Coverage::DirectRoute, "#90a4ae", "#000"),
    (Coverage::Partly, "#ef6c00", "#000"),
    (Coverage::RoutedWrong, "#ad1457", "#fff"),
    (Coverage::Missing, "#c62828", "#fff"),
    (Coverage::Undecidable, "#6a1b9a", "#fff"),
    (Coverage::Unresolved, "#5d4037", "#fff"),
];

/// Long names (a configuration path, a URL, a line's text) wrap anywhere
/// rather than widen the page, and the findings table takes the window's
/// width with fixed column shares, so the report fits a 1280 px window.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#212121;overflow-wrap:anywhere}\
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#eee;cursor:pointer}\
.verdict{font-size:18px;font-weight:600;padding:8px 12px;color:#fff}\
.verdict.pass{background:#1b5e20}.verdict.fail{background:#b71c1c}\
.run{color:#555;font-size:13px}\
svg.chart{max-width:100%;height:auto}\
.legend span{display:inline-block;margin-right:1em}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}\
code{font-size:12px}";

/// Sorts the findings table by a column; `#sort=NAME` sorts on load.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  var table = document.getElementById("findings");
  if (!table) { return; }
  var heads = table.tHead.rows[0].cells;
  function sortBy(index, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-key") || a.cells[index].textContent;
      var y = b.cells[index].getAttribute("data-key") || b.cells[index].textContent;
      var c = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.setAttribute("data-sorted", heads[index].getAttribute("data-column") + (descending ? " desc" : ""));
  }
  Array.prototype.forEach.call(heads, function (th, index) {
    th.addEventListener("click", function () {
      var current = table.getAttribute("data-sorted") || "";
      var column = th.getAttribute("data-column");
      sortBy(index, current === column);
    });
  });
  var wanted = /^#sort=([a-z]+)$/.exec(window.location.hash);
  if (wanted) {
    Array.prototype.forEach.call(heads, function (th, index) {
      if (th.getAttribute("data-column") === wanted[1]) { sortBy(index, false); }
    });
  }
})();
"#;

/// The whole report.
pub fn to_html(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    // Nothing may be fetched: inline style and script only, images from
    // data: URLs at most.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
    out.push_str(&format!(
        "<title>egressgen audit: {}</title>\n<style>{STYLE}</style>\n</head><body>\n",
        escape(&r.ruleset)
    ));
    out.push_str(&banner(r));
    out.push_str(&format!(
        "<h1>Audit against ruleset <code>{}</code></h1>\n",
        escape(&r.ruleset)
    ));
    out.push_str(&run_facts(r));
    out.push_str(&legend());
    for c in &r.configs {
        out.push_str(&config_section(c));
    }
    out.push_str(&findings_table(r));
    out.push_str(&format!("<script>{SCRIPT}</script>\n</body></html>\n"));
    out
}

/// The verdict the exit status gives, as the text report's first line.
fn banner(r: &Report) -> String {
    let Some(v) = &r.verdict else {
        return String::new();
    };
    format!(
        "<p id=\"verdict\" class=\"verdict {}\">{}</p>\n",
        if v.pass { "pass" } else { "fail" },
        escape(&v.line())
    )
}

/// What the report was made with and when: the tool, the ruleset, the
/// version of every source the policy came from, the time of the run.
fn run_facts(r: &Report) -> String {
    let mut out = format!(
        "<p class=\"run\">egressgen <span id=\"tool-version\">{}</span>, ruleset <code id=\"ruleset\">{}</code>",
        env!("CARGO_PKG_VERSION"),
        escape(&r.ruleset)
    );
    if let Some(when) = &r.run_at {
        out.push_str(&format!(
            ", run <time id=\"run-at\">{}</time>",
            escape(when)
        ));
    }
    out.push_str("</p>\n");
    if !r.sources.is_empty() {
        out.push_str("<ul class=\"run\" id=\"sources\">\n");
        for s in &r.sources {
            out.push_str(&format!("<li>{}</li>\n", escape(&source_text(s))));
        }
        out.push_str("</ul>\n");
    }
    out
}

/// A source as the header of every generated file names it
/// (`backends::header_lines`), so the two can be compared.
fn source_text(s: &SourceInfo) -> String {
    let mut t = format!("source: {} ({})", s.file, s.kind.as_str());
    if let Some(v) = &s.version {
        t.push_str(&format!(" version {v}"));
    }
    if let Some(h) = &s.sha256 {
        t.push_str(&format!(" sha256 {h}"));
    }
    t
}

fn legend() -> String {
    let items: String = SERIES
        .iter()
        .map(|(c, colour, _)| {
            format!(
                "<span><i style=\"background:{colour}\"></i>{}</span>",
                escape(c.as_str())
            )
        })
        .collect();
    format!("<p class=\"legend\">{items}</p>\n")
}

/// The chart row of entries that belong to no product.
pub const OWN: &str = "(ruleset)";

/// Entries per product and coverage.
fn by_product(c: &ConfigAudit) -> BTreeMap<String, BTreeMap<Coverage, usize>> {
    let mut out: BTreeMap<String, BTreeMap<Coverage, usize>> = BTreeMap::new();
    for e in &c.entries {
        // The ruleset's own [[allow]] entries belong to no product.
        let products = if e.products.is_empty() {
            vec![OWN.to_string()]
        } else {
            e.products.clone()
        };
        for p in products {
            *out.entry(p).or_default().entry(e.coverage).or_default() += 1;
        }
    }
    out
}

/// The width of a chart bar, its label column and its height.
const BAR_WIDTH: f64 = 600.0;
const LABELS: f64 = 150.0;
const BAR_HEIGHT: usize = 22;
/// The narrowest segment: room for its number.
const MIN_SEGMENT: f64 = 26.0;

/// One configuration: its summary and a bar per product.
fn config_section(c: &ConfigAudit) -> String {
    let s = &c.summary;
    let mut out = format!(
        "<section class=\"config\" data-kind=\"{}\">\n<h2><code>{}</code> ({})</h2>\n",
        escape(c.kind),
        escape(c.files.first().map(String::as_str).unwrap_or("")),
        escape(c.kind)
    );
    out.push_str(&format!(
        "<p>{} entries: {} covered, {} more broadly, {} partly, {} missing, {} routed wrong, {} undecidable; {} TLS violations; {} security findings; {} over-broad lines.</p>\n",
        s.entries, s.covered, s.broader, s.partly, s.missing, s.routed_wrong, s.undecidable,
        s.tls_violations, s.security_findings, s.over_broad_lines
    ));
    if let Some(d) = &c.default_route {
        out.push_str(&format!(
            "<p class=\"default-route\">Default route <code>{}</code>: {}</p>\n",
            escape(&d.at.to_string()),
            escape(&d.why)
        ));
    }
    let products = by_product(c);
    let height = products.len() * (BAR_HEIGHT + 8) + 8;
    let width = (BAR_WIDTH + LABELS + 10.0) as usize;
    out.push_str(&format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"coverage per product\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n"
    ));
    for (row, (product, counts)) in products.iter().enumerate() {
        out.push_str(&chart_row(8 + row * (BAR_HEIGHT + 8), product, counts));
    }
    out.push_str("</svg>\n</section>\n");
    out
}

/// A product's bar: a segment per coverage, its count written on it.
/// Each segment is at least wide enough for its number; the rest of
/// the bar is shared in proportion.
fn chart_row(y: usize, product: &str, counts: &BTreeMap<Coverage, usize>) -> String {
    let mut out = format!(
        "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>\n",
        y + 16,
        escape(product)
    );
    let total: usize = counts.values().sum();
    let shown = counts.values().filter(|n| **n > 0).count() as f64;
    let spare = (BAR_WIDTH - MIN_SEGMENT * shown).max(0.0);
    let mut x = LABELS;
    for (coverage, colour, ink) in SERIES {
        let n = counts.get(&coverage).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let w = MIN_SEGMENT + spare * n as f64 / total.max(1) as f64;
        out.push_str(&format!(
            "<rect class=\"bar\" data-product=\"{}\" data-coverage=\"{}\" data-count=\"{n}\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR_HEIGHT}\" fill=\"{colour}\"><title>{}: {n} {}</title></rect>\n",
            escape(product),
            escape(coverage.as_str()),
            escape(product),
            escape(coverage.as_str())
        ));
        out.push_str(&format!(
            "<text class=\"count\" x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{ink}\">{n}</text>\n",
            x + w / 2.0,
            y + 15
        ));
        x += w;
    }
    out
}

/// A row of the findings table: finding, configuration, entry or line,
/// where, why, fix.
type Row = [String; 6];

/// The findings of one configuration, in the text report's order, each
/// with the rank of its section there.
fn config_rows(c: &ConfigAudit) -> Vec<(u8, Row)> {
    let file = c.files.first().cloned().unwrap_or_default();
    let s = Sections::of(c);
    let mut rows: Vec<(u8, Row)> = Vec::new();
    for (rank, list) in [(0, &s.gaps), (1, &s.undecidable), (2, &s.unjudged)] {
        rows.extend(list.iter().map(|e| (rank, entry_row(e, &file))));
    }
    for t in s.tls.iter().flat_map(|g| &g.findings) {
        rows.push((
            3,
            [
                format!("TLS {}", tls_issue(t.issue)),
                file.clone(),
                t.subject.clone(),
                t.by.as_ref().map(|o| o.to_string()).unwrap_or_default(),
                t.why.clone(),
                t.fix.clone().unwrap_or_default(),
            ],
        ));
    }
    for f in &s.security {
        rows.push((
            4,
            [
                format!("security: {}", security_issue(f.issue)),
                file.clone(),
                f.text.clone(),
                f.at.to_string(),
                f.why.clone(),
                f.fix.clone(),
            ],
        ));
    }
    for (rank, l) in s
        .over_broad
        .iter()
        .map(|l| (5, l))
        .chain(s.other_lines.iter().map(|l| (6, l)))
    {
        rows.push((
            rank,
            [
                line_issue(l.issue).to_string(),
                file.clone(),
                l.text.clone(),
                l.at.to_string(),
                l.why.clone(),
                String::new(),
            ],
        ));
    }
    // Last, as in `--all`: the page is the whole record, and a reader
    // sorting by entry must find the ones a wider line admits.
    rows.extend(s.broader.iter().map(|e| (7, entry_row(e, &file))));
    rows
}

fn entry_row(e: &EntryFinding, file: &str) -> Row {
    [
        e.coverage.as_str().to_string(),
        file.to_string(),
        format!("{}{}", e.host, e.path.as_deref().unwrap_or("")),
        e.lines
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        format!(
            "{} (from {})",
            e.detail.join("; "),
            e.provenance
                .first()
                .map(|p| p.to_string())
                .unwrap_or_default()
        ),
        e.fix.clone().unwrap_or_default(),
    ]
}

/// Every finding of every configuration in one sortable table, in the
/// text report's order: gaps of every configuration first.
fn findings_table(r: &Report) -> String {
    let mut rows: Vec<(u8, Row)> = r.configs.iter().flat_map(config_rows).collect();
    // Stable: each configuration's own order within a rank.
    rows.sort_by_key(|(rank, _)| *rank);
    let mut out = String::from(
        "<h2>Findings</h2>\n<table id=\"findings\"><colgroup><col style=\"width:11%\"><col style=\"width:14%\"><col style=\"width:19%\"><col style=\"width:11%\"><col style=\"width:27%\"><col style=\"width:18%\"></colgroup><thead><tr>\
         <th data-column=\"finding\">finding</th><th data-column=\"config\">configuration</th>\
         <th data-column=\"subject\">entry or line</th><th data-column=\"where\">where</th>\
         <th data-column=\"why\">why</th><th data-column=\"fix\">fix</th></tr></thead>\n<tbody>\n",
    );
    for (i, (_, row)) in rows.iter().enumerate() {
        // Sorting on the first column restores the report's order.
        out.push_str(&format!(
            "<tr><td data-key=\"{i:06}\">{}</td>",
            escape(&row[0])
        ));
        for cell in &row[1..] {
            out.push_str(&format!("<td>{}</td>", escape(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::engine::{ConfigAudit, Summary};

    #[test]
    fn names_from_files_cannot_become_markup() {
        let hostile = "/tmp/<script>alert(1)</script>\"'.conf";
        let report = Report::new(
            "site<b>",
            vec![ConfigAudit {
                kind: "squid",
                files: vec![hostile.to_string()],
                inspects: false,
                client: "10.0.0.1".parse().unwrap(),
                summary: Summary::default(),
                entries: Vec::new(),
                tls: Vec::new(),
                security: Vec::new(),
                default_route: None,
                lines: Vec::new(),
            }],
        );
        let html = to_html(&report);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("site<b>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;.conf"));
        // Exactly one script element: ours.
        assert_eq!(html.matches("<script>").count(), 1);
    }
}
