//! `pollhook demo`: a local API, a bridge and a receiver in one process,
//! stopped with Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::demo::{self, CHANGE_EVERY};

pub async fn demo(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => fresh_dir()?,
    };
    let prepared = demo::prepare(&dir)
        .await
        .with_context(|| format!("failed to set up the demo in {}", dir.display()))?;
    println!(
        "pollhook demo: a local API whose orders change every {}s, a bridge polling it, and a receiver that checks signatures.\n\
         API:      http://{}/orders\n\
         receiver: http://{}/hooks/shop\n\
         files:    {}\n\
         Signed webhooks appear below as the orders change. Stop with Ctrl-C.\n",
        CHANGE_EVERY.as_secs(),
        prepared.api.local_addr()?,
        prepared.receiver.local_addr()?,
        dir.display(),
    );

    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        super::stop_signal().await;
        stopper.cancel();
    });
    demo::run(prepared, demo::stdout_sink(), shutdown).await?;

    let config = dir.join("pollhook.toml");
    println!(
        "\ndemo stopped. Its files are kept in {dir}:\n  \
         pollhook.toml, bridges/shop.toml and state.db\n\
         Look at the bridge's state:  pollhook --config {config} status\n\
         Remove the files:            rm -r {dir}",
        dir = dir.display(),
        config = config.display(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates a new directory under the system's temporary directory.
fn fresh_dir() -> anyhow::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let dir = std::env::temp_dir().join(format!("pollhook-demo-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    Ok(dir)
}
