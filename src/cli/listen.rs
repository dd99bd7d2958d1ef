//! `pollhook listen`: a local receiver for trying bridges out.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::sign::WebhookSecret;

pub async fn listen(port: u16, secrets: &[String]) -> anyhow::Result<ExitCode> {
    let secrets = secrets
        .iter()
        .map(|text| WebhookSecret::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .context("invalid --secret")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("failed to listen on 127.0.0.1:{port}: choose another --port"))?;

    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    let stop_signal = super::stop_signal();
    tokio::spawn(async move {
        stop_signal.await;
        stopper.cancel();
    });
    let output: crate::listen::OutputSink = Arc::new(Mutex::new(std::io::stdout()));
    crate::listen::serve(listener, secrets, output, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
