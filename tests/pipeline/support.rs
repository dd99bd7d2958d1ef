//! Shared fixtures for the end-to-end tests: an upstream API whose response a
//! test changes between polls, a webhook receiver that records every request
//! and responds with scripted status codes, and a workspace directory in which the
//! real `pollhook` binary runs.
//!
//! Both servers listen on `127.0.0.1:0` inside one runtime shared by the whole
//! test binary, so the tests themselves stay synchronous and run the binary
//! with `std::process`.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tempfile::TempDir;
use tokio::runtime::Runtime;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Global file written into every workspace. Retries are one second apart so
/// that the daemon test retries quickly.
const GLOBAL_CONFIG: &str = r#"state = "state.db"
bridges = "bridges"

[delivery]
timeout = "5s"
retry_schedule = ["1s", "1s", "1s"]
"#;

/// How long a test waits for the daemon before it fails.
pub const DAEMON_DEADLINE: Duration = Duration::from_secs(20);

/// Returns the runtime that hosts every server of this test binary.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build the test servers' runtime")
    })
}

/// Serves `app` on a free port of 127.0.0.1 until the returned guard drops.
pub fn serve(app: Router) -> (String, DropGuard) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let base_url = format!("http://{}", listener.local_addr().expect("local address"));

    let stop = CancellationToken::new();
    let stopped = stop.clone();
    runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped.cancelled_owned())
            .await
            .expect("test server failed");
    });
    (base_url, stop.drop_guard())
}

/// Locks a mutex even when it is poisoned, because a panicking test must not
/// hide the state that the next assertion would show.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One response of the upstream API.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Time the upstream waits before it sends the response.
    pub delay: Duration,
}

impl Reply {
    /// Builds a 200 response with `value` as its JSON body.
    pub fn json(value: &Value) -> Reply {
        Reply::raw(200, "application/json", &value.to_string())
    }

