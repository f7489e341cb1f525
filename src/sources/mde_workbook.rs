//! Defender for Endpoint URL workbooks (xlsx), in all three layouts.
//!
//! Defender for Endpoint URL workbooks (xlsx), in all three layouts:
//! classic `mde-urls.xlsx`, the standard commercial/Gov workbooks, and the
//! streamlined workbook with banner rows, repeated headers, multi-URL
//! cells and merged continuation cells.
//!
//! Cells are read sparsely (a stray cell at XFD1048576 costs nothing), and
//! a blank cell inside a merged region takes the value of the region's
//! anchor, which is how Excel shows it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek};
use std::path::Path;
use std::sync::LazyLock;

use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType, Reader, Xlsx};

use super::ReadOptions;
use super::file::{Collected, SourceFile, finish_source};
use super::table::header::{HeaderKind, detect_header, host_cell};
use super::table::rows::{TableCtx, TableReader, note_unread_columns};
use super::table::{Cell, CellAt, CellProblem};
use crate::error::{Error, Result};
use crate::model::text::{collapse_ws, display_escape};
use crate::model::{Catalog, Note, Provenance, SourceKind};

/// Refuse archives that would inflate past this: no real workbook is close.
const MAX_UNCOMPRESSED: u64 = 256 * 1024 * 1024;
const MAX_ZIP_ENTRIES: usize = 10_000;
/// Cells kept per sheet, merged-region copies included.
const MAX_CELLS: usize = 1_000_000;
/// Columns kept per row: the widest Microsoft table has 13.
const MAX_COLUMNS: u32 = 256;

type Grid = BTreeMap<u32, BTreeMap<u32, Cell>>;

/// Reads a workbook.
pub fn read(src: &SourceFile, opts: &ReadOptions) -> Result<Catalog> {
    vet_archive(&src.path, &src.bytes)?;
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(&src.bytes[..])).map_err(|e| Error::NotXlsx {
        path: src.path.clone(),
        detail: e.to_string(),
    })?;
    let mut out = Collected::default();
    let mut dates = Vec::new();
    let mut layout = Layout::default();
    let mut tables = 0;
    for sheet in wb.sheet_names() {
        let here = Provenance {
            file: src.name.clone(),
            sheet: Some(sheet.clone()),
            ..Default::default()
        };
        let lower = sheet.to_ascii_lowercase();
        if lower.contains("process") {
            out.notes.push(Note {
                provenance: here,
                message: "process list skipped".to_string(),
            });
            continue;
        }
        let grid = read_grid(&mut wb, &src.path, &sheet)?;
        if lower.contains("change log") || lower.contains("changelog") {
            dates.extend(change_log_dates(&grid));
            continue;
        }
        let ctx = SheetCtx {
            table: TableCtx::new(&src.name, &sheet, ""),
            path: &src.path,
            skip_unknown: opts.skip_unknown_tables,
        };
        tables += read_tables(&ctx, &grid, &mut out, &mut layout)?;
    }
    if tables == 0 {
        return Err(Error::NoTable {
            path: src.path.clone(),
            detail: "no sheet has a header row with an Endpoint/URL column".to_string(),
        });
    }
    let mut catalog = finish_source(src, SourceKind::MdeWorkbook, out);
    let info = &mut catalog.sources[0];
    info.version = dates.into_iter().max();
    info.layout = Some(layout.name().to_string());
    Ok(catalog)
}

/// Checks that the bytes are a zip holding a workbook, and not a bomb,
/// before calamine inflates anything.
fn vet_archive(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |detail: String| Error::NotXlsx {
        path: path.to_path_buf(),
        detail,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| fail(format!("not a readable zip archive ({e})")))?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(fail(format!("{} archive entries", zip.len())));
    }
    // The zip reader keeps one entry per name; the directory may list
    // more. Two members with one name (two xl/sharedStrings.xml) would be
    // read differently by different readers: refuse the file.
    if let Some(listed) = listed_entries(bytes)
        && listed != zip.len()
    {
        return Err(fail(format!(
            "the archive lists {listed} entries but has {} distinct names: two members share a name, and readers disagree on which one counts",
            zip.len()
        )));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| fail(format!("damaged zip entry {i} ({e})")))?;
        total = total.saturating_add(entry.size());
    }
    if total > MAX_UNCOMPRESSED {
        return Err(fail(format!(
            "archive inflates to {total} bytes, above {MAX_UNCOMPRESSED}"
        )));
    }
    for required in ["[Content_Types].xml", "xl/workbook.xml"] {
        if zip.index_for_name(required).is_none() {
            return Err(fail(format!(
                "a zip archive, but without {required}: not a spreadsheet"
            )));
        }
    }
    vet_references(&mut zip).map_err(fail)
}

