//! Aggregates IP prefixes with the library function `generate` uses.
//!
//!     cargo run --release --example aggregate -- [FILE] < prefixes.txt
//!
//! Reads one prefix per line (`10.0.0.0/24`, `2001:db8::/32`; blank lines
//! and surrounding spaces ignored) from FILE or standard input, and prints
//! the aggregated IPv4 prefixes, then the IPv6 ones, one per line.
//! `scripts/bench aggregate` times it next to iprange and aggregate6.

use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

use egressgen::policy::prefixes::aggregate;
use ipnet::IpNet;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("aggregate: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args_os().skip(1);
    let file = args.next();
    if args.next().is_some() {
        return Err("usage: aggregate [FILE]".to_string());
    }
    let (name, text) = match file {
        Some(path) => {
            let name = path.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
            (name, text)
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("standard input: {e}"))?;
            ("standard input".to_string(), text)
        }
    };
    let nets = parse(&name, &text)?;
    let (v4, v6) = aggregate(&nets);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write_error = |e: std::io::Error| format!("standard output: {e}");
    for net in &v4 {
        writeln!(out, "{net}").map_err(write_error)?;
    }
    for net in &v6 {
        writeln!(out, "{net}").map_err(write_error)?;
    }
    out.flush().map_err(write_error)
}

/// One prefix per non-blank line; an error names the line.
fn parse(name: &str, text: &str) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let net: IpNet = line
            .parse()
            .map_err(|e| format!("{name}: line {}: {line:?}: {e}", i + 1))?;
        if net.network() != net.addr() {
            return Err(format!(
                "{name}: line {}: {line:?} has host bits set (the network is {})",
                i + 1,
                net.trunc()
            ));
        }
        nets.push(net);
    }
    Ok(nets)
}
