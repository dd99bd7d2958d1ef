//! Fixtures for the source tests: an HTTP server on 127.0.0.1:0 whose
//! responses a test computes from each request, and a bridge loaded from
//! TOML the way `pollhook` loads it, with its own state database.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use pollhook::config::{load_bridge_file, Bridge};
use pollhook::poll::{poll_now, poll_once, PollError, PollMode, PollReport};
use pollhook::source::source_client;
use pollhook::store::Store;
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::{CancellationToken, DropGuard};

/// One request that a [`Server`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, such as `/items?page=2`.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Returns the value of query parameter `name`, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(&format!("http://x{}", self.uri)).ok()?;
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

type Handler = dyn Fn(&Recorded) -> Response + Send + Sync;

/// An HTTP server that responds to each request with its handler's response
/// and records every request. It stops when dropped.
pub struct Server {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    _stop: DropGuard,
}

struct ServerState {
    handler: Box<Handler>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    /// Starts a server on the current tokio runtime.
    pub async fn start(handler: impl Fn(&Recorded) -> Response + Send + Sync + 'static) -> Server {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ServerState {
            handler: Box::new(handler),
            requests: requests.clone(),
        });
        let app = Router::new().fallback(respond).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await
                .expect("test server failed");
        });
        Server {
            base,
            requests,
            _stop: stop.drop_guard(),
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }
}

async fn respond(State(state): State<Arc<ServerState>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    state.requests.lock().unwrap().push(recorded.clone());
    (state.handler)(&recorded)
}

/// Builds a response with `status`, the headers and the body bytes.
pub fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response {
    let mut builder = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// Builds a 200 JSON response.
pub fn json_reply(value: &Value) -> Response {
    reply(
        200,
        &[("content-type", "application/json")],
        value.to_string(),
    )
}

/// A bridge named `source` loaded from TOML, with a state database in a
/// temporary directory.
pub struct TestBridge {
    pub bridge: Arc<Bridge>,
    pub store: Arc<Store>,
    _dir: TempDir,
}

impl TestBridge {
    /// Loads `toml` (a bridge file without `[schedule]` and `[[targets]]`,
    /// which are added) as `pollhook` would.
    pub fn load(toml: &str) -> TestBridge {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let file = write_bridge(&dir, toml);
        let bridge = load_bridge_file(&file).unwrap_or_else(|errors| {
            let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("bridge file is invalid:\n{}", messages.join("\n"))
        });
        let store = Store::open(&dir.path().join("state.db")).expect("open the state database");
        TestBridge {
            bridge: Arc::new(bridge),
            store: Arc::new(store),
            _dir: dir,
        }
    }

    pub async fn poll(&self) -> Result<PollReport, PollError> {
        poll_once(
            self.bridge.clone(),
            &source_client(),
            self.store.clone(),
            PollMode::Record,
        )
        .await
    }

    /// Polls as `pollhook poll` does, even while a rate limit asks to wait.
    pub async fn poll_now(&self) -> Result<PollReport, PollError> {
        poll_now(
            self.bridge.clone(),
            &source_client(),
            self.store.clone(),
            PollMode::Record,
        )
        .await
    }

    /// Polls and panics with the error when the poll fails.
    pub async fn poll_ok(&self) -> PollReport {
        match self.poll().await {
            Ok(report) => report,
            Err(error) => panic!("poll failed: {error}"),
        }
    }

    /// Returns the ids in the snapshot, sorted.
    pub fn snapshot_ids(&self) -> Vec<String> {
        let snapshot = self.store.load_snapshot(&self.bridge.name).unwrap();
        let mut ids: Vec<String> = snapshot
            .items
            .keys()
            .map(|id| id.as_str().to_owned())
            .collect();
        ids.sort();
        ids
    }
}

/// Returns the messages of the errors in `toml`, loaded as a bridge file.
pub fn config_errors(toml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let file = write_bridge(&dir, toml);
    match load_bridge_file(&file) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn write_bridge(dir: &TempDir, toml: &str) -> std::path::PathBuf {
    let file = dir.path().join("source.toml");
    let text = format!(
        "[schedule]\nevery = \"1m\"\n\n{toml}\n\n[[targets]]\nurl = \"http://127.0.0.1:9/hooks\"\n"
    );
    std::fs::write(&file, text).expect("write the bridge file");
    file
}

/// Returns `kind id` for each event of a report, such as `item.created A-1`.
pub fn events(report: &PollReport) -> Vec<String> {
    report
        .events
        .iter()
        .map(|event| {
            let body: Value = serde_json::from_slice(&event.body).unwrap();
            match body["data"]["id"].as_str() {
                Some(id) => format!("{} {id}", body["type"].as_str().unwrap()),
                None => body["type"].as_str().unwrap().to_owned(),
            }
        })
        .collect()
}

/// Returns the body of the event about `id`.
pub fn event_data(report: &PollReport, id: &str) -> Value {
    report
        .events
        .iter()
        .map(|event| serde_json::from_slice::<Value>(&event.body).unwrap())
        .find(|body| body["data"]["id"] == id)
        .unwrap_or_else(|| panic!("no event for {id}"))["data"]
        .clone()
}
