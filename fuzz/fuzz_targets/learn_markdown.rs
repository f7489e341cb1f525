#![no_main]
//! See egressgen::conformance::targets::learn_markdown.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egressgen::conformance::targets::learn_markdown(data));
