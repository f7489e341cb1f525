//! Data rows into endpoints or rejections, with the facts a table gives all its rows.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::super::file::Collected;
use super::header::{Col, Header};
use super::{Cell, CellAt, CellProblem};
use crate::model::text::{collapse_ws, display_escape, non_blank};
use crate::model::{
    Endpoint, Geography, HostPattern, Inconsistency, Note, Os, OsFlag, Product, Provenance,
    Rejected, Requirement, TagRef, TlsHandling, Via,
};
use crate::normalize::cell::{parse_os_flag, parse_os_list, parse_ports, parse_requirement};
use crate::normalize::url_cell::{parse_entry, split_cell};

/// One catalog note per header cell no column rule recognises: its values
/// are not read, and the catalog says so instead of dropping them quietly.
pub fn note_unread_columns(ctx: &TableCtx, header: &Header, at: &CellAt, out: &mut Collected) {
    for (i, col) in header.cols.iter().enumerate() {
        let name = header.name(i);
        if col.is_none() && !name.is_empty() {
            out.notes.push(Note {
                provenance: ctx.provenance(at, name),
                message: format!(
                    "column {:?} is not one egressgen reads; its values are ignored",
                    display_escape(name)
                ),
            });
        }
    }
}

/// Facts about the table as a whole.
#[derive(Clone, Debug)]
pub struct TableCtx {
    pub file: String,
    /// Sheet name or Markdown section heading.
    pub sheet: String,
    /// A US Government table: WW rows apply to the Gov clouds.
    pub gov: bool,
    /// Admin portal URLs, needed by browsers rather than devices.
    pub portal: bool,
    /// The note printed above the table (a Learn page's `> [!NOTE]`),
    /// which can say something of every row.
    pub table_note: Option<String>,
}

impl TableCtx {
    /// Derives the Gov and portal flags from the sheet name and the
    /// document title (the file name only when there is no title).
    pub fn new(file: &str, sheet: &str, title: &str) -> Self {
        let both = format!("{sheet} {title}").to_ascii_lowercase();
        // A page that names itself decides; only an untitled workbook is
        // judged by its file name (which a download or a cache may choose).
        let gov = both.contains("gov")
            || (title.trim().is_empty() && file.to_ascii_lowercase().contains("gov"));
        let sheet_lower = sheet.to_ascii_lowercase();
        let portal = sheet_lower.contains("portal") || sheet_lower.contains("security center");
        TableCtx {
            file: file.to_string(),
            sheet: sheet.to_string(),
            gov,
            portal,
            table_note: None,
        }
    }

    fn provenance(&self, at: &CellAt, column: &str) -> Provenance {
        Provenance {
            file: self.file.clone(),
            sheet: Some(self.sheet.clone()),
            cell: at.cell.clone(),
            row: at.row,
            line: at.line,
            column: non_blank(column),
            json_path: None,
        }
    }
}

/// The columns of a row shared by every entry of its URL cell.
struct RowFacts {
    product: Product,
    service: Option<String>,
    clouds: std::collections::BTreeSet<crate::model::Cloud>,
    geography: Geography,
    os: BTreeMap<Os, OsFlag>,
    required: Requirement,
    category: Option<String>,
    description: Option<String>,
    comments: Option<String>,
    route: Via,
    notes: Vec<String>,
}

impl RowFacts {
    fn endpoint(
        &self,
        host: HostPattern,
        path: Option<String>,
        ports: std::collections::BTreeSet<u16>,
        provenance: Provenance,
    ) -> Endpoint {
        Endpoint {
            host,
            path,
            ports,
            product: self.product,
            service: self.service.clone(),
            clouds: self.clouds.clone(),
            geography: self.geography.clone(),
            os: self.os.clone(),
            required: self.required,
            category: self.category.clone(),
            description: self.description.clone(),
            comments: self.comments.clone(),
            tls: TlsHandling::Unspecified,
            route: self.route,
            notes: self.notes.clone(),
            provenance: vec![provenance],
        }
    }
}

