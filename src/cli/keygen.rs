use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use phiscrub::transform::key::Key;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key (mode 0600). Without it the key goes to standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing key file (tokens made with the old key will no longer match).
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: KeygenArgs) -> Result<i32> {
    let (text, key) = Key::generate()?;
    match &a.output {
        Some(path) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true);
            if a.force {
                opts.create(true).truncate(true);
            } else {
                opts.create_new(true);
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(path).with_context(|| {
                format!(
                    "cannot create key file {} (use --force to replace one)",
                    path.display()
                )
            })?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            println!("key id {}: written to {}", key.id(), path.display());
        }
        None => {
            println!("{text}");
            eprintln!("key id {}", key.id());
        }
    }
    Ok(0)
}
