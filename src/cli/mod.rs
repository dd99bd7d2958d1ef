//! The command line: argument parsing with clap and one function per command.
//! Commands load what they need and call the library; they hold no pipeline
//! logic of their own.

mod check;
mod demo;
mod generate;
mod listen;
mod poll;
mod run;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Overrides;
use crate::logging::{self, LogFormat};

/// pollhook polls HTTP APIs that have no webhooks and sends a signed webhook
/// for every item that is created, updated or deleted.
#[derive(Debug, Parser)]
#[command(name = "pollhook", version, about, long_about = None)]
pub struct Cli {
    /// Global configuration file [default: pollhook.toml, if present]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of bridge files, one bridge per *.toml file
    #[arg(long, global = true, value_name = "DIR")]
    bridges: Option<PathBuf>,
    /// SQLite file with snapshots and the delivery queue
    #[arg(long, global = true, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    /// Log level or filter, such as debug or pollhook=trace [default: RUST_LOG, else info]
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll every bridge on its schedule and deliver events
    Run,
    /// Check the global file and every bridge file, printing every error
    Check,
    /// Poll one bridge now and print its events as JSON lines
    Poll {
        /// The bridge's name (its file name without .toml)
        name: String,
        /// Compute and print the events, but write and send nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Show every bridge's schedule, last and next poll, items and queued
    /// deliveries, read from the database (works while the daemon runs)
    Status {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// See pollhook work: a local API that changes every few seconds, a
    /// bridge polling it and a receiver printing the signed events (no
    /// network needed)
    Demo {
        /// Directory for the demo's files [default: a new one under the
        /// system's temporary directory]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the JSON Schema of a bridge file, for TOML editors
    Schema,
    /// Print the shell completion script for SHELL
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one page per command into --dir
    Man {
        /// Directory to write pollhook.1, pollhook-run.1, ... into
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Receive webhooks locally and print each one with its signature check
    Listen {
        /// Port to listen on, on 127.0.0.1
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// whsec_ secret to verify signatures with (repeat for rotation)
        #[arg(long, value_name = "SECRET")]
        secret: Vec<String>,
    },
}

/// Parses the arguments, runs the command and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.log_level.as_deref());
    let overrides = Overrides {
        config: cli.config.clone(),
        bridges: cli.bridges.clone(),
        state: cli.state.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run => run::run(&overrides).await,
            Command::Check => check::check(&overrides),
            Command::Poll { name, dry_run } => poll::poll(&overrides, &name, dry_run).await,
            Command::Listen { port, secret } => listen::listen(port, &secret).await,
            Command::Status { json } => status::status(&overrides, json),
            Command::Demo { dir } => demo::demo(dir.as_deref()).await,
            Command::Schema => generate::schema(),
            Command::Completions { shell } => generate::completions(shell),
            Command::Man { dir } => generate::man(dir.as_deref()),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", crate::redact::mask(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => drop(interrupt.await),
        }
    }
    #[cfg(not(unix))]
    drop(interrupt.await);
}
