#![no_main]
//! See egressgen::conformance::targets::url_cell.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egressgen::conformance::targets::url_cell(data));
