//! Aggregation of every prefix of Microsoft's public service-tag file
//! (about 93,000 IPv4 and IPv6 prefixes) through
//! `egressgen::policy::prefixes::aggregate`, the function `generate` uses.
//!
//! Reads `../shared/data/servicetags/ServiceTags_Public_20251013.json`
//! beside the project; without it the benchmark says so and measures
//! nothing. `scripts/bench aggregate` compares the same work with iprange
//! and aggregate6.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use egressgen::policy::prefixes::aggregate;
use ipnet::IpNet;

fn data_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/servicetags/ServiceTags_Public_20251013.json")
}

/// Every `values[].properties.addressPrefixes` entry of the file.
fn read_prefixes(path: &Path) -> Result<Vec<IpNet>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let values = json["values"]
        .as_array()
        .ok_or_else(|| format!("{}: no values array", path.display()))?;
    let mut nets = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let prefixes = value["properties"]["addressPrefixes"]
            .as_array()
            .ok_or_else(|| format!("{}: values[{i}] has no addressPrefixes", path.display()))?;
        for p in prefixes {
            let text = p.as_str().ok_or_else(|| {
                format!("{}: values[{i}]: a prefix is not a string", path.display())
            })?;
            let net = text
                .parse::<IpNet>()
                .map_err(|e| format!("{}: values[{i}]: {text:?}: {e}", path.display()))?;
            nets.push(net);
        }
    }
    Ok(nets)
}

fn service_tags(c: &mut Criterion) {
    let path = data_file();
    if !path.exists() {
        eprintln!(
            "benches/aggregate: {} is missing; nothing measured (put Microsoft's reference data in ../shared/data)",
            path.display()
        );
        return;
    }
    let nets = match read_prefixes(&path) {
        Ok(nets) => nets,
        Err(e) => {
            eprintln!("benches/aggregate: {e}");
            std::process::exit(1);
        }
    };
    let v4: Vec<IpNet> = nets
        .iter()
        .filter(|n| matches!(n, IpNet::V4(_)))
        .copied()
        .collect();
    let (out4, out6) = aggregate(&nets);
    eprintln!(
        "benches/aggregate: {} prefixes ({} IPv4) -> {} IPv4 + {} IPv6",
        nets.len(),
        v4.len(),
        out4.len(),
        out6.len()
    );
    let mut group = c.benchmark_group("aggregate");
    group.bench_function("service-tags-all", |b| {
        b.iter(|| aggregate(black_box(&nets)))
    });
    // The IPv4 part alone: what iprange is compared on.
    group.bench_function("service-tags-ipv4", |b| {
        b.iter(|| aggregate(black_box(&v4)))
    });
    group.finish();
}

criterion_group!(benches, service_tags);
criterion_main!(benches);
