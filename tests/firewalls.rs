//! pfSense, nftables and Azure Firewall outputs, checked by xmllint and a
//! RELAX NG schema of ours, by `nft -c`, and by the Azure Resource Manager
//! schema (read from ../shared/data/azure-schemas) plus a strict key check.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::azure::{arm_validator, check_arm, collections, fqdns, strict_keys};
use common::data;
use common::tools::require;
use egressgen::backends::Outcome;
use egressgen::backends::pfsense::{MAX_ALIAS_ENTRIES, valid_alias_name};
use egressgen::generate;
use egressgen::model::HostPattern;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;
use serde_json::Value;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Generates a ruleset into `dir/out-<name>`; returns the policy, the
/// output directory and the loss report.
fn run(ruleset: &Path) -> (Policy, PathBuf, Value) {
    let r = Ruleset::load(ruleset).unwrap_or_else(|e| panic!("{e}"));
    let out = ruleset.with_extension("out");
    let backends = generate::select_backends(&r, None).unwrap();
    let done = generate::generate(&r, &backends, &out).unwrap_or_else(|e| panic!("{e}"));
    let loss =
        serde_json::from_slice(&std::fs::read(out.join("loss-report.json")).unwrap()).unwrap();
    (done.policy, out, loss)
}

/// The example rulesets (copied into `dir`) that configure every one of
/// `outputs`.
fn examples_with(dir: &Path, outputs: &[&str]) -> Vec<PathBuf> {
    common::examples(dir)
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            outputs
                .iter()
                .all(|o| text.contains(&format!("[outputs.{o}]")))
        })
        .collect()
}

fn backend<'a>(loss: &'a Value, name: &str) -> &'a Vec<Value> {
    loss["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == name)
        .unwrap_or_else(|| panic!("no {name} loss report"))["entries"]
        .as_array()
        .unwrap()
}

/// Every wildcard of the policy is reported as replaced, narrowed or
/// dropped by an address-or-name-only format.
fn assert_wildcards_reported(policy: &Policy, loss: &Value, name: &str) {
    for e in &policy.entries {
        if matches!(e.host, HostPattern::Exact(_)) {
            continue;
        }
        let label = format!("{}{}", e.host, e.path.as_deref().unwrap_or(""));
        let entry = backend(loss, name)
            .iter()
            .find(|l| l["entry"] == label.as_str())
            .unwrap_or_else(|| panic!("{name}: {label} missing from the loss report"));
        let outcome = entry["outcome"].as_str().unwrap();
        assert!(
            ["replaced", "narrowed", "dropped"].contains(&outcome),
            "{name}: {label} is {outcome}"
        );
        assert!(!entry["why"].as_str().unwrap_or("").is_empty());
    }
}

fn xmllint(args: &[&str], file: &Path) {
    let xmllint = require("xmllint", "libxml2-utils");
    let out = Command::new(xmllint).args(args).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `unshare -rn nft -c -f` on the main file and every part; returns how
/// many files were checked.
fn nft_check(main: &Path) -> usize {
    let nft = require("nft", "nftables");
    let unshare = require("unshare", "util-linux");
    let dir = main.parent().unwrap();
    let stem = main.file_stem().unwrap().to_string_lossy().into_owned();
    let mut files = vec![main.to_path_buf()];
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{stem}-elements-"))
        })
        .collect();
    parts.sort();
    files.extend(parts);
    for file in &files {
        let out = Command::new(&unshare)
            .args(["-rn"])
            .arg(&nft)
            .args(["-c", "-f"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let load = std::fs::read_to_string(dir.join(format!("{stem}-load.sh"))).unwrap();
    assert_eq!(
        load.matches("nft -f ").count(),
        files.len(),
        "the load script names every file"
    );
    files.len()
}

fn check_pfsense(out: &Path) -> Vec<(String, usize)> {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/pfsense.rng");
    for f in [
        "pfsense-aliases.xml",
        "pfsense-filter.xml",
        "pfsense-fragment.xml",
    ] {
        xmllint(&["--noout"], &out.join(f));
        xmllint(
            &["--noout", "--relaxng", schema.to_str().unwrap()],
            &out.join(f),
        );
    }
    let mut aliases = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(alias) = name
            .strip_prefix("pfsense-import-")
            .and_then(|n| n.strip_suffix(".txt"))
        {
            assert!(valid_alias_name(alias), "{alias}");
            let lines = std::fs::read_to_string(out.join(&name))
                .unwrap()
                .lines()
                .count();
            assert!((1..=MAX_ALIAS_ENTRIES).contains(&lines), "{alias}: {lines}");
            aliases.push((alias.to_string(), lines));
        }
    }
    aliases.sort();
    aliases
}

#[test]
fn pfsense_and_nftables_for_every_example() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = examples_with(tmp.path(), &["pfsense", "nftables"]);
    assert_eq!(paths.len(), 4);
    for path in paths {
        let (policy, out, loss) = run(&path);
        let aliases = check_pfsense(&out);
        assert!(!aliases.is_empty(), "{}", path.display());
        nft_check(&out.join("egressgen.nft"));
        assert_wildcards_reported(&policy, &loss, "pfsense");
        assert_wildcards_reported(&policy, &loss, "nftables");
    }
}

