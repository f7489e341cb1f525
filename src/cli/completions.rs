//! `egressgen completions SHELL`: a completion script from the clap definitions.
//!
//! A completion script generated from the clap definitions, so it never
//! lags behind the options. Where a source is asked for (an argument
//! parsed as a [`SourceSpec`]: `catalog --source`, `diff A B`), bash, zsh
//! and fish also offer the names a source may have besides a path
//! (`baseline`, `builtin:…`, `live:…`, read from the cache `refresh`
//! fills), and still offer files. Which arguments those are is read from
//! the clap definitions too, by the type they parse to.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::sources::SourceSpec;
use crate::sources::spec::Builtin;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell, e.g. bash: egressgen completions bash > /etc/bash_completion.d/egressgen
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args) -> super::Result {
    // A closed pipe is not an error worth a message.
    let _ = std::io::stdout().write_all(script(args.shell).as_bytes());
    Ok(super::Exit::Success)
}

/// The completion script for `shell`: clap_complete's, with the source
/// names added for bash, zsh and fish (elvish and PowerShell: clap's
/// alone).
pub fn script(shell: Shell) -> String {
    let cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd.clone(), "egressgen", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    let sources = source_args(&cmd);
    match shell {
        Shell::Bash => script + &bash(&cmd, &sources),
        Shell::Zsh => zsh(&script, &sources),
        Shell::Fish => script + &fish(&sources),
        _ => script,
    }
}

/// The names a source may have besides a path, as a user types them.
pub fn source_names() -> Vec<String> {
    let mut names = vec!["baseline".to_string()];
    names.extend(Builtin::ALL.iter().map(|b| b.spec().to_string()));
    names.extend(
        crate::sources::live::SUPPORTED
            .iter()
            .map(|l| l.to_string()),
    );
    names
}

/// One argument that takes a source.
#[derive(Debug, PartialEq, Eq)]
struct SourceArg {
    /// The subcommand it belongs to.
    sub: String,
    /// Its id (a positional's name in zsh's specification).
    id: String,
    long: Option<String>,
    short: Option<char>,
    /// A positional's place among the subcommand's positionals, from 1.
    position: Option<usize>,
}

/// Every argument of every subcommand whose value parses as a
/// [`SourceSpec`].
fn source_args(cmd: &clap::Command) -> Vec<SourceArg> {
    let mut found = Vec::new();
    for sub in cmd.get_subcommands() {
        let mut position = 0;
        for arg in sub.get_arguments() {
            if arg.is_positional() {
                position += 1;
            }
            if arg.get_value_parser().type_id() != std::any::TypeId::of::<SourceSpec>() {
                continue;
            }
            found.push(SourceArg {
                sub: sub.get_name().to_string(),
                id: arg.get_id().to_string(),
                long: arg.get_long().map(str::to_string),
                short: arg.get_short(),
                position: arg.is_positional().then_some(position),
            });
        }
    }
    found
}

