//! `refresh`: live sources fetched, validated by `sources`, guarded and published.
//!
//! This module moves bytes; it never parses Microsoft's data itself. Only
//! it and `verify` open sockets.

pub mod fetch;
pub mod guard;
pub mod live;
pub mod run;