/// A row labelled with one data location whose host name belongs to
/// another (Microsoft labels `automatedirstrprdaec0a…`, UAE Central, `AU`).
/// Worldwide and Gov rows reach every site of their cloud, so nothing is
/// lost there and nothing is reported.
fn inconsistency(e: &Endpoint) -> Option<Inconsistency> {
    if e.geography == Geography::worldwide() || e.geography.is_gov() {
        return None;
    }
    let implied = Geography::implied_by(&e.host)?;
    if e.geography.covers(&implied) {
        return None;
    }
    let (labelled, host) = (e.geography.as_str(), e.host.to_string());
    Some(Inconsistency {
        message: format!(
            "source inconsistency: {host} is labelled {labelled}, but its name is that of region {implied}; kept as published, so sites selecting {labelled} get it and sites selecting {implied} do not unless they allow it",
            implied = implied.as_str()
        ),
        host,
        labelled: e.geography.clone(),
        implied,
        clouds: e.clouds.clone(),
        provenance: e.provenance.first().cloned().unwrap_or_default(),
    })
}

/// Values a continuation row takes from the row above.
#[derive(Clone, Debug, Default)]
struct Carried {
    values: BTreeMap<usize, String>,
    label: String,
}

/// Reads the data rows under one header.
pub struct TableReader<'a> {
    ctx: &'a TableCtx,
    header: Header,
    carried: Option<Carried>,
}

/// Microsoft's ways of saying a destination must not go through the
/// proxy: "Direct Connection/Proxy bypass required" (standard pages,
/// Comments; the Gov streamlined page, a note above the table), "a direct
/// connection or a proxy bypass is required" (later streamlined Comments)
/// and "This service can't be used through a proxy" (streamlined,
/// Description).
static DIRECT_ROUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)proxy\s*bypass\s+(?:is\s+)?required|direct\s+connection\s+(?:is\s+)?required|can(?:'|’|no)t\s+be\s+used\s+through\s+a\s+proxy",
    )
    .expect("static regex")
});