/// A service-tag file of our own with `count` prefixes no aggregation can
/// merge (every other /32).
fn tag_file(dir: &Path, count: usize) -> PathBuf {
    let prefixes: Vec<String> = (0..count)
        .map(|i| {
            let n = (i as u32) * 2;
            format!(
                "\"20.{}.{}.{}/32\"",
                (n >> 16) & 255,
                (n >> 8) & 255,
                n & 255
            )
        })
        .collect();
    write(
        dir,
        "ServiceTags_Test.json",
        &format!(
            "{{\"changeNumber\": 1, \"cloud\": \"Public\", \"values\": [{{\"name\": \"AzureAdvancedThreatProtection\", \"id\": \"AzureAdvancedThreatProtection\", \"properties\": {{\"changeNumber\": 9, \"region\": \"\", \"addressPrefixes\": [{}]}}}}]}}",
            prefixes.join(",")
        ),
    )
}

#[test]
fn pfsense_splits_twelve_thousand_prefixes_and_covers_each_policy_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let tags = tag_file(tmp.path(), 12_000);
    // Prefix-only: MDI with no instance, so only the tag remains.
    let prefix_only = write(
        tmp.path(),
        "prefix-only.toml",
        &format!(
            "name = \"prefix-only\"\n[sources]\nfiles = [{:?}]\n[scope]\ncloud = \"commercial\"\nproducts = [\"mdi\"]\n[outputs.pfsense]\n[outputs.nftables]\n",
            tags.display().to_string()
        ),
    );
    let (policy, out, _) = run(&prefix_only);
    assert!(policy.entries.is_empty());
    assert_eq!(policy.prefixes.total_ipv4.len(), 12_000);
    let aliases = check_pfsense(&out);
    let counts: Vec<usize> = aliases.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [5000, 5000, 2000], "{aliases:?}");
    let names: Vec<&str> = aliases.iter().map(|(a, _)| a.as_str()).collect();
    assert!(
        names[0].ends_with("_v4") && names[1].ends_with("_v4_2") && names[2].ends_with("_v4_3"),
        "{names:?}"
    );
    let filter = std::fs::read_to_string(out.join("pfsense-filter.xml")).unwrap();
    assert_eq!(
        filter.matches("<rule>").count(),
        6,
        "tcp/443 and tcp/80 for each of three aliases"
    );
    nft_check(&out.join("egressgen.nft"));

    // FQDN-only: no tags.
    let fqdn_only = write(
        tmp.path(),
        "fqdn-only.toml",
        "name = \"fqdn-only\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n[outputs.pfsense]\nsource = \"10.1.0.0/16\"\ninterface = \"opt1\"\n",
    );
    let (policy, out, loss) = run(&fqdn_only);
    assert!(policy.prefixes.tags.is_empty());
    let aliases = check_pfsense(&out);
    let names: BTreeSet<&str> = aliases.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["EG_hosts443", "EG_hosts80"].into());
    let hosts = std::fs::read_to_string(out.join("pfsense-import-EG_hosts443.txt")).unwrap();
    assert!(hosts.lines().any(|l| l == "winatp-gw-neu.microsoft.com"));
    assert!(!hosts.contains('*'), "no wildcard in a host alias");
    let filter = std::fs::read_to_string(out.join("pfsense-filter.xml")).unwrap();
    assert!(
        filter.contains("<interface>opt1</interface>")
            && filter.contains("<address>10.1.0.0/16</address>")
    );
    assert_wildcards_reported(&policy, &loss, "pfsense");
    let wns = backend(&loss, "pfsense")
        .iter()
        .find(|l| l["entry"] == "*.wns.windows.com")
        .unwrap();
    assert_eq!(wns["outcome"], "dropped");
}