/// A wrapper around clap's `_egressgen` that completes the source names
/// and files where a source is asked for, and leaves everything else to
/// clap's function. It reads the line itself: `COMP_WORDS` cuts
/// `builtin:mma` at the colon.
fn bash(cmd: &clap::Command, sources: &[SourceArg]) -> String {
    let mut cases = String::new();
    for sub in cmd.get_subcommands() {
        let mine: Vec<&SourceArg> = sources.iter().filter(|s| s.sub == sub.get_name()).collect();
        if mine.is_empty() {
            continue;
        }
        let mut takes = Vec::new();
        for arg in sub.get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() {
                continue;
            }
            takes.extend(arg.get_long().map(|l| format!("--{l}")));
            takes.extend(arg.get_short().map(|s| format!("-{s}")));
        }
        let mut opts = Vec::new();
        let mut positions = Vec::new();
        for s in &mine {
            opts.extend(s.long.as_ref().map(|l| format!("--{l}")));
            opts.extend(s.short.map(|c| format!("-{c}")));
            positions.extend(s.position.map(|p| p.to_string()));
        }
        cases.push_str(&format!(
            "                {}) takes=\" {} \" opts=\" {} \" positions=\" {} \" ;;\n",
            sub.get_name(),
            takes.join(" "),
            opts.join(" "),
            positions.join(" "),
        ));
    }
    format!(
        r#"
# Added by egressgen: where a source is asked for, the names a source may
# have besides a path ({names}), and files.
_egressgen_with_sources() {{
    local line=${{COMP_LINE:0:COMP_POINT}}
    local -a words
    read -ra words <<<"$line"
    if [[ ${{#words[@]}} -eq 0 || $line == *[[:space:]] ]]; then
        words+=("")
    fi
    local cur=${{words[${{#words[@]}}-1]}}
    local sub="" takes="" opts="" positions="" n=0 skip=0 source=0 i w
    for ((i = 1; i < ${{#words[@]}} - 1; i++)); do
        w=${{words[i]}}
        if [[ -z $sub ]]; then
            if [[ $w != -* ]]; then
                sub=$w
                case $sub in
{cases}                *) break ;;
                esac
            fi
            continue
        fi
        if ((skip)); then
            skip=0
            continue
        fi
        case $w in
            -*=*) ;;
            -*) [[ $takes == *" $w "* ]] && skip=1 ;;
            *) ((n++)) ;;
        esac
    done
    if [[ -n $opts ]]; then
        if ((skip)); then
            [[ $opts == *" ${{words[${{#words[@]}}-2]}} "* ]] && source=1
        elif [[ $cur == -*=* ]]; then
            [[ $opts == *" ${{cur%%=*}} "* ]] && source=1 && cur=${{cur#*=}}
        elif [[ $cur != -* && $positions == *" $((n + 1)) "* ]]; then
            source=1
        fi
    fi
    if ((!source)); then
        _egressgen "$@"
        return
    fi
    mapfile -t COMPREPLY < <(compgen -W "{names}" -- "$cur"; compgen -f -- "$cur")
    # Readline replaces only what follows the last colon of the word.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local colon=${{cur%"${{cur##*:}}"}}
        for i in "${{!COMPREPLY[@]}}"; do
            COMPREPLY[i]=${{COMPREPLY[i]#"$colon"}}
        done
    fi
    compopt -o filenames 2>/dev/null
    return 0
}}

if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _egressgen_with_sources -o nosort -o bashdefault -o default egressgen
else
    complete -F _egressgen_with_sources -o bashdefault -o default egressgen
fi
"#,
        names = source_names().join(" "),
    )
}

/// clap's script with `_egressgen_sources` (source names or files) as the
/// action of every source argument, defined before the script runs.
fn zsh(script: &str, sources: &[SourceArg]) -> String {
    let names: Vec<String> = source_names()
        .iter()
        .map(|n| n.replace(':', "\\:"))
        .collect();
    let function = format!(
        "(( $+functions[_egressgen_sources] )) ||\n\
         _egressgen_sources() {{\n    \
         _alternative 'names:source name:({})' 'files:file:_files'\n\
         }}\n\n",
        names.join(" ")
    );
    let mut out = String::new();
    let mut sub = String::new();
    for line in script.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(name) = trimmed
            .trim_start()
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
        {
            sub = name.to_string();
        }
        if trimmed.starts_with("if [ \"$funcstack[1]\" = \"_egressgen\" ]") {
            out.push_str(&function);
        }
        let is_source = sources
            .iter()
            .any(|s| s.sub == sub && zsh_spec_is(trimmed, s));
        match (is_source, zsh_action(trimmed)) {
            (true, Some(action)) => {
                let at = trimmed.len() - action.len();
                out.push_str(&zsh_message_colons(&trimmed[..at]));
                out.push_str(":_egressgen_sources' \\\n");
            }
            _ => out.push_str(&zsh_message_colons(line)),
        }
    }
    out
}

/// clap writes an option's value name as the message of its zsh spec
/// unescaped (`'--resolve=[…]:HOST:IP:_default'`): zsh ends the message
/// at the first colon and runs `IP:_default` as the action. Escapes the
/// colons inside the message (everything between the description's `]:`
/// and the last unescaped colon, where the action starts).
fn zsh_message_colons(line: &str) -> String {
    let Some(end) = description_end(line) else {
        return line.to_string();
    };
    let rest = &line[end + 2..];
    let colons: Vec<usize> = unescaped(rest, ':').collect();
    let Some(&last) = colons.last() else {
        return line.to_string();
    };
    let mut out = line[..end + 2].to_string();
    let mut from = 0;
    for &c in colons.iter().filter(|&&c| c < last) {
        out.push_str(&rest[from..c]);
        out.push_str("\\:");
        from = c + 1;
    }
    out.push_str(&rest[from..]);
    out
}

/// Where the `]` of an option spec's `[description]:` is, if it has a
/// value (`'--name=[…]:…'`, `'-n+[…]:…'`).
fn description_end(line: &str) -> Option<usize> {
    if !line.starts_with('\'') {
        return None;
    }
    let open = line.find('[')?;
    let close = open + unescaped(&line[open..], ']').next()?;
    line[close..].starts_with("]:").then_some(close)
}

/// The positions of `c` in `text` not escaped by a backslash.
fn unescaped(text: &str, c: char) -> impl Iterator<Item = usize> + '_ {
    text.char_indices()
        .filter(move |&(i, ch)| ch == c && !text[..i].ends_with('\\'))
        .map(|(i, _)| i)
}

/// Whether a line of clap's zsh script specifies `arg`.
fn zsh_spec_is(line: &str, arg: &SourceArg) -> bool {
    if !line.starts_with('\'') {
        return false;
    }
    if arg.position.is_some() {
        let id = &arg.id;
        return [
            format!("':{id} -- "),
            format!("'*::{id} -- "),
            format!("'::{id} -- "),
        ]
        .iter()
        .any(|p| line.starts_with(p.as_str()));
    }
    arg.long
        .as_ref()
        .is_some_and(|l| line.contains(&format!("--{l}=[")))
        || arg.short.is_some_and(|c| line.contains(&format!("-{c}+[")))
}

/// The action that ends a line of clap's zsh script, from its colon.
fn zsh_action(line: &str) -> Option<&str> {
    [":_default' \\", ":_files' \\"]
        .into_iter()
        .find(|a| line.ends_with(a))
        .map(|a| &line[line.len() - a.len()..])
}

/// More candidates for the source arguments; fish adds them to clap's,
/// which offer files.
fn fish(sources: &[SourceArg]) -> String {
    let names = source_names().join(" ");
    let mut out = String::from(
        "\n# Added by egressgen: where a source is asked for, the names a source may\n\
         # have besides a path, and files.\n",
    );
    for s in sources {
        let cond = format!("__fish_egressgen_using_subcommand {}", s.sub);
        match (&s.long, s.short) {
            (None, None) => out.push_str(&format!(
                "complete -c egressgen -n \"{cond}\" -F -a \"{names}\"\n"
            )),
            (long, short) => {
                let mut flags = String::new();
                if let Some(l) = long {
                    flags.push_str(&format!(" -l {l}"));
                }
                if let Some(c) = short {
                    flags.push_str(&format!(" -s {c}"));
                }
                out.push_str(&format!(
                    "complete -c egressgen -n \"{cond}\"{flags} -r -F -a \"{names}\"\n"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_source_arguments_are_found_by_their_type() {
        let found: Vec<(String, String)> = source_args(&super::super::Cli::command())
            .into_iter()
            .map(|s| (s.sub, s.id))
            .collect();
        let want = [("catalog", "sources"), ("diff", "a"), ("diff", "b")];
        assert_eq!(found, want.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn every_source_name_parses() {
        for name in source_names() {
            assert!(
                !matches!(SourceSpec::parse(&name), Ok(SourceSpec::Path(_)) | Err(_)),
                "{name}"
            );
        }
    }

    #[test]
    fn zsh_gives_every_source_argument_the_source_action() {
        let script = script(Shell::Zsh);
        let lines: Vec<&str> = script
            .lines()
            .filter(|l| l.ends_with(":_egressgen_sources' \\"))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].starts_with("'*--source=["), "{}", lines[0]);
        assert!(lines[1].starts_with("':a -- "), "{}", lines[1]);
        assert!(lines[2].starts_with("':b -- "), "{}", lines[2]);
        let defined = script.find("_egressgen_sources() {").unwrap();
        let called = script.find("if [ \"$funcstack[1]\"").unwrap();
        assert!(defined < called);
        assert!(script.contains("builtin\\:tls-guidance"));
    }

    /// Every option spec of the zsh script that takes a value reads as
    /// zsh reads it: `[description]`, then a message with no unescaped
    /// colon, then the action. clap leaves `HOST:IP` unescaped.
    #[test]
    fn zsh_value_names_with_colons_stay_in_the_message() {
        let script = script(Shell::Zsh);
        let mut checked = 0;
        for line in script.lines() {
            let Some(end) = description_end(line) else {
                continue;
            };
            let rest = &line[end + 2..];
            assert_eq!(unescaped(rest, ':').count(), 1, "{line}");
            checked += 1;
        }
        assert!(checked > 20, "{checked}");
        assert!(
            script.contains("'*--resolve=[") && script.contains("]:HOST\\:IP:_default'"),
            "the PAC --resolve spec"
        );
        assert_eq!(
            zsh_message_colons("'--a=[x\\] y]:H:[P:]I:_default' \\"),
            "'--a=[x\\] y]:H\\:[P\\:]I:_default' \\"
        );
    }

    #[test]
    fn fish_adds_the_names_to_the_source_arguments() {
        let script = script(Shell::Fish);
        assert!(script.contains(
            "complete -c egressgen -n \"__fish_egressgen_using_subcommand catalog\" -l source -r -F -a \"baseline builtin:mma"
        ));
        assert!(script.contains(
            "complete -c egressgen -n \"__fish_egressgen_using_subcommand diff\" -F -a \"baseline builtin:mma"
        ));
    }

    /// What bash offers for `line` (the cursor at its end), with the
    /// script loaded as bash-completion would.
    fn bash_complete(dir: &std::path::Path, line: &str) -> Vec<String> {
        let file = dir.join("egressgen.bash");
        std::fs::write(&file, script(Shell::Bash)).unwrap();
        let program = format!(
            r#"cd "{dir}" && source "{file}"
COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<<"$COMP_LINE"; [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
fn=$(complete -p egressgen | sed -E 's/.* -F ([^ ]+) .*/\1/')
"$fn" egressgen "${{COMP_WORDS[COMP_CWORD]##*:}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            dir = dir.display(),
            file = file.display(),
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &program])
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn bash_offers_source_names_and_files_where_a_source_is_asked_for() {
        // A file beside the names: paths stay accepted.
        // A directory of the test's own: nothing else is in it, and it
        // goes with the test.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("baseline-copy.json"), "{}").unwrap();
        assert_eq!(
            bash_complete(dir, "egressgen catalog --source ba"),
            ["baseline", "baseline-copy.json"]
        );
        // After the colon, readline replaces what follows it.
        assert_eq!(
            bash_complete(dir, "egressgen catalog --source builtin:m"),
            ["mma", "mdi"]
        );
        assert_eq!(
            bash_complete(dir, "egressgen -q diff --format json baseline builtin:tl"),
            ["tls-guidance"]
        );
        assert_eq!(
            bash_complete(dir, "egressgen diff bas"),
            ["baseline", "baseline-copy.json"]
        );
        // The live sources, which these commands read from the cache.
        assert_eq!(
            bash_complete(dir, "egressgen diff live:service-tags-p"),
            ["service-tags-public"]
        );
        let learn = bash_complete(dir, "egressgen catalog --source live:learn-s");
        assert!(
            learn.contains(&"learn-standard-commercial".to_string()) && learn.len() > 1,
            "{learn:?}"
        );
        // Elsewhere, clap's own completion.
        assert_eq!(bash_complete(dir, "egressgen ge"), ["generate"]);
        assert_eq!(bash_complete(dir, "egressgen diff --format j"), ["json"]);
        assert!(bash_complete(dir, "egressgen catalog --so").contains(&"--source".to_string()));
    }
}