/// Cell references in sheets and tables (`r="A1"`, `ref="A1:M101"`) are
/// at most three letters and seven digits in any real workbook. The
/// workbook reader computes longer ones with overflowing arithmetic (a
/// panic with overflow checks, a wrapped position without), so such a
/// file is refused here, naming the member and the reference.
fn vet_references<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> std::result::Result<(), String> {
    static ATTR: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r#"\s(?:r|ref|sqref)="([^"]*)""#).expect("constant regex")
    });
    static PART: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r"^\$?[A-Za-z]{0,3}\$?[0-9]{0,7}$").expect("constant regex")
    });
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("damaged zip entry {i} ({e})"))?;
        let name = entry.name().unwrap_or_default().to_string();
        // Every XML part of the workbook (`xl/`), whatever its folder's
        // case: calamine finds a sheet by its relationship target
        // regardless of case, so a sheet stored as `xl/worKsheets/…` is
        // read as one (a fuzzer found that such a sheet slipped past a scan
        // of `xl/worksheets/` alone and overflowed calamine's reference
        // parser). Parts outside `xl/` (customXml) use `ref` otherwise.
        let lower = name.to_ascii_lowercase();
        if !(lower.starts_with("xl/") && lower.ends_with(".xml")) {
            continue;
        }
        let mut xml = Vec::new();
        (&mut entry)
            .take(MAX_UNCOMPRESSED)
            .read_to_end(&mut xml)
            .map_err(|e| format!("{name}: cannot inflate ({e})"))?;
        for value in ATTR.captures_iter(&xml).filter_map(|c| c.get(1)) {
            let bad = value
                .as_bytes()
                .split(|b| *b == b' ' || *b == b':')
                .any(|part| !PART.is_match(part));
            if bad {
                return Err(format!(
                    "{name}: cell reference {:?} is not a spreadsheet position (at most XFD1048576)",
                    crate::model::text::display_escape(&String::from_utf8_lossy(
                        &value.as_bytes()[..value.len().min(40)]
                    ))
                ));
            }
        }
    }
    Ok(())
}

/// The entry count of the last end-of-central-directory record in the
/// file's last 64 KiB, unless it is a ZIP64 placeholder.
fn listed_entries(bytes: &[u8]) -> Option<usize> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    let start = bytes.len().saturating_sub(65_535 + 22);
    let at = bytes[start..].windows(4).rposition(|w| w == EOCD)? + start;
    let count = u16::from_le_bytes([*bytes.get(at + 10)?, *bytes.get(at + 11)?]);
    (count != u16::MAX).then_some(usize::from(count))
}

/// All non-empty cells of a sheet, with merged regions filled in.
fn read_grid<RS: Read + Seek>(wb: &mut Xlsx<RS>, path: &Path, sheet: &str) -> Result<Grid> {
    let sheet_err = |detail: String| Error::Sheet {
        path: path.to_path_buf(),
        sheet: sheet.to_string(),
        detail,
    };
    let mut grid = Grid::new();
    let mut count = 0usize;
    {
        let mut reader = wb
            .worksheet_cells_reader(sheet)
            .map_err(|e| sheet_err(e.to_string()))?;
        while let Some(record) = reader
            .next_cell_with_formula()
            .map_err(|e| sheet_err(e.to_string()))?
        {
            let (row, col) = record.pos;
            if col >= MAX_COLUMNS {
                continue;
            }
            let cell = to_cell(row, col, &record.value, record.formula);
            if cell.text.is_empty() && cell.problem.is_none() {
                continue;
            }
            count += 1;
            if count > MAX_CELLS {
                return Err(sheet_err(format!("more than {MAX_CELLS} cells")));
            }
            grid.entry(row).or_default().insert(col, cell);
        }
    }
    let merges = wb
        .merge_cells_by_sheet_name(sheet)
        .map_err(|e| sheet_err(e.to_string()))?;
    fill_merges(&mut grid, &merges, count).map_err(sheet_err)?;
    Ok(grid)
}