impl<'a> TableReader<'a> {
    pub fn new(ctx: &'a TableCtx, header: Header) -> Self {
        TableReader {
            ctx,
            header,
            carried: None,
        }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether a row has nothing in this table's endpoint column (a banner,
    /// a blank row, or a row of some other table).
    pub fn endpoint_cell_blank(&self, row: &[Cell]) -> bool {
        let col = self
            .header
            .index(Col::Endpoint)
            .or_else(|| self.header.index(Col::TagName));
        col.and_then(|i| row.get(i))
            .is_none_or(|c| c.merged || c.is_blank())
    }

    /// Reads one data row. `notes` are remarks from the caller (a ragged
    /// Markdown row) that go on every endpoint of the row.
    pub fn read_row(&mut self, row: &[Cell], notes: &[String], out: &mut Collected) {
        if let Some(tag_col) = self.header.index(Col::TagName) {
            self.read_tag_row(row, tag_col, out);
            return;
        }
        let Some(url_col) = self.header.index(Col::Endpoint) else {
            return;
        };
        let url_cell = match row.get(url_col) {
            Some(c) if !c.merged && !c.is_blank() => c,
            // Banner, blank, or the tail of a merged URL cell.
            _ => return,
        };
        if self.reject_untrusted_cells(row, out) {
            return;
        }
        let mut notes = notes.to_vec();
        let values = self.carry_over(row, &mut notes);
        let get = |col: Col| {
            self.header
                .index(col)
                .and_then(|i| values.get(&i))
                .cloned()
                .unwrap_or_default()
        };
        let port_text = get(Col::Port);
        let ports = match parse_ports(&port_text) {
            Ok(p) => p,
            Err(why) => {
                let at = self.cell_at(row, Col::Port, url_cell);
                self.reject(out, &at, Col::Port, &port_text, "port", why);
                return;
            }
        };
        let facts = self.facts(&values, &get, &mut notes);
        let prov = self.ctx.provenance(&url_cell.at, self.header.name(url_col));
        for token in split_cell(&url_cell.text) {
            match parse_entry(token) {
                Ok(entry) => {
                    let mut ports = ports.clone();
                    ports.extend(entry.explicit_port);
                    let mut assumed = None;
                    if ports.is_empty() {
                        match entry.scheme_port {
                            Some(p) => ports.insert(p),
                            None => {
                                assumed = Some("no port given; 443 assumed".to_string());
                                ports.insert(443)
                            }
                        };
                    }
                    let mut e = facts.endpoint(entry.host, entry.path, ports, prov.clone());
                    e.notes.extend(assumed);
                    if let Some(found) = inconsistency(&e) {
                        e.notes.push(found.message.clone());
                        out.inconsistencies.push(found);
                    }
                    out.endpoints.push(e);
                }
                Err(err) => out.rejected.push(Rejected {
                    provenance: prov.clone(),
                    value: display_escape(token),
                    code: err.code().to_string(),
                    reason: err.to_string(),
                    tag: None,
                }),
            }
        }
    }

    /// What the row says about every entry of its URL cell.
    fn facts(
        &self,
        values: &BTreeMap<usize, String>,
        get: &dyn Fn(Col) -> String,
        notes: &mut Vec<String>,
    ) -> RowFacts {
        let service = non_blank(&get(Col::Service));
        let category = non_blank(&get(Col::Category));
        let comments = non_blank(&get(Col::Comments));
        let geography = match self.header.index(Col::Geography) {
            Some(_) => {
                let label = collapse_ws(&get(Col::Geography));
                let g = Geography::parse(&label);
                if label.contains('(') {
                    notes.push(format!(
                        "geography {:?} read as {}",
                        display_escape(&label),
                        g.as_str()
                    ));
                }
                g
            }
            // Sheets without a Geography column (the streamlined MMA sheet)
            // name the region in the Category: "... for Endpoint EU".
            None => match category.as_deref().and_then(Geography::from_category) {
                Some(g) => {
                    notes.push(format!("geography {} taken from the Category", g.as_str()));
                    g
                }
                None => Geography::worldwide(),
            },
        };
        let required = match parse_requirement(&get(Col::Required)) {
            Ok(r) => r,
            Err(_) => {
                notes.push(format!(
                    "unrecognized Required/Optional value {:?}",
                    display_escape(&get(Col::Required))
                ));
                Requirement::Unspecified
            }
        };
        let description = non_blank(&get(Col::Description));
        let route = self.route(comments.as_deref(), description.as_deref(), notes);
        RowFacts {
            product: self.product(service.as_deref(), category.as_deref()),
            clouds: geography.clouds(self.ctx.gov),
            geography,
            os: self.os_flags(values, notes),
            required,
            category,
            description,
            comments,
            service,
            route,
            notes: notes.clone(),
        }
    }

    /// Direct when the row's Comments or Description, or the note above
    /// its table, says the proxy must be bypassed.
    fn route(
        &self,
        comments: Option<&str>,
        description: Option<&str>,
        notes: &mut Vec<String>,
    ) -> Via {
        if comments.is_some_and(|c| DIRECT_ROUTE.is_match(c)) {
            return Via::Direct;
        }
        if description.is_some_and(|d| DIRECT_ROUTE.is_match(d)) {
            notes.push("direct route: the Description says no proxy".to_string());
            return Via::Direct;
        }
        if self
            .ctx
            .table_note
            .as_deref()
            .is_some_and(|n| DIRECT_ROUTE.is_match(n))
        {
            notes.push("direct route: the note above the table says no proxy".to_string());
            return Via::Direct;
        }
        Via::Proxy
    }

    fn os_flags(
        &self,
        values: &BTreeMap<usize, String>,
        notes: &mut Vec<String>,
    ) -> BTreeMap<Os, OsFlag> {
        let mut os = BTreeMap::new();
        for (i, family) in self.header.os_columns() {
            let text = values.get(&i).map(String::as_str).unwrap_or("");
            match parse_os_flag(text) {
                Ok(Some(flag)) => {
                    os.insert(family, flag);
                }
                Ok(None) => {}
                Err(_) => notes.push(format!(
                    "OS column {:?}: unrecognized value {:?} ignored",
                    self.header.name(i),
                    display_escape(text)
                )),
            }
        }
        if let Some(i) = self.header.index(Col::OsList) {
            let text = values.get(&i).map(String::as_str).unwrap_or("");
            match parse_os_list(text) {
                Ok(list) => os.extend(list),
                Err(why) => notes.push(format!("OS column: {why}")),
            }
        }
        os
    }

    fn product(&self, service: Option<&str>, category: Option<&str>) -> Product {
        if self.ctx.portal {
            return Product::Portal;
        }
        let text = format!("{} {}", service.unwrap_or(""), category.unwrap_or("")).to_lowercase();
        if text.contains("monitoring agent") || text.contains("(mma)") {
            Product::Mma
        } else if text.contains("smartscreen") || text.contains("web & network protection") {
            Product::SmartScreen
        } else if text.contains("antivirus") || text.contains("security intelligence") {
            Product::Mdav
        } else if text.contains("defender for identity") {
            Product::Mdi
        } else {
            Product::Mde
        }
    }

    /// The row's values by column index; a continuation row (its first
    /// column blank, not merged) takes Service, Geography, Category and
    /// Port from the row above.
    fn carry_over(&mut self, row: &[Cell], notes: &mut Vec<String>) -> BTreeMap<usize, String> {
        let mut values: BTreeMap<usize, String> = row
            .iter()
            .enumerate()
            .filter(|(i, _)| self.header.col(*i).is_some())
            .map(|(i, c)| (i, c.text.clone()))
            .collect();
        let key = self
            .header
            .index(Col::Service)
            .or_else(|| (0..self.header.width()).find(|&i| self.header.col(i).is_some()));
        let is_continuation = key
            .map(|k| values.get(&k).is_none_or(|v| v.trim().is_empty()))
            .unwrap_or(false);
        if let (true, Some(prev)) = (is_continuation, &self.carried) {
            let mut taken = Vec::new();
            for col in [Col::Service, Col::Geography, Col::Category, Col::Port] {
                let Some(i) = self.header.index(col) else {
                    continue;
                };
                let blank = values.get(&i).is_none_or(|v| v.trim().is_empty());
                if let (true, Some(v)) = (blank, prev.values.get(&i))
                    && !v.trim().is_empty()
                {
                    values.insert(i, v.clone());
                    taken.push(self.header.name(i).to_string());
                }
            }
            if !taken.is_empty() {
                notes.push(format!(
                    "continuation row: {} taken from {}",
                    taken.join(", "),
                    prev.label
                ));
            }
        }
        let label = row
            .iter()
            .find_map(|c| {
                c.at.row
                    .map(|r| format!("row {r}"))
                    .or(c.at.line.map(|l| format!("line {l}")))
            })
            .unwrap_or_default();
        self.carried = Some(Carried {
            values: values.clone(),
            label,
        });
        values
    }

    /// A formula or error value in any column we read rejects the row.
    fn reject_untrusted_cells(&self, row: &[Cell], out: &mut Collected) -> bool {
        for (i, cell) in row.iter().enumerate() {
            let (Some(col), Some(problem)) = (self.header.col(i), &cell.problem) else {
                continue;
            };
            let (code, value, why) = match problem {
                CellProblem::Formula(f) => (
                    "formula-cell",
                    f.clone(),
                    "formula cell: a cached formula result is not trusted; the row is skipped"
                        .to_string(),
                ),
                CellProblem::Error(e) => (
                    "error-cell",
                    e.clone(),
                    format!("spreadsheet error value {e}; the row is skipped"),
                ),
            };
            self.reject(out, &cell.at, col, &value, code, why);
            return true;
        }
        false
    }

    fn cell_at(&self, row: &[Cell], col: Col, fallback: &Cell) -> CellAt {
        self.header
            .index(col)
            .and_then(|i| row.get(i))
            .map(|c| c.at.clone())
            .filter(|at| *at != CellAt::default())
            .unwrap_or_else(|| fallback.at.clone())
    }

    fn reject(
        &self,
        out: &mut Collected,
        at: &CellAt,
        col: Col,
        value: &str,
        code: &str,
        reason: String,
    ) {
        let name = self
            .header
            .index(col)
            .map(|i| self.header.name(i))
            .unwrap_or("");
        out.rejected.push(Rejected {
            provenance: self.ctx.provenance(at, name),
            value: display_escape(value),
            code: code.to_string(),
            reason,
            tag: None,
        });
    }

    /// A row of the `IP addresses` sheet: `OneDsCollector (EDR Cyberdata)`.
    fn read_tag_row(&mut self, row: &[Cell], tag_col: usize, out: &mut Collected) {
        let Some(cell) = row.get(tag_col).filter(|c| !c.merged && !c.is_blank()) else {
            return;
        };
        if self.reject_untrusted_cells(row, out) {
            return;
        }
        let provenance = self.ctx.provenance(&cell.at, self.header.name(tag_col));
        let name = cell.text.split_whitespace().next().unwrap_or("");
        if !crate::model::valid_tag_name(name) {
            out.rejected.push(Rejected {
                provenance,
                value: display_escape(&cell.text),
                code: "tag-name".to_string(),
                reason: "not a service tag name (letters, digits and dots)".to_string(),
                tag: None,
            });
            return;
        }
        let description = self
            .header
            .index(Col::Comments)
            .and_then(|i| row.get(i))
            .and_then(|c| non_blank(&c.text));
        out.tag_refs.push(TagRef {
            tag: name.to_string(),
            description,
            provenance,
        });
    }
}
