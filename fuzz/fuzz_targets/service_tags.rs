#![no_main]
//! See egressgen::conformance::targets::service_tags.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egressgen::conformance::targets::service_tags(data));
