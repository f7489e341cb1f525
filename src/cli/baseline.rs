//! `egressgen baseline`: regenerate `data/baseline.json`.

use std::io::Write;
use std::path::PathBuf;

use crate::error::Error;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory laid out like the shared data: mde/, servicetags/
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Where to write the catalog JSON (default: standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args, _: super::Verbosity) -> super::Result {
    let catalog = crate::sources::baseline::build(&args.data_dir)?;
    let json = crate::sources::catalog_json::to_json(&catalog);
    match &args.out {
        Some(path) => {
            write_atomically(path, json.as_bytes())?;
            tracing::info!(path = %path.display(), "baseline written");
        }
        None => {
            let _ = std::io::stdout().write_all(json.as_bytes());
        }
    }
    Ok(super::Exit::Success)
}

/// A failed run leaves the previous baseline in place and no temporary
/// file behind.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> crate::error::Result<()> {
    crate::publish::write_file_atomically(path, bytes).map_err(|e| Error::Publish(e.to_string()))
}
