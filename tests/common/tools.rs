//! External tools the tests drive. `scripts/test` installs them; a missing
//! tool fails the test with the command to run, never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of `tool`, or a failure naming the package.
pub fn require(tool: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
    {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("{tool} is missing: run scripts/test, which installs {package}");
}

/// `squid -k parse`: the lines that say ERROR, FATAL or WARNING (Squid
/// exits 0 on some errors, so the exit status alone proves nothing).
pub fn squid_parse_problems(conf: &Path) -> Vec<String> {
    let squid = require("squid", "squid-openssl");
    let out = Command::new(squid)
        .arg("-k")
        .arg("parse")
        .arg("-f")
        .arg(conf)
        .output()
        .expect("squid");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let mut problems: Vec<String> = text
        .lines()
        .filter(|l| {
            l.contains("ERROR")
                || l.contains("FATAL")
                || l.contains("WARNING")
                || l.contains("Bungled")
        })
        .map(str::to_string)
        .collect();
    if !out.status.success() {
        problems.push(format!(
            "squid -k parse exited with {:?}",
            out.status.code()
        ));
    }
    problems
}
