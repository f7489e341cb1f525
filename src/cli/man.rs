//! `egressgen man`: the manual page generated from the clap definitions.
//!
//! The manual page generated from the clap definitions, with one section
//! per subcommand and the exit-code table.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::roff::{Roff, bold, roman};

/// When this page last changed in substance (new commands or options):
/// man(1) shows it in the footer; a build date would make the page differ
/// on every build.
const MANUAL_DATE: &str = "2026-12-05";

pub fn run() -> super::Result {
    let _ = std::io::stdout().write_all(&page());
    Ok(super::Exit::Success)
}

/// The page: name, synopsis, description and options of `egressgen`, each
/// subcommand's own options, then EXIT STATUS from [`super::Exit`].
pub fn page() -> Vec<u8> {
    let cmd = super::Cli::command();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("EGRESSGEN")
        .manual("General Commands Manual")
        .date(MANUAL_DATE);
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    // Not clap_mangen's SUBCOMMANDS section: it points at one page per
    // subcommand (egressgen-catalog(1), ...), and this is the only page.
    let _ = subcommands(&cmd).to_writer(&mut out);
    for sub in cmd.get_subcommands() {
        let mut roff = Roff::new();
        roff.control(
            "SH",
            [format!("EGRESSGEN {}", sub.get_name().to_uppercase()).as_str()],
        );
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
        }
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
        {
            roff.control("TP", []);
            roff.text([bold(flag(arg))]);
            if let Some(help) = arg.get_help() {
                roff.text([roman(help.to_string())]);
            }
        }
        let _ = roff.to_writer(&mut out);
    }
    let mut status = Roff::new();
    status.control("SH", ["EXIT STATUS"]);
    for o in super::Exit::ALL {
        status.control("TP", []);
        status.text([bold(o.code().to_string())]);
        status.text([roman(o.meaning().replace('`', ""))]);
    }
    let _ = status.to_writer(&mut out);
    let _ = environment_files_see_also().to_writer(&mut out);
    let _ = man.render_version_section(&mut out);
    out
}

/// Each subcommand with its summary, pointing at its section of this page.
fn subcommands(cmd: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SUBCOMMANDS"]);
    for sub in cmd.get_subcommands() {
        roff.control("TP", []);
        roff.text([bold(format!("egressgen {}", sub.get_name()))]);
        let mut about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        if sub.get_name() != "help" {
            about.push_str(&format!(
                "; see EGRESSGEN {} below",
                sub.get_name().to_uppercase()
            ));
        }
        roff.text([roman(about)]);
    }
    roff
}

/// ENVIRONMENT, FILES and SEE ALSO: what the binary reads besides its
/// arguments (`crate::cache::default_dir`, the proxy variables of `refresh`
/// and `verify`), where the Debian package puts things, and only pages
/// that exist where the package is installed (systemd is a dependency).
fn environment_files_see_also() -> Roff {
    let mut roff = Roff::new();
    let entry = |roff: &mut Roff, term: &str, text: &str| {
        roff.control("TP", []);
        roff.text([bold(term)]);
        roff.text([roman(text)]);
    };
    roff.control("SH", ["ENVIRONMENT"]);
    entry(
        &mut roff,
        "EGRESSGEN_CACHE",
        "The cache of last good sources (see --cache), before every other default.",
    );
    entry(
        &mut roff,
        "CACHE_DIRECTORY",
        "Set by systemd from CacheDirectory= (the refresh unit: /var/cache/egressgen); \
         its first entry is the cache when EGRESSGEN_CACHE is unset.",
    );
    entry(
        &mut roff,
        "XDG_CACHE_HOME",
        "The cache is $XDG_CACHE_HOME/egressgen when neither of the above is set, \
         else ~/.cache/egressgen (HOME).",
    );
    entry(
        &mut roff,
        "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
        "The proxy refresh fetches through (unless --proxy or --no-proxy) and the \
         environment route verify probes; lower-case names are read first, \
         http_proxy only in lower case by verify.",
    );
    roff.control("SH", ["FILES"]);
    entry(
        &mut roff,
        "/etc/egressgen/",
        "Site rulesets; the packaged egressgen-refresh.service reads /etc/egressgen/site.toml.",
    );
    entry(
        &mut roff,
        "/var/cache/egressgen/, ~/.cache/egressgen/",
        "The cache of last good sources: the system user's (systemd's CacheDirectory=), \
         or a user's own.",
    );
    entry(
        &mut roff,
        "/var/lib/egressgen/",
        "State of the scheduled refresh: published outputs (out/), its last reports, \
         and the file egressgen-reload.path watches (published).",
    );
    entry(
        &mut roff,
        "/usr/share/doc/egressgen/examples/",
        "Example rulesets, one of them for production with live sources.",
    );
    entry(
        &mut roff,
        "/lib/systemd/system/egressgen-refresh.timer",
        "With egressgen-refresh.service, egressgen-reload.path and egressgen-reload.service: \
         the scheduled refresh and the Squid reload, disabled until enabled.",
    );
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("systemd.timer"),
        roman("(5), "),
        bold("systemd.path"),
        roman("(5), "),
        bold("systemd.exec"),
        roman("(5); the full documentation in /usr/share/doc/egressgen/."),
    ]);
    roff
}

/// `--out DIR`, `-q, --quiet`, or `RULESET` for a positional.
fn flag(arg: &clap::Arg) -> String {
    let value = arg.get_value_names().map(|v| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let takes = arg.get_action().takes_values();
    match (arg.get_short(), arg.get_long()) {
        (None, None) => value.unwrap_or_else(|| arg.get_id().to_string().to_uppercase()),
        (short, long) => {
            let mut names = Vec::new();
            if let Some(s) = short {
                names.push(format!("-{s}"));
            }
            if let Some(l) = long {
                names.push(format!("--{l}"));
            }
            let mut text = names.join(", ");
            if takes {
                let v = value.unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                text.push(' ');
                text.push_str(&v);
            }
            text
        }
    }
}
