#![no_main]
//! See egressgen::conformance::targets::ruleset_toml.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egressgen::conformance::targets::ruleset_toml(data));
