//! `pollhook demo`: pollhook working end to end on one machine, with no
//! network and no configuration.
//!
//! A small local API serves a list of orders that changes every few seconds,
//! a bridge polls it, and the local receiver of `pollhook listen` prints each
//! signed event it gets. All three run in this process on 127.0.0.1; the
//! bridge file, the global file and the state database are written into a
//! directory that is kept afterwards, so that `pollhook status` and friends
//! can be tried on it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Overrides};
use crate::daemon;
use crate::listen::OutputSink;
use crate::sign::WebhookSecret;
use crate::store::Store;

/// How often the demo API's orders change.
pub const CHANGE_EVERY: Duration = Duration::from_secs(3);

/// How often the demo bridge polls: faster than the changes, so that each
/// change is seen.
const POLL_EVERY: &str = "2s";

/// Ticks an order lives: created, paid, shipped for two ticks, then gone.
const ORDER_LIFETIME: u64 = 4;

/// Returns the API's response at `tick`: the orders created in the last
/// [`ORDER_LIFETIME`] ticks, each with a status that follows its age. From
/// one tick to the next, one order is created, two change status and one is
/// deleted.
pub fn orders_at(tick: u64) -> Value {
    let first = tick.saturating_sub(ORDER_LIFETIME - 1);
    let orders: Vec<Value> = (first..=tick)
        .rev()
        .map(|number| {
            let status = match tick - number {
                0 => "open",
                1 => "paid",
                _ => "shipped",
            };
            json!({
                "id": format!("A-{}", 1001 + number),
                "status": status,
                "total": 10 + (number * 7) % 40,
                "updated_at": tick,
            })
        })
        .collect();
    json!({ "data": orders })
}

/// The demo's directory, its servers' bound listeners and the target's secret.
pub struct Demo {
    pub dir: PathBuf,
    pub api: TcpListener,
    pub receiver: TcpListener,
    pub secret: String,
}

/// Binds the API and the receiver on free ports of 127.0.0.1 and writes the
/// configuration into `dir`.
pub async fn prepare(dir: &Path) -> io::Result<Demo> {
    let api = TcpListener::bind("127.0.0.1:0").await?;
    let receiver = TcpListener::bind("127.0.0.1:0").await?;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>())
    );

    std::fs::create_dir_all(dir.join("bridges"))?;
    let global = format!(
        "# Written by pollhook demo.\nstate = {state:?}\nbridges = {bridges:?}\n",
        state = dir.join("state.db"),
        bridges = dir.join("bridges"),
    );
    std::fs::write(dir.join("pollhook.toml"), global)?;
    let bridge = bridge_file(
        &format!("http://{}/orders", api.local_addr()?),
        &format!("http://{}/hooks/shop", receiver.local_addr()?),
        &secret,
    );
    std::fs::write(dir.join("bridges").join("shop.toml"), bridge)?;

    Ok(Demo {
        dir: dir.to_owned(),
        api,
        receiver,
        secret,
    })
}

/// Runs the API, the receiver and the daemon until `shutdown` is cancelled.
/// Received webhooks go to `output`.
pub async fn run(
    demo: Demo,
    output: OutputSink,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let overrides = Overrides {
        config: Some(demo.dir.join("pollhook.toml")),
        ..Overrides::default()
    };
    let config = config::load(&overrides).map_err(|errors| {
        anyhow::anyhow!("the demo's own configuration is invalid: {:?}", errors.0)
    })?;
    let store = Arc::new(Store::open(&config.global.state)?);
    let secret = WebhookSecret::parse(&demo.secret)?;

    let api = tokio::spawn(serve_api(demo.api, shutdown.clone()));
    let receiver = tokio::spawn(crate::listen::serve(
        demo.receiver,
        vec![secret],
        output,
        shutdown.clone(),
    ));
    daemon::run(config, store, shutdown).await;

    api.await??;
    receiver.await??;
    Ok(())
}

fn bridge_file(source_url: &str, target_url: &str, secret: &str) -> String {
    format!(
        r#"# Written by pollhook demo: a local API whose orders change every {change}s.
[schedule]
every = "{POLL_EVERY}"

[source]
url = "{source_url}"

[items]
path = "$.data[*]"
id = "$.id"
ignore = ["$.updated_at"]

[emit]
# Send the orders of the first poll as item.created, so that events show at once.
first_poll = "emit"

[[targets]]
url = "{target_url}"
secret = "{secret}"
"#,
        change = CHANGE_EVERY.as_secs(),
    )
}

struct ApiClock {
    started: Instant,
}

async fn serve_api(listener: TcpListener, shutdown: CancellationToken) -> io::Result<()> {
    let clock = Arc::new(ApiClock {
        started: Instant::now(),
    });
    let app = Router::new()
        .route("/orders", get(current_orders))
        .with_state(clock);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn current_orders(State(clock): State<Arc<ApiClock>>) -> Json<Value> {
    let tick = clock.started.elapsed().as_secs() / CHANGE_EVERY.as_secs();
    Json(orders_at(tick))
}

/// Returns an output sink that writes to stdout, for the command.
pub fn stdout_sink() -> OutputSink {
    Arc::new(Mutex::new(io::stdout()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(tick: u64) -> Vec<(String, String)> {
        orders_at(tick)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|order| {
                (
                    order["id"].as_str().unwrap().to_owned(),
                    order["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn first_tick_has_one_open_order() {
        assert_eq!(statuses(0), [("A-1001".to_owned(), "open".to_owned())]);
    }

    #[test]
    fn each_tick_creates_updates_and_deletes() {
        let before = statuses(10);
        let after = statuses(11);

        let ids_before: Vec<&str> = before.iter().map(|(id, _)| id.as_str()).collect();
        let ids_after: Vec<&str> = after.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids_before, ["A-1011", "A-1010", "A-1009", "A-1008"]);
        assert_eq!(ids_after, ["A-1012", "A-1011", "A-1010", "A-1009"]);
        assert_eq!(after[1].1, "paid", "the open order was paid");
        assert_eq!(after[2].1, "shipped", "the paid order was shipped");
    }
}
