//! Writes workbooks for the tests with rust_xlsxwriter, and damages them
//! on purpose with the zip crate.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Formula, Workbook, Worksheet};

/// One sheet: rows of cell texts (`""` leaves a cell empty), merged
/// ranges, and cells that hold formulas.
#[derive(Default)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
    /// `(first_row, first_col, last_row, last_col)`, zero-based; the
    /// anchor's text comes from `rows`.
    pub merges: Vec<(u32, u16, u32, u16)>,
    /// `(row, col, formula, cached result)`.
    pub formulas: Vec<(u32, u16, String, String)>,
    /// `(row, col, number)`: numeric cells such as a port typed as 443.
    pub numbers: Vec<(u32, u16, f64)>,
}

impl Sheet {
    pub fn new(name: &str) -> Self {
        Sheet {
            name: name.to_string(),
            ..Default::default()
        }
    }

    pub fn row(mut self, cells: &[&str]) -> Self {
        self.rows
            .push(cells.iter().map(|c| c.to_string()).collect());
        self
    }

    pub fn merge(mut self, r0: u32, c0: u16, r1: u32, c1: u16) -> Self {
        self.merges.push((r0, c0, r1, c1));
        self
    }

    pub fn formula(mut self, row: u32, col: u16, formula: &str, result: &str) -> Self {
        self.formulas
            .push((row, col, formula.to_string(), result.to_string()));
        self
    }

    pub fn number(mut self, row: u32, col: u16, value: f64) -> Self {
        self.numbers.push((row, col, value));
        self
    }

    fn write(&self, ws: &mut Worksheet) {
        ws.set_name(&self.name).expect("sheet name");
        let plain = Format::new();
        let merged: Vec<(u32, u16)> = self.merges.iter().map(|m| (m.0, m.1)).collect();
        for (r, row) in self.rows.iter().enumerate() {
            for (c, text) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                if text.is_empty() || merged.contains(&(r, c)) {
                    continue;
                }
                ws.write_string(r, c, text).expect("write");
            }
        }
        for &(r0, c0, r1, c1) in &self.merges {
            let text = self
                .rows
                .get(r0 as usize)
                .and_then(|row| row.get(c0 as usize))
                .cloned()
                .unwrap_or_default();
            ws.merge_range(r0, c0, r1, c1, &text, &plain)
                .expect("merge");
        }
        for (r, c, f, result) in &self.formulas {
            ws.write_formula(*r, *c, Formula::new(f).set_result(result))
                .expect("formula");
        }
        for &(r, c, v) in &self.numbers {
            ws.write_number(r, c, v).expect("number");
        }
    }
}

/// Builds a workbook in memory.
pub fn workbook(sheets: &[Sheet]) -> Vec<u8> {
    let mut wb = Workbook::new();
    for sheet in sheets {
        let ws = wb.add_worksheet();
        sheet.write(ws);
    }
    wb.save_to_buffer().expect("xlsx")
}

/// Writes bytes to `dir/name` and returns the path.
pub fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    path
}

/// Rewrites one member of a zip archive with `edit`.
pub fn edit_member(xlsx: &[u8], member: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    let mut input = zip::ZipArchive::new(Cursor::new(xlsx)).expect("zip");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..input.len() {
        let mut file = input.by_index(i).expect("entry");
        let name = file.name().expect("entry name").to_string();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).expect("read entry");
        if name == member {
            bytes = edit(String::from_utf8(bytes).expect("xml")).into_bytes();
        }
        out.start_file(name, opts).expect("start");
        out.write_all(&bytes).expect("write entry");
    }
    out.finish().expect("finish").into_inner()
}

/// A zip archive that is not a workbook.
pub fn plain_zip() -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    out.start_file("hello.txt", zip::write::SimpleFileOptions::default())
        .expect("start");
    out.write_all(b"not a spreadsheet").expect("write");
    out.finish().expect("finish").into_inner()
}
