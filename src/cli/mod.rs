//! The command line: argument parsing with clap and one function per command.
//! Commands load what they need and call the library; they hold no pipeline
//! logic of their own.

mod check;
mod deliveries;
mod demo;
mod generate;
mod listen;
mod poll;
mod run;
mod status;
mod table;
mod targets;

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
    /// List deliveries (one per event and target), newest first
    Deliveries {
        #[command(subcommand)]
        action: Option<DeliveriesAction>,
        /// Only this bridge's deliveries
        #[arg(long)]
        bridge: Option<String>,
        /// Only deliveries to this target URL
        #[arg(long)]
        target: Option<String>,
        /// Only deliveries in this state
        #[arg(long, value_enum)]
        status: Option<DeliveryStatus>,
        /// Maximum number of rows
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Queue events again under their original webhook-id
    Redeliver {
        /// Event ids (evt_...) or delivery ids
        ids: Vec<String>,
        /// Queue every failed delivery again (narrow with --bridge and --target)
        #[arg(long, conflicts_with = "ids")]
        failed: bool,
        /// With --failed: only this bridge
        #[arg(long, requires = "failed")]
        bridge: Option<String>,
        /// With --failed: only this target URL
        #[arg(long, requires = "failed")]
        target: Option<String>,
    },
    /// List targets with their state and queue, or enable a disabled one
    Targets {
        #[command(subcommand)]
        action: Option<TargetsAction>,
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

#[derive(Debug, Subcommand)]
enum DeliveriesAction {
    /// Print one event with every delivery and attempt
    Show {
        /// Event id (evt_...) or delivery id
        id: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TargetsAction {
    /// Deliver to a target again after a 410 Gone disabled it
    Enable {
        /// The target's URL, as in the bridge file or as `pollhook targets` lists it
        target: String,
    },
    /// Send the pending and failed events of a target to another URL, for
    /// example after the receiver moved
    Move {
        /// The old URL, as `pollhook targets` lists it
        from: String,
        /// The new URL, as in the bridge file
        to: String,
    },
}

/// A delivery state, as the `--status` filter takes it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DeliveryStatus {
    Pending,
    Failed,
    Delivered,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Delivered => "delivered",
        }
    }
}

/// Parses the arguments, runs the command and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = logging::init(cli.log_format, cli.log_level.as_deref()) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
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
            Command::Deliveries {
                action: Some(DeliveriesAction::Show { id, json }),
                ..
            } => deliveries::show(&overrides, &id, json),
            Command::Deliveries {
                action: None,
                bridge,
                target,
                status,
                limit,
                json,
            } => {
                let options = deliveries::ListOptions {
                    bridge,
                    target,
                    status,
                    limit,
                    json,
                };
                deliveries::list(&overrides, options)
            }
            Command::Redeliver {
                ids,
                failed,
                bridge,
                target,
            } => deliveries::redeliver(
                &overrides,
                &ids,
                failed,
                bridge.as_deref(),
                target.as_deref(),
            ),
            Command::Targets {
                action: Some(TargetsAction::Enable { target }),
                ..
            } => targets::enable(&overrides, &target),
            Command::Targets {
                action: Some(TargetsAction::Move { from, to }),
                ..
            } => targets::move_queue(&overrides, &from, &to),
            Command::Targets { action: None, json } => targets::list(&overrides, json),
        }
    });
    match result {
        Ok(code) => code,
        // Output cut short by a closed pipe (`pollhook man | head`) is how
        // such a command is meant to end, not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", crate::redact::mask(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Opens the state database named by the global configuration.
fn open_store(overrides: &Overrides) -> anyhow::Result<crate::store::Store> {
    let global =
        crate::config::load_global(overrides).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    if !global.state.exists() {
        anyhow::bail!(
            "the state database {} does not exist yet: run `pollhook run` or `pollhook poll NAME` first, or point --state at it",
            global.state.display()
        );
    }
    crate::store::Store::open(&global.state).map_err(anyhow::Error::from)
}

/// Returns a future that resolves when SIGINT or SIGTERM arrives. The signal
/// handlers are installed when this is called, not when the future is first
/// polled, so that no signal in between falls back to the default action.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => drop(tokio::signal::ctrl_c().await),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        drop(tokio::signal::ctrl_c().await);
    }
}