    pub fn raw(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            content_type: content_type.to_owned(),
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// An HTTP API that responds to every request with the current [`Reply`].
pub struct Upstream {
    base_url: String,
    state: Arc<UpstreamState>,
    _stop: DropGuard,
}

struct UpstreamState {
    reply: Mutex<Reply>,
    /// Path and query of every request, in arrival order.
    requests: Mutex<Vec<String>>,
}

impl Upstream {
    pub fn start(reply: Reply) -> Upstream {
        let state = Arc::new(UpstreamState {
            reply: Mutex::new(reply),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(respond_upstream)
            .with_state(state.clone());
        let (base_url, stop) = serve(app);
        Upstream {
            base_url,
            state,
            _stop: stop,
        }
    }

    /// Returns the URL of `path_and_query` on this server, such as `/orders?page=1`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }

    pub fn reply_with(&self, reply: Reply) {
        *lock(&self.state.reply) = reply;
    }

    pub fn reply_json(&self, value: &Value) {
        self.reply_with(Reply::json(value));
    }

    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }
}

async fn respond_upstream(State(state): State<Arc<UpstreamState>>, uri: Uri) -> Response {
    lock(&state.requests).push(uri.to_string());
    let reply = lock(&state.reply).clone();
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).expect("valid status code");
    (
        status,
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}

/// A request that the receiver recorded.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Status code of the receiver's response.
    pub response_status: u16,
    pub arrived_at: Instant,
}

impl Received {
    /// Returns the header's value, or panics with the request's headers.
    pub fn header(&self, name: &str) -> &str {
        let value = self
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name} in {:?}", self.headers));
        value
            .to_str()
            .unwrap_or_else(|_| panic!("header {name} is not visible ASCII: {value:?}"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "webhook body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A webhook receiver that records every request. It responds with the
/// scripted status codes first, one per request, then with the default one.
pub struct Receiver {
    base_url: String,
    state: Arc<ReceiverState>,
    _stop: DropGuard,
}

struct ReceiverState {
    log: Mutex<ReceiverLog>,
    arrived: Condvar,
}

struct ReceiverLog {
    requests: Vec<Received>,
    scripted: VecDeque<u16>,
    default_status: u16,
}

impl Receiver {
    /// Starts a receiver that accepts every request with 200.
    pub fn start() -> Receiver {
        let state = Arc::new(ReceiverState {
            log: Mutex::new(ReceiverLog {
                requests: Vec::new(),
                scripted: VecDeque::new(),
                default_status: 200,
            }),
            arrived: Condvar::new(),
        });
        let app = Router::new()
            .fallback(record_webhook)
            .with_state(state.clone());
        let (base_url, stop) = serve(app);
        Receiver {
            base_url,
            state,
            _stop: stop,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/hooks", self.base_url)
    }

    /// Sets the status code for every request after the scripted ones.
    pub fn respond_with(&self, status: u16) {
        lock(&self.state.log).default_status = status;
    }

    /// Queues status codes for the next requests, one each, before the default.
    pub fn script(&self, statuses: &[u16]) {
        lock(&self.state.log).scripted.extend(statuses);
    }

    pub fn requests(&self) -> Vec<Received> {
        lock(&self.state.log).requests.clone()
    }

    /// Waits until at least `count` requests have arrived, or fails after
    /// `deadline` with `context` (such as the daemon's log) in the message.
    pub fn wait_for(&self, count: usize, deadline: Duration, context: impl Fn() -> String) {
        let log = lock(&self.state.log);
        let (log, timeout) = self
            .state
            .arrived
            .wait_timeout_while(log, deadline, |log| log.requests.len() < count)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if timeout.timed_out() {
            let bodies: Vec<String> = log
                .requests
                .iter()
                .map(|request| String::from_utf8_lossy(&request.body).into_owned())
                .collect();
            drop(log);
            panic!(
                "receiver got {} of {count} expected requests within {deadline:?}: {bodies:#?}\n{}",
                bodies.len(),
                context()
            );
        }
    }
}

async fn record_webhook(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut log = lock(&state.log);
    let status = log.scripted.pop_front().unwrap_or(log.default_status);
    log.requests.push(Received {
        headers,
        body,
        response_status: status,
        arrived_at: Instant::now(),
    });
    drop(log);
    state.arrived.notify_all();
    StatusCode::from_u16(status).expect("valid status code")
}

/// A temporary directory with `pollhook.toml` and a `bridges` directory, in
/// which the binary runs.
pub struct Workspace {
    dir: TempDir,
}

/// What one run of `pollhook poll` printed.
#[derive(Debug)]
pub struct PollRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        fs::write(dir.path().join("pollhook.toml"), GLOBAL_CONFIG).expect("write pollhook.toml");
        fs::create_dir(dir.path().join("bridges")).expect("create the bridges directory");
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the global file `pollhook.toml`.
    pub fn write_global(&self, toml: &str) {
        fs::write(self.path().join("pollhook.toml"), toml).expect("write pollhook.toml");
    }

    pub fn write_bridge(&self, name: &str, toml: &str) {
        let file = self.path().join("bridges").join(format!("{name}.toml"));
        fs::write(file, toml).expect("write the bridge file");
    }

    /// Appends `toml` to the workspace's `pollhook.toml`.
    pub fn append_global(&self, toml: &str) {
        let path = self.path().join("pollhook.toml");
        let mut text = fs::read_to_string(&path).expect("read pollhook.toml");
        text.push_str(toml);
        fs::write(path, text).expect("write pollhook.toml");
    }

    pub fn remove_bridge(&self, name: &str) {
        let file = self.path().join("bridges").join(format!("{name}.toml"));
        fs::remove_file(file).expect("remove the bridge file");
    }

    /// Returns `pollhook --config pollhook.toml ARGS` to run in this
    /// workspace, with no `POLLHOOK_*` or `RUST_LOG` variables inherited.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pollhook"));
        command
            .current_dir(self.path())
            .args(["--config", "pollhook.toml"])
            .args(args)
            .env_remove("RUST_LOG");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("POLLHOOK_") {
                command.env_remove(name);
            }
        }
        command
    }

    /// Runs `pollhook poll NAME` and returns what it printed.
    pub fn poll(&self, name: &str) -> PollRun {
        run(self.command(&["poll", name]))
    }

    /// Starts `pollhook run` with its output in `daemon.log`.
    pub fn start_daemon(&self) -> Daemon {
        self.start_daemon_with_env(&[])
    }

    /// Starts `pollhook run` like [`Workspace::start_daemon`], with extra
    /// environment variables.
    pub fn start_daemon_with_env(&self, env: &[(&str, &str)]) -> Daemon {
        let log_path = self.path().join("daemon.log");
        let log = fs::File::create(&log_path).expect("create daemon.log");
        let child = self
            .command(&["run"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .expect("start pollhook run");
        Daemon {
            child: Some(child),
            log_path,
        }
    }

    /// Returns the bytes of the state database and of its WAL and shared
    /// memory files, if they exist.
    pub fn state_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        [
            "state.db",
            "state.db-wal",
            "state.db-shm",
            "state.db-journal",
        ]
        .iter()
        .map(|name| self.path().join(name))
        .filter(|path| path.exists())
        .map(|path| {
            let bytes = fs::read(&path).expect("read the state file");
            (path, bytes)
        })
        .collect()
    }
}

/// Runs `command` to completion and captures its output.
pub fn run(mut command: Command) -> PollRun {
    let output = command.output().expect("run pollhook");
    PollRun {
        status: output.status,
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

impl PollRun {
    /// Parses stdout: one JSON event per line.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("stdout line is not JSON ({error}): {line}\n{self}")
                })
            })
            .collect()
    }

    /// Fails unless the run exited 0, then returns its events.
    pub fn expect_success(&self) -> Vec<Value> {
        assert!(self.status.success(), "pollhook failed: {self}");
        self.events()
    }

    /// Fails unless the run exited non-zero and printed no event.
    pub fn expect_failure(&self) {
        assert!(!self.status.success(), "pollhook succeeded: {self}");
        assert_eq!(self.stdout, "", "a failed poll printed events: {self}");
    }
}

impl std::fmt::Display for PollRun {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A running `pollhook run`. Dropping it kills the process, so that a failed
/// test leaves no daemon behind.
pub struct Daemon {
    child: Option<Child>,
    log_path: PathBuf,
}

impl Daemon {
    /// Kills the process with SIGKILL, as a crash or power loss would end it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("send SIGKILL");
            child.wait().expect("wait for the killed daemon");
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Returns the process id, such as for `kill`.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the daemon is running").id()
    }

