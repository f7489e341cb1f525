//! Learn-page Markdown tables: the connectivity URL pages that replaced the workbooks.
//!
//! The standard connectivity URL pages, which replaced the downloadable
//! commercial and Gov workbooks and keep their columns.
//!
//! The published pages are not tidy: Gov rows miss cells or have them
//! shifted, stray TAB characters sit inside cells (sometimes where a `|`
//! belongs), and a quoted cell can run over two lines. Rows are realigned
//! and every endpoint of a realigned row carries a note saying so.

use super::ReadOptions;
use super::file::{Collected, SourceFile, finish_source};
use super::table::header::{Col, Header, HeaderKind, detect_header, host_cell};
use super::table::rows::{TableCtx, TableReader, note_unread_columns};
use super::table::{Cell, CellAt};
use crate::error::{Error, Result};
use crate::model::text::{display_escape, non_blank};
use crate::model::{Catalog, Note, Provenance, SourceKind};
use crate::normalize::cell::parse_os_flag;

pub fn read(src: &SourceFile, opts: &ReadOptions) -> Result<Catalog> {
    let text = src.text()?;
    let lines: Vec<&str> = text.lines().collect();
    let (title, version) = front_matter(&lines);
    let mut page = Page::new(src, opts, title);
    let mut section = String::new();
    // Text of the `> [!NOTE]` blocks since the last heading or table: it
    // can say something of every row of the next table.
    let mut note = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(heading) = heading(line) {
            section = heading;
            note.clear();
        } else if let Some(quoted) = line.strip_prefix('>') {
            note.push_str(quoted.trim());
            note.push(' ');
        }
        let starts_table =
            line.starts_with('|') && lines.get(i + 1).is_some_and(|l| is_separator(l));
        if !starts_table {
            i += 1;
            continue;
        }
        let header_cells = to_cells(split_row(line), i);
        let (rows, next) = gather_rows(&lines, i + 2);
        page.table(&section, &note, header_cells, rows)?;
        note.clear();
        i = next;
    }
    page.finish(version)
}

/// One page being read: what it has collected so far.
struct Page<'a> {
    src: &'a SourceFile,
    opts: &'a ReadOptions,
    title: String,
    out: Collected,
    tables: usize,
    /// Streamlined connectivity: said by the page title (or, untitled, its
    /// file name), or by a `Type` / `OS` column (the standard tables have
    /// neither).
    streamlined: bool,
}

impl<'a> Page<'a> {
    fn new(src: &'a SourceFile, opts: &'a ReadOptions, title: String) -> Self {
        // The page's own title decides; the file name only for a page
        // without one (a body fetched by refresh is named by what was
        // asked for, not by what came back).
        let named = if title.trim().is_empty() {
            &src.name
        } else {
            &title
        };
        let streamlined = named.to_ascii_lowercase().contains("streamlined");
        Page {
            src,
            opts,
            title,
            out: Collected::default(),
            tables: 0,
            streamlined,
        }
    }

    /// Reads one Markdown table, or skips it when it is not an endpoint
    /// table, or fails when it holds host names under a header no rule
    /// recognises.
    fn table(
        &mut self,
        section: &str,
        note: &str,
        header_cells: Vec<Cell>,
        rows: Vec<(usize, String)>,
    ) -> Result<()> {
        let header = match detect_header(&header_cells) {
            Some(HeaderKind::Endpoints(header)) => header,
            // A change log or a process list holds prose and file names;
            // one whose cells are host names is an endpoint table under a
            // header we took for another kind (`|Service|Address|Path|`).
            Some(HeaderKind::Foreign) => return self.unknown_table(section, &header_cells, &rows),
            None => return self.unknown_table(section, &header_cells, &rows),
        };
        self.tables += 1;
        self.streamlined |= header
            .index(Col::Required)
            .is_some_and(|i| header.name(i).eq_ignore_ascii_case("type"))
            || header.index(Col::OsList).is_some();
        let sheet = if section.is_empty() { "table" } else { section };
        let mut ctx = TableCtx::new(&self.src.name, sheet, &self.title);
        ctx.table_note = non_blank(note);
        let at = header_cells
            .first()
            .map(|c| c.at.clone())
            .unwrap_or_default();
        note_unread_columns(&ctx, &header, &at, &mut self.out);
        let mut reader = TableReader::new(&ctx, header);
        for (line_index, row_text) in rows {
            let (cells, notes) = realign(split_row(&row_text), reader.header());
            reader.read_row(&to_cells(cells, line_index), &notes, &mut self.out);
        }
        Ok(())
    }