fn to_cell(row: u32, col: u32, value: &DataRef<'_>, formula: Option<String>) -> Cell {
    let mut problem = formula
        .filter(|f| !f.trim().is_empty())
        .map(CellProblem::Formula);
    let text = match value {
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => b.to_string().to_uppercase(),
        DataRef::DateTime(dt) => number_text(dt.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => {
            problem.get_or_insert(CellProblem::Error(e.to_string()));
            String::new()
        }
        DataRef::Empty => String::new(),
    };
    Cell {
        text,
        problem,
        at: CellAt {
            cell: Some(a1(row, col)),
            row: Some(row.saturating_add(1)),
            line: None,
        },
        merged: false,
    }
}

/// `443.0` from a number cell reads as `443`.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// `(0, 4)` -> `E1`.
pub fn a1(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(col) + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push((b'A' + rem as u8) as char);
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(u64::from(row) + 1).to_string()
}

/// Copies each merged region's anchor value into its blank cells, within
/// the rows and columns that hold data (a hostile A1:XFD1048576 merge
/// must not allocate billions of cells).
fn fill_merges(
    grid: &mut Grid,
    merges: &[calamine::Dimensions],
    mut count: usize,
) -> std::result::Result<(), String> {
    let Some(&last_row) = grid.keys().next_back() else {
        return Ok(());
    };
    for region in merges {
        let (r0, c0) = region.start;
        let Some(anchor) = grid.get(&r0).and_then(|r| r.get(&c0)).cloned() else {
            continue;
        };
        if anchor.text.trim().is_empty() {
            continue;
        }
        for r in r0..=region.end.0.min(last_row) {
            for c in c0..=region.end.1.min(MAX_COLUMNS - 1) {
                let row = grid.entry(r).or_default();
                if row.get(&c).is_some_and(|x| !x.text.trim().is_empty()) {
                    continue;
                }
                count += 1;
                if count > MAX_CELLS {
                    return Err(format!("merged regions expand past {MAX_CELLS} cells"));
                }
                let mut copy = anchor.clone();
                copy.merged = true;
                copy.at.row = Some(r.saturating_add(1));
                row.insert(c, copy);
            }
        }
    }
    Ok(())
}

/// Which layout a workbook is, from the headers it has.
#[derive(Default)]
struct Layout {
    streamlined: bool,
    standard: bool,
}

impl Layout {
    fn name(&self) -> &'static str {
        if self.streamlined {
            "streamlined"
        } else if self.standard {
            "standard"
        } else {
            "classic"
        }
    }
}

/// Reads every table of a sheet; returns how many header rows with an
/// endpoint column it found. Rows outside any endpoint table that hold
/// host names fail the read (or, with `skip_unknown_tables`, leave a
/// note): a table whose header no rule recognises must not vanish.
fn read_tables(
    sheet: &SheetCtx,
    grid: &Grid,
    out: &mut Collected,
    layout: &mut Layout,
) -> Result<usize> {
    let ctx = &sheet.table;
    let mut reader: Option<TableReader> = None;
    // An unknown table was reported since the last header: its other rows
    // are its own, one report is enough.
    let mut reported = false;
    // The first filled row since the last header: the unknown table's
    // header, if one turns up.
    let mut orphan: Option<Vec<Cell>> = None;
    let mut found = 0;
    for cells in grid.values() {
        let row = dense(cells);
        match detect_header(&row) {
            Some(HeaderKind::Endpoints(header)) => {
                found += 1;
                let names: Vec<String> = (0..header.width())
                    .map(|i| header.name(i).to_ascii_lowercase())
                    .collect();
                layout.streamlined |= names.iter().any(|n| n == "type" || n == "os");
                layout.standard |= names.iter().any(|n| n.starts_with("required"));
                let at = row
                    .iter()
                    .find(|c| !c.text.trim().is_empty())
                    .map(|c| c.at.clone());
                note_unread_columns(ctx, &header, &at.unwrap_or_default(), out);
                reader = Some(TableReader::new(ctx, header));
                (reported, orphan) = (false, None);
            }
            Some(HeaderKind::Foreign) => {
                (reader, reported, orphan) = (None, false, Some(row.clone()));
            }
            None => match reader.as_mut() {
                // Hosts outside the URL column of the table being read: a
                // new table below it whose header was not recognised.
                Some(r) if r.endpoint_cell_blank(&row) && host_cell(&row).is_some() => {
                    if let Some(cell) = host_cell(&row) {
                        sheet.unknown_table(&[], cell, out)?;
                    }
                    (reader, reported) = (None, true);
                }
                Some(r) => r.read_row(&row, &[], out),
                None if reported => {}
                None => {
                    if orphan.is_none() && row.iter().any(|c| !c.text.trim().is_empty()) {
                        orphan = Some(row.clone());
                    }
                    if let Some(cell) = host_cell(&row) {
                        sheet.unknown_table(orphan.as_deref().unwrap_or(&[]), cell, out)?;
                        reported = true;
                    }
                }
            },
        }
    }
    Ok(found)
}

