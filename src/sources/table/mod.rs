//! Reading a table of endpoint rows, whatever file it came from.
//!
//! The workbook and Markdown readers turn their rows into [`Cell`]s; this
//! module finds header rows by their names (case- and
//! whitespace-insensitive) in [`header`], maps columns, and turns each
//! data row into endpoints or rejections in [`rows`]. Columns are never
//! found by position.

pub mod header;
pub mod rows;

/// Where a cell sits, for provenance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellAt {
    /// `E12` in a workbook.
    pub cell: Option<String>,
    pub row: Option<u32>,
    /// Line in a text file.
    pub line: Option<u32>,
}

/// Why a cell's value cannot be trusted as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CellProblem {
    /// A formula: its cached value may not be what the formula computes.
    Formula(String),
    /// A spreadsheet error value such as `#REF!`.
    Error(String),
}

/// One cell of a row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub problem: Option<CellProblem>,
    pub at: CellAt,
    /// The value was copied from the anchor of a merged region.
    pub merged: bool,
}

impl Cell {
    pub(super) fn is_blank(&self) -> bool {
        self.problem.is_none() && self.text.trim().is_empty()
    }
}