    /// A table no header rule recognises: an error when any of its cells
    /// holds host names (or a note, with `skip_unknown_tables`); nothing
    /// when it is prose.
    fn unknown_table(
        &mut self,
        section: &str,
        header_cells: &[Cell],
        rows: &[(usize, String)],
    ) -> Result<()> {
        let body: Vec<Vec<Cell>> = rows
            .iter()
            .map(|(line, text)| to_cells(split_row(text), *line))
            .collect();
        let Some(found) = std::iter::once(header_cells)
            .chain(body.iter().map(Vec::as_slice))
            .find_map(host_cell)
        else {
            return Ok(());
        };
        let line = header_cells
            .first()
            .and_then(|c| c.at.line)
            .unwrap_or_default();
        let header = display_escape(
            &header_cells
                .iter()
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
        );
        let example = display_escape(&found.text);
        if !self.opts.skip_unknown_tables {
            return Err(Error::UnknownTable {
                path: self.src.path.clone(),
                place: format!("line {line}"),
                header,
                example,
            });
        }
        self.out.notes.push(Note {
            provenance: Provenance {
                file: self.src.name.clone(),
                sheet: non_blank(section),
                line: Some(line),
                ..Default::default()
            },
            message: format!(
                "table skipped: its header ({header}) is not recognised, yet it holds host names (first: {example})"
            ),
        });
        Ok(())
    }

    fn finish(self, version: Option<String>) -> Result<Catalog> {
        if self.tables == 0 {
            return Err(Error::NoTable {
                path: self.src.path.clone(),
                detail: "no Markdown table has an Endpoint/URL column".to_string(),
            });
        }
        let mut catalog = finish_source(self.src, SourceKind::LearnTable, self.out);
        catalog.sources[0].version = version;
        let layout = if self.streamlined {
            "streamlined"
        } else {
            "standard"
        };
        catalog.sources[0].layout = Some(layout.to_string());
        Ok(catalog)
    }
}

/// The page title and `ms.date` (as `YYYY-MM-DD`) from the front matter.
fn front_matter(lines: &[&str]) -> (String, Option<String>) {
    let mut title = String::new();
    let mut date = None;
    if lines.first().map(|l| l.trim()) != Some("---") {
        return (title, date);
    }
    for line in lines.iter().skip(1) {
        let line = line.trim();
        if line == "---" {
            break;
        }
        if let Some(t) = line.strip_prefix("title:") {
            title = t.trim().to_string();
        } else if let Some(d) = line.strip_prefix("ms.date:") {
            date = us_date(d.trim());
        }
    }
    (title, date)
}

