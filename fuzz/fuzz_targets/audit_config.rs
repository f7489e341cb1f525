#![no_main]
//! See egressgen::conformance::targets::audit_config.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egressgen::conformance::targets::audit_config(data));