    /// Sends SIGHUP, which makes the daemon reload its configuration.
    pub fn reload(&self) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -HUP {pid} failed");
    }

    /// Waits until the log contains `needle` at least `count` times.
    pub fn wait_for_log(&self, needle: &str, count: usize) {
        wait_until(
            &format!("{count} log line(s) with {needle:?}"),
            DAEMON_DEADLINE,
            || self.log().matches(needle).count() >= count,
            || self.log(),
        );
    }

    /// Sends SIGTERM and waits up to `deadline` for the exit status.
    pub fn terminate(&mut self, deadline: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("the daemon is running");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");

        // `Child::wait` blocks without a timeout, so it runs on its own thread.
        let (sender, exited) = mpsc::channel();
        let started = Instant::now();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = sender.send(status);
        });
        match exited.recv_timeout(deadline) {
            Ok(status) => {
                waiter.join().expect("join the waiting thread");
                status.expect("wait for pollhook run")
            }
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                panic!(
                    "pollhook run did not exit within {:?} of SIGTERM; log:\n{}",
                    started.elapsed(),
                    self.log()
                );
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Returns a per-item bridge file polling `source_url` hourly and sending to
/// `target_url`, with `$.updated_at` ignored. `extra` is appended, such as an
/// `[emit]` table.
pub fn items_bridge(source_url: &str, target_url: &str, extra: &str) -> String {
    format!(
        r#"[schedule]
every = "1h"

[source]
url = "{source_url}"
timeout = "5s"

[items]
path = "$.data[*]"
id = "$.id"
ignore = ["$.updated_at"]

[[targets]]
url = "{target_url}"

{extra}
"#
    )
}

/// Returns `{"data": items}`, the response shape that [`items_bridge`] reads.
pub fn data(items: &[Value]) -> Value {
    serde_json::json!({ "data": items })
}

/// Returns the events' `type` and `data.id` pairs, for order checks.
pub fn kinds_and_ids(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|event| {
            let kind = event["type"].as_str().unwrap_or("(no type)").to_owned();
            let id = event["data"]["id"].as_str().unwrap_or("(no id)").to_owned();
            (kind, id)
        })
        .collect()
}

/// Calls `condition` every 20 ms until it returns true, or fails after
/// `deadline` with `context` (such as the daemon's log) in the message.
pub fn wait_until(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() > deadline {
            panic!(
                "timed out after {deadline:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A response of [`http_get`].
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// Sends a GET request from the test servers' runtime and reads the whole
/// response.
pub fn http_get(url: &str) -> HttpResponse {
    runtime().block_on(async {
        let response = reqwest::get(url)
            .await
            .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.expect("read the response body");
        HttpResponse {
            status,
            content_type,
            body,
        }
    })
}