/// `10/16/2025` -> `2025-10-16`.
fn us_date(text: &str) -> Option<String> {
    let mut parts = text.split('/').map(|p| p.trim().parse::<u32>());
    let (Some(Ok(m)), Some(Ok(d)), Some(Ok(y)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    ((1..=12).contains(&m) && (1..=31).contains(&d) && (2000..=2200).contains(&y))
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

fn heading(line: &str) -> Option<String> {
    let rest = line.strip_prefix('#')?;
    Some(rest.trim_start_matches('#').trim().to_string())
}

fn is_separator(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('|')
        && line.contains('-')
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// The table's rows, each with its first line (zero-based) and its text.
/// A row whose quotes are unbalanced continues on the next line.
fn gather_rows(lines: &[&str], start: usize) -> (Vec<(usize, String)>, usize) {
    let mut rows = Vec::new();
    let mut i = start;
    while i < lines.len() && lines[i].trim_start().starts_with('|') {
        let first = i;
        let mut text = lines[i].to_string();
        i += 1;
        while text.matches('"').count() % 2 == 1
            && i < lines.len()
            && !lines[i].trim_start().starts_with('|')
        {
            text.push('\n');
            text.push_str(lines[i]);
            i += 1;
        }
        rows.push((first, text));
    }
    (rows, i)
}

/// Splits a row on unescaped `|`, dropping the outer pipes.
fn split_row(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                current.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    // Text after the last pipe is a cell only when the row does not end
    // with a pipe (the source's last rows sometimes omit it).
    if !current.trim().is_empty() {
        cells.push(current);
    }
    cells.into_iter().map(|c| clean_cell(&c)).collect()
}

/// Markdown and page artifacts out of a cell: outer quotes, `<br>`,
/// backslash escapes, code spans. Inner TABs stay for [`realign`].
fn clean_cell(cell: &str) -> String {
    let mut text = cell
        .trim_matches(|c: char| c == ' ' || c == '\t')
        .to_string();
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        text = text[1..text.len() - 1].to_string();
    }
    for br in ["<br>", "<br/>", "<br />", "<BR>"] {
        text = text.replace(br, "\n");
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|n| n.is_ascii_punctuation()) => {
                out.extend(chars.next());
            }
            '`' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Fits a ragged row to the header: splits cells at stray TABs, takes the
/// leading columns (up to Required/Optional) by position, then gives the
/// remaining `Yes`/`No`/blank cells to the OS columns from left to right
/// and any other text to Comments.
fn realign(mut cells: Vec<String>, header: &Header) -> (Vec<String>, Vec<String>) {
    let width = header.width();
    while cells.len() > width && cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    if cells.len() == width {
        return (trim_all(cells), Vec::new());
    }
    let found = cells.len();
    let mut fixes = Vec::new();
    if cells.len() < width {
        let split: Vec<String> = cells.iter().flat_map(|c| split_inner_tabs(c)).collect();
        if split.len() != cells.len() {
            fixes.push("a TAB inside a cell read as a column break".to_string());
        }
        cells = split;
    }
    let mut cells = trim_all(cells);
    let first_os = (0..width)
        .find(|&i| matches!(header.col(i), Some(Col::Os(_))))
        .unwrap_or(width);
    let os_cols: Vec<usize> = (first_os..width)
        .filter(|&i| matches!(header.col(i), Some(Col::Os(_))))
        .collect();
    let dropped = drop_surplus_blanks(&mut cells, width, first_os..first_os + os_cols.len() + 1);
    if dropped > 0 {
        fixes.push(format!("{dropped} surplus blank OS cell(s) dropped"));
    }
    let note = |fixes: Vec<String>| {
        vec![format!(
            "ragged row: {found} cells for {width} columns; {}",
            fixes.join("; ")
        )]
    };
    if cells.len() == width {
        return (cells, note(fixes));
    }
    let (out, dropped_text) = fill_by_content(cells, header, first_os, &os_cols);
    fixes.push(
        "OS flags assigned left to right and may be misplaced, other text taken as Comments"
            .to_string(),
    );
    if dropped_text {
        fixes.push("text beyond the columns dropped".to_string());
    }
    (out, note(fixes))
}

/// Leading columns by position; after them `Yes`/`No`/blank cells go to
/// the OS columns in order and other text to Comments. Returns the row
/// and whether text had nowhere to go.
fn fill_by_content(
    cells: Vec<String>,
    header: &Header,
    first_os: usize,
    os_cols: &[usize],
) -> (Vec<String>, bool) {
    let mut out = vec![String::new(); header.width()];
    let mut extra = Vec::new();
    let mut os_iter = os_cols.iter();
    for (i, cell) in cells.into_iter().enumerate() {
        if i < first_os {
            out[i] = cell;
            continue;
        }
        let next_os = if parse_os_flag(&cell).is_ok() {
            os_iter.next()
        } else {
            None
        };
        match next_os {
            Some(&col) => out[col] = cell,
            None if cell.is_empty() => {}
            None => extra.push(cell),
        }
    }
    match header.index(Col::Comments) {
        Some(c) => {
            out[c] = extra.join(" ");
            (out, false)
        }
        None => (out, !extra.is_empty()),
    }
}

/// A row with more cells than the header: blank cells among the OS
/// columns are the surplus (`|Yes||||Yes|Yes|` for five OS columns).
/// Removes them from the right; returns how many.
fn drop_surplus_blanks(
    cells: &mut Vec<String>,
    width: usize,
    region: std::ops::Range<usize>,
) -> usize {
    let mut dropped = 0;
    let mut i = region.end.min(cells.len());
    while cells.len() > width && i > region.start {
        i -= 1;
        if cells[i].is_empty() {
            cells.remove(i);
            dropped += 1;
        }
    }
    dropped
}

/// `"Storage\tRequired"` -> two cells; leading or trailing TABs are only
/// whitespace.
fn split_inner_tabs(cell: &str) -> Vec<String> {
    let trimmed = cell.trim_matches(|c: char| c == ' ' || c == '\t');
    if !trimmed.contains('\t') {
        return vec![cell.to_string()];
    }
    trimmed
        .split('\t')
        .filter(|p| !p.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn trim_all(cells: Vec<String>) -> Vec<String> {
    cells
        .into_iter()
        .map(|c| c.trim_matches(|c: char| c == ' ' || c == '\t').to_string())
        .collect()
}

fn to_cells(texts: Vec<String>, line_index: usize) -> Vec<Cell> {
    let line = u32::try_from(line_index + 1).unwrap_or(u32::MAX);
    texts
        .into_iter()
        .map(|text| Cell {
            text,
            problem: None,
            at: CellAt {
                cell: None,
                row: None,
                line: Some(line),
            },
            merged: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split_on_unescaped_pipes() {
        assert_eq!(split_row("|a|b\\|c| `d` |"), vec!["a", "b|c", "d"]);
        assert_eq!(split_row("|a|\\*.x.com|last"), vec!["a", "*.x.com", "last"]);
        assert_eq!(split_row("|\"q\nr\"|x|"), vec!["q\nr", "x"]);
        assert_eq!(split_row("|a<br>b|"), vec!["a\nb"]);
    }

    #[test]
    fn quoted_cells_continue_on_the_next_line() {
        let lines = ["|a|\"one", "two\"|", "|b|c|", "after"];
        let (rows, next) = gather_rows(&lines, 0);
        assert_eq!(
            rows,
            vec![
                (0, "|a|\"one\ntwo\"|".to_string()),
                (2, "|b|c|".to_string())
            ]
        );
        assert_eq!(next, 3);
    }

    #[test]
    fn dates_and_separators() {
        assert_eq!(us_date("10/16/2025").as_deref(), Some("2025-10-16"));
        assert_eq!(us_date("16/10/2025"), None);
        assert!(is_separator("|-|-|"));
        assert!(is_separator("|---|:---:|"));
        assert!(!is_separator("|a|-|"));
    }
}
