#![no_main]
//! See egressgen::conformance::targets::workbook.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egressgen::conformance::targets::workbook(data));
