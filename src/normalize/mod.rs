//! Validation at the edge: every cell checked once, when it enters the catalog.
//!
//! Every name, wildcard, path, port and prefix is checked here, once, when
//! it enters the catalog.

pub mod cell;
pub mod url_cell;