#[test]
fn nftables_takes_every_prefix_of_the_public_service_tag_file() {
    let tmp = tempfile::tempdir().unwrap();
    let public = data("servicetags/ServiceTags_Public_20251013.json");
    let json: Value = serde_json::from_slice(&std::fs::read(&public).unwrap()).unwrap();
    let values = json["values"].as_array().unwrap();
    let total: usize = values
        .iter()
        .map(|v| v["properties"]["addressPrefixes"].as_array().unwrap().len())
        .sum();
    assert!(total > 90_000, "{total}");
    let tags: BTreeSet<String> = values
        .iter()
        .map(|v| {
            v["name"]
                .as_str()
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let tag_list: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
    let ruleset = write(
        tmp.path(),
        "all.toml",
        &format!(
            "name = \"all\"\n[sources]\nfiles = [{:?}]\n[scope]\ncloud = \"commercial\"\nproducts = []\n[site]\nservice_tags = [{}]\n[outputs.nftables]\n",
            public.display().to_string(),
            tag_list.join(", ")
        ),
    );
    let (policy, out, _) = run(&ruleset);
    let read: usize = policy.prefixes.tags.iter().map(|t| t.read).sum();
    assert_eq!(read, total, "every prefix of the file was taken");
    let total_nets = policy.prefixes.total_ipv4.len() + policy.prefixes.total_ipv6.len();
    assert!(total_nets > 1000);
    let files = nft_check(&out.join("egressgen.nft"));
    assert!(
        files > total_nets / 1000,
        "{files} files for {total_nets} prefixes"
    );
}

#[test]
fn azure_templates_validate_against_the_arm_schema() {
    // A misspelled key or a priority of 50 must fail both checks.
    let validator = arm_validator();
    let bad = serde_json::json!({
        "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
        "apiVersion": "2025-07-01", "name": "p/g",
        "properties": {"priority": 50, "ruleCollections": []}
    });
    assert!(
        !validator.is_valid(&bad),
        "priority 50 is below the schema's minimum"
    );
    let mut strict = Vec::new();
    strict_keys(
        &serde_json::json!({"type": "x", "propertes": {}}),
        "resource",
        &mut strict,
    );
    assert_eq!(strict, ["resource: unexpected key propertes"]);

    let tmp = tempfile::tempdir().unwrap();
    let paths = examples_with(tmp.path(), &["azure_firewall"]);
    assert_eq!(paths.len(), 4);
    for path in paths {
        let (_, out, _) = run(&path);
        check_arm(&out);
        let script = std::fs::read_to_string(out.join("azure-firewall.sh")).unwrap();
        assert!(script.contains("az network firewall policy rule-collection-group create"));
    }
}

#[test]
fn azure_rules_express_each_kind_and_the_no_inspect_collection() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = write(
        tmp.path(),
        "az.toml",
        "name = \"az\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\nproducts = [\"mde\", \"mdav\", \"smart-screen\", \"mdi\"]\n\
         [site]\nmdi_instances = [\"contoso-corp\"]\n[outputs.azure_firewall]\nsource_addresses = [\"10.0.0.0/8\"]\n",
    );
    let (_, out, _) = run(&ruleset);
    let template = check_arm(&out);
    let allow = fqdns(&template, "egressgen-allow-fqdns");
    // Subdomains: *.x only; Domain: x and *.x.
    assert!(allow.contains("*.wns.windows.com") && !allow.contains("wns.windows.com"));
    assert!(
        allow.contains("events.data.microsoft.com")
            && allow.contains("*.events.data.microsoft.com")
    );
    let no_inspect = collections(&template)
        .into_iter()
        .find(|c| c["name"] == "egressgen-no-inspect")
        .unwrap();
    let rules = no_inspect["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["terminateTLS"] == false));
    let bypassed = fqdns(&template, "egressgen-no-inspect");
    assert!(
        bypassed.contains("contoso-corpsensorapi.atp.azure.com")
            && bypassed.contains("*.wdcp.microsoft.com")
    );
    let priority = |name: &str| {
        collections(&template)
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["priority"]
            .as_u64()
            .unwrap()
    };
    assert!(priority("egressgen-no-inspect") < priority("egressgen-allow-fqdns"));
    // Service tags as network-rule destinations.
    let network = collections(&template)
        .into_iter()
        .find(|c| c["name"] == "egressgen-allow-network")
        .unwrap();
    let rule = &network["rules"][0];
    assert_eq!(
        rule["destinationAddresses"],
        serde_json::json!(["AzureAdvancedThreatProtection"])
    );
    assert_eq!(rule["sourceAddresses"], serde_json::json!(["10.0.0.0/8"]));
}

#[test]
fn azure_limits_split_or_fail() {
    let tmp = tempfile::tempdir().unwrap();
    // 45,000 allowed names: more than one 2 MB group.
    let mut text = String::from("name = \"big\"\n[scope]\ncloud = \"commercial\"\nproducts = []\n");
    for i in 0..45_000 {
        text.push_str(&format!(
            "[[allow]]\nurl = \"host-{i:05}.a-rather-long-subdomain-name.example.com\"\n"
        ));
    }
    text.push_str("[outputs.azure_firewall]\n");
    let (policy, out, _) = run(&write(tmp.path(), "big.toml", &text));
    assert_eq!(policy.entries.len(), 45_000);
    let template = check_arm(&out);
    let groups = template["resources"].as_array().unwrap();
    assert!(groups.len() >= 2, "split into {} groups", groups.len());
    assert_eq!(
        fqdns(&template, "egressgen-allow-fqdns").len(),
        45_000,
        "nothing lost in the split"
    );
    let priorities: BTreeSet<u64> = groups
        .iter()
        .map(|g| g["properties"]["priority"].as_u64().unwrap())
        .collect();
    assert_eq!(priorities.len(), groups.len());

    // 25,000 prefixes as network destinations: above the 20,000 bound.
    let tags = tag_file(tmp.path(), 25_000);
    let text = format!(
        "name = \"many-prefixes\"\n[sources]\nfiles = [{:?}]\n[scope]\ncloud = \"commercial\"\nproducts = [\"mdi\"]\n[outputs.azure_firewall]\nuse_service_tags = false\n",
        tags.display().to_string()
    );
    let r = Ruleset::load(&write(tmp.path(), "many.toml", &text)).unwrap();
    let backends = generate::select_backends(&r, None).unwrap();
    let out = tmp.path().join("many-out");
    let e = generate::generate(&r, &backends, &out)
        .err()
        .expect("over the limit");
    assert!(
        e.to_string().contains("above Azure Firewall's 20000"),
        "{e}"
    );
    assert!(!out.exists(), "nothing written");
    // With the service tag named instead, the same policy fits.
    let ok = text.replace("use_service_tags = false", "use_service_tags = true");
    run(&write(tmp.path(), "many-tags.toml", &ok));
}

#[test]
fn loss_reports_name_every_replacement() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = write(
        tmp.path(),
        "repl.toml",
        "name = \"repl\"\n[scope]\ncloud = \"commercial\"\nproducts = [\"mde\", \"mdi\"]\nconnectivity = \"streamlined\"\ninclude_optional = false\n\
         [site]\nmdi_instances = [\"contoso-corp\"]\n[outputs.pfsense]\n[outputs.nftables]\n",
    );
    let (_, _, loss) = run(&ruleset);
    for name in ["pfsense", "nftables"] {
        let e = backend(&loss, name)
            .iter()
            .find(|l| l["entry"] == "*.endpoint.security.microsoft.com")
            .unwrap();
        assert_eq!(e["outcome"], "replaced", "{name}");
        assert_eq!(
            e["expressed_as"][0],
            "MicrosoftDefenderForEndpoint prefixes"
        );
    }
    let nft = backend(&loss, "nftables");
    let sensor = nft
        .iter()
        .find(|l| l["entry"] == "contoso-corpsensorapi.atp.azure.com")
        .unwrap();
    assert_eq!(sensor["outcome"], "replaced");
    // With optional rows, the scanner's *.security.microsoft.com swallows
    // *.endpoint.security.microsoft.com: the tag serves only that part.
    let with_optional = std::fs::read_to_string(&ruleset)
        .unwrap()
        .replace("include_optional = false\n", "");
    let (_, _, loss) = run(&write(tmp.path(), "repl2.toml", &with_optional));
    for name in ["pfsense", "nftables"] {
        let e = backend(&loss, name)
            .iter()
            .find(|l| l["entry"] == "*.security.microsoft.com")
            .unwrap();
        assert_eq!(e["outcome"], "narrowed", "{name}");
        assert!(
            e["why"]
                .as_str()
                .unwrap()
                .contains("only *.endpoint.security.microsoft.com"),
            "{name}: {e}"
        );
    }
    assert_eq!(Outcome::Replaced.as_str(), "replaced");
}
