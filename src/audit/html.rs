//! The audit report as one self-contained HTML file: charts per product, a sortable table.
//!
//! No external request (a Content-Security-Policy forbids any), a coverage
//! chart per product drawn as inline SVG, and one table of findings that
//! sorts when a column heading is clicked (or on load, from
//! `#sort=COLUMN`).

use std::collections::BTreeMap;

use super::engine::{ConfigAudit, Coverage};
use super::report::{Report, line_issue, tls_issue};

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

/// The order and colour of each coverage in the charts.
const SERIES: [(Coverage, &str); 9] = [
    (Coverage::Exact, "#2e7d32"),
    (Coverage::Broader, "#9e9d24"),
    (Coverage::NotExpressible, "#78909c"),
    (Coverage::DirectRoute, "#90a4ae"),
    (Coverage::Partly, "#ef6c00"),
    (Coverage::RoutedWrong, "#ad1457"),
    (Coverage::Missing, "#c62828"),
    (Coverage::Undecidable, "#6a1b9a"),
    (Coverage::Unresolved, "#5d4037"),
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#212121}\
table{border-collapse:collapse;width:100%;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#eee;cursor:pointer}\
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
    out.push_str(&format!(
        "<h1>Audit against ruleset <code>{}</code></h1>\n",
        escape(&r.ruleset)
    ));
    out.push_str(&legend());
    for c in &r.configs {
        out.push_str(&config_section(c));
    }
    out.push_str(&findings_table(r));
    out.push_str(&format!("<script>{SCRIPT}</script>\n</body></html>\n"));
    out
}

fn legend() -> String {
    let items: String = SERIES
        .iter()
        .map(|(c, colour)| {
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

/// One configuration: its summary and a bar per product.
fn config_section(c: &ConfigAudit) -> String {
    let file = c.files.first().map(String::as_str).unwrap_or("");
    let s = &c.summary;
    let mut out = format!(
        "<section class=\"config\" data-kind=\"{}\">\n<h2><code>{}</code> ({})</h2>\n",
        escape(c.kind),
        escape(file),
        escape(c.kind)
    );
    out.push_str(&format!(
        "<p>{} entries: {} covered, {} more broadly, {} partly, {} missing, {} routed wrong, {} undecidable; {} TLS violations; {} over-broad lines.</p>\n",
        s.entries, s.covered, s.broader, s.partly, s.missing, s.routed_wrong, s.undecidable,
        s.tls_violations, s.over_broad_lines
    ));
    let products = by_product(c);
    let width = 600.0;
    let bar = 22;
    let height = products.len() * (bar + 8) + 8;
    out.push_str(&format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"coverage per product\" width=\"{}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\n",
        width as usize + 160
    ));
    for (row, (product, counts)) in products.iter().enumerate() {
        let total: usize = counts.values().sum();
        let y = 8 + row * (bar + 8);
        out.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>\n",
            y + 16,
            escape(product)
        ));
        let mut x = 150.0;
        for (coverage, colour) in SERIES {
            let n = counts.get(&coverage).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = width * n as f64 / total.max(1) as f64;
            out.push_str(&format!(
                "<rect class=\"bar\" data-product=\"{}\" data-coverage=\"{}\" data-count=\"{n}\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{colour}\"><title>{}: {n} {}</title></rect>\n",
                escape(product),
                escape(coverage.as_str()),
                escape(product),
                escape(coverage.as_str())
            ));
            x += w;
        }
    }
    out.push_str("</svg>\n</section>\n");
    out
}

/// How bad a finding is, for the default order (worst first).
fn severity(kind: &str) -> u8 {
    match kind {
        "TLS inspected" | "TLS storage wildcard exempted" => 0,
        "missing" | "routed wrong" => 1,
        "partly covered" => 2,
        "over-broad" => 3,
        "undecidable" | "TLS undecidable" => 4,
        _ => 5,
    }
}

/// Every finding of every configuration in one sortable table.
fn findings_table(r: &Report) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for c in &r.configs {
        let file = c.files.first().cloned().unwrap_or_default();
        for e in c.entries.iter().filter(|e| {
            !matches!(
                e.coverage,
                Coverage::Exact | Coverage::DirectRoute | Coverage::Broader
            )
        }) {
            rows.push([
                e.coverage.as_str().to_string(),
                file.clone(),
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
            ]);
        }
        for t in &c.tls {
            rows.push([
                format!("TLS {}", tls_issue(t.issue)),
                file.clone(),
                t.subject.clone(),
                t.by.as_ref().map(|o| o.to_string()).unwrap_or_default(),
                t.why.clone(),
            ]);
        }
        for l in &c.lines {
            rows.push([
                line_issue(l.issue).to_string(),
                file.clone(),
                l.text.clone(),
                l.at.to_string(),
                l.why.clone(),
            ]);
        }
    }
    rows.sort_by(|a, b| (severity(&a[0]), &a[2]).cmp(&(severity(&b[0]), &b[2])));
    let mut out = String::from(
        "<h2>Findings</h2>\n<table id=\"findings\"><thead><tr>\
         <th data-column=\"finding\">finding</th><th data-column=\"config\">configuration</th>\
         <th data-column=\"subject\">entry or line</th><th data-column=\"where\">where</th>\
         <th data-column=\"why\">why</th></tr></thead>\n<tbody>\n",
    );
    for row in &rows {
        out.push_str(&format!(
            "<tr><td data-key=\"{}{}\">{}</td>",
            severity(&row[0]),
            escape(&row[0]),
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
