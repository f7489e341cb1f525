//! Reading systemd unit files as systemd does, for the syntax our units use.

/// The values of `key=` in a unit file, in order.
pub fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    unit.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// The `ExecStart=` lines of a unit, split into words as systemd splits
/// them. Only the syntax the units use is read (words, double or single
/// quotes); a line with a specifier, a variable, an escape or a prefix
/// fails here rather than being read differently from systemd.
pub fn exec_lines(unit: &str) -> Vec<Vec<String>> {
    values(unit, "ExecStart")
        .into_iter()
        .map(|line| {
            assert!(
                !line.contains(['%', '$', '\\']) && !line.starts_with(['@', '-', ':', '+', '!']),
                "ExecStart={line}: syntax this test does not read"
            );
            let mut words = Vec::new();
            let mut rest = line.trim_start();
            while !rest.is_empty() {
                let (word, after) = match rest.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let end = rest[1..].find(q).expect("a closing quote") + 1;
                        (&rest[1..end], &rest[end + 1..])
                    }
                    _ => {
                        let end = rest.find(' ').unwrap_or(rest.len());
                        (&rest[..end], &rest[end..])
                    }
                };
                words.push(word.to_string());
                rest = after.trim_start();
            }
            words
        })
        .collect()
}