/// A sheet being read, and what to do with a table nobody recognises.
struct SheetCtx<'a> {
    table: TableCtx,
    path: &'a Path,
    skip_unknown: bool,
}

impl SheetCtx<'_> {
    fn unknown_table(&self, header: &[Cell], cell: &Cell, out: &mut Collected) -> Result<()> {
        let header = display_escape(
            &header
                .iter()
                .map(|c| collapse_ws(&c.text))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" | "),
        );
        let example = display_escape(&cell.text);
        let cell_ref = cell.at.cell.clone().unwrap_or_default();
        if !self.skip_unknown {
            return Err(Error::UnknownTable {
                path: self.path.to_path_buf(),
                place: format!(
                    "sheet {:?}, cell {cell_ref}",
                    display_escape(&self.table.sheet)
                ),
                header,
                example,
            });
        }
        out.notes.push(Note {
            provenance: Provenance {
                file: self.table.file.clone(),
                sheet: Some(self.table.sheet.clone()),
                cell: cell.at.cell.clone(),
                row: cell.at.row,
                ..Default::default()
            },
            message: format!(
                "table skipped: its header ({header}) is not recognised, yet it holds host names (first: {example})"
            ),
        });
        Ok(())
    }
}

/// A row as a vector indexed by column.
fn dense(cells: &BTreeMap<u32, Cell>) -> Vec<Cell> {
    let width = cells.keys().next_back().map_or(0, |&c| c as usize + 1);
    let mut row = vec![Cell::default(); width];
    for (&c, cell) in cells {
        row[c as usize] = cell.clone();
    }
    row
}

/// Dates of a change-log sheet, as `YYYY-MM-DD`: Excel serial numbers
/// (date-formatted or not) in the first column under a `Date` header.
fn change_log_dates(grid: &Grid) -> Vec<String> {
    let mut date_col = None;
    let mut dates = Vec::new();
    for cells in grid.values() {
        if date_col.is_none() {
            date_col = cells
                .iter()
                .find(|(_, c)| c.text.trim().eq_ignore_ascii_case("date"))
                .map(|(&i, _)| i);
            continue;
        }
        let Some(cell) = date_col.and_then(|i| cells.get(&i)) else {
            continue;
        };
        if cell.problem.is_none() {
            dates.extend(parse_date(&cell.text));
        }
    }
    dates
}

/// An Excel serial (`45418`) or an ISO date (`2024-05-07`).
fn parse_date(text: &str) -> Option<String> {
    let text = text.trim();
    if let Ok(serial) = text.parse::<f64>() {
        // 1 = 1900-01-01; anything before 2000 or after 2200 is not a
        // change-log date.
        if !(36526.0..=110_000.0).contains(&serial) {
            return None;
        }
        let (y, m, d, ..) =
            ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false).to_ymd_hms_milli();
        return Some(format!("{y:04}-{m:02}-{d:02}"));
    }
    let iso = text.get(..10)?;
    let ok = iso.len() == 10
        && iso.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    ok.then(|| iso.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_references() {
        assert_eq!(a1(0, 0), "A1");
        assert_eq!(a1(11, 4), "E12");
        assert_eq!(a1(0, 25), "Z1");
        assert_eq!(a1(0, 26), "AA1");
        assert_eq!(a1(1_048_575, 16_383), "XFD1048576");
    }

    #[test]
    fn change_log_dates_from_serials() {
        assert_eq!(parse_date("45418").as_deref(), Some("2024-05-06"));
        assert_eq!(parse_date("44245").as_deref(), Some("2021-02-18"));
        assert_eq!(
            parse_date("2024-05-07T00:00:00").as_deref(),
            Some("2024-05-07")
        );
        assert_eq!(parse_date("File Created"), None);
        assert_eq!(parse_date("3"), None);
    }
}
