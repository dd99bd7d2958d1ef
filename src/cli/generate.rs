//! Files generated from pollhook's own definitions: the bridge file's JSON
//! Schema, shell completions and man pages. They are printed (or written)
//! by the binary itself, so they always match the installed version.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Prints the JSON Schema of a bridge file.
pub fn schema() -> anyhow::Result<ExitCode> {
    let schema = crate::config::bridge_schema();
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &schema)?;
    writeln!(stdout)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the completion script for `shell`.
pub fn completions(shell: Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    // clap_complete panics on a write error, such as a closed pipe, so the
    // script is built in memory and written here.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "pollhook", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the man page of `pollhook`, or writes one page per command into
/// `dir` (`pollhook.1`, `pollhook-run.1`, ...).
pub fn man(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("failed to write the man pages into {}", dir.display()))?;
            eprintln!("man pages written to {}", dir.display());
        }
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout())?,
    }
    Ok(ExitCode::SUCCESS)
}
