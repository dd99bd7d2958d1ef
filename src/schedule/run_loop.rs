//! The scheduling loop of one bridge: waits until a run is due, awaits the run, and
//! skips the slots that pass while it is running.
//!
//! The loop only decides when `on_due` runs. It must not poll, touch the database or
//! abort a run: the caller owns the work and decides how to stop it.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::timing::{jitter_delay, next_interval_slot, skipped_slots};
use super::{CronSchedule, Schedule};

/// Maximum length of one sleep while waiting for a cron firing. The loop reads the wall
/// clock after each sleep, so a clock step or a suspend and resume of the machine
/// delays a firing by at most about this much.
const MAX_CRON_SLEEP: Duration = Duration::from_secs(60);

/// Maximum number of skipped cron firings counted for the warning. A per-second
/// pattern behind a poll that hangs for a day would otherwise take 86,400 searches.
/// NOTE: past this limit the warning reports this number, not the real count.
const MAX_COUNTED_SKIPS: u64 = 10_000;

/// Runs `on_due` whenever `schedule` is due, until `shutdown` is cancelled.
///
/// - An interval schedule runs at once, then on the grid start + k × interval.
/// - A cron schedule runs at each firing of its pattern, timed by the system's wall
///   clock.
/// - Each run is delayed by a random jitter in `[0, jitter]`.
/// - Runs never overlap, because the loop awaits each run. Slots that pass meanwhile
///   are skipped, with one warning per run that caused skips. They are never run
///   back to back to catch up.
/// - A cron run that starts late, after a clock step or a suspend, skips the firings
///   it missed, with a warning of its own.
/// - Cancelling `shutdown` ends a sleep at once. A run in progress is awaited, and
///   no run starts after it.
///
/// The loop logs without a bridge name, so run it inside a span that records one.
pub async fn run_loop<F, Fut>(
    schedule: Schedule,
    jitter: Duration,
    shutdown: CancellationToken,
    on_due: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    match schedule {
        Schedule::Every(every) => run_interval_loop(every, jitter, &shutdown, on_due).await,
        Schedule::Cron(cron) => {
            run_cron_loop(&cron, jitter, &shutdown, on_due, &SystemClock).await;
        }
    }
}

/// Source of the current UTC time for cron schedules. Tests replace the system clock
/// with one that follows tokio's paused clock.
trait WallClock {
    fn now(&self) -> DateTime<Utc>;
}

struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

async fn run_interval_loop<F, Fut>(
    every: Duration,
    jitter: Duration,
    shutdown: &CancellationToken,
    mut on_due: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    if every.is_zero() {
        tracing::error!("interval schedule of 0s never advances, so this bridge does not poll");
        return;
    }

    let anchor = Instant::now();
    let mut slot = anchor;
    loop {
        let due = slot.checked_add(random_jitter(jitter)).unwrap_or(slot);
        if !sleep_until_or_cancelled(due, shutdown).await {
            return;
        }

        let started = Instant::now();
        on_due().await;
        let finished = Instant::now();

        let Some(next) = next_interval_slot(anchor, every, finished) else {
            tracing::error!(
                ?every,
                "next interval slot is out of range, so this bridge stops polling"
            );
            return;
        };
        warn_if_skipped(skipped_slots(slot, next, every), finished - started);
        slot = next;
    }
}

async fn run_cron_loop<F, Fut, C>(
    cron: &CronSchedule,
    jitter: Duration,
    shutdown: &CancellationToken,
    mut on_due: F,
    clock: &C,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
    C: WallClock,
{
    let mut after = clock.now();
    loop {
        let Some(firing) = cron.next_after(after) else {
            tracing::error!(
                pattern = cron.pattern(),
                "cron schedule has no future firing, so this bridge stops polling"
            );
            return;
        };
        tracing::debug!(next_run = %firing, "waiting for the next cron firing");

        let due = add_delay(firing, random_jitter(jitter));
        if !sleep_until_wall_clock(due, clock, shutdown).await {
            return;
        }

        let started_wall = clock.now();
        warn_if_started_late(
            count_firings(cron, firing, started_wall),
            firing,
            started_wall,
        );

        let started = Instant::now();
        on_due().await;
        let finished = clock.now();

        let skipped = count_firings(cron, firing.max(started_wall), finished);
        warn_if_skipped(skipped, started.elapsed());
        // Searching from the firing that ran, even if the wall clock was set back during
        // the run, keeps that firing from running twice.
        after = finished.max(firing);
    }
}

/// Sleeps until `deadline` and returns true, or returns false as soon as `shutdown`
/// is cancelled.
async fn sleep_until_or_cancelled(deadline: Instant, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep_until(deadline) => true,
    }
}

/// Sleeps until the wall clock reaches `due` and returns true, or returns false as soon
/// as `shutdown` is cancelled.
async fn sleep_until_wall_clock(
    due: DateTime<Utc>,
    clock: &impl WallClock,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        // A negative remaining time fails the conversion, and means `due` has passed.
        let remaining = (due - clock.now()).to_std().unwrap_or(Duration::ZERO);
        if remaining.is_zero() {
            return !shutdown.is_cancelled();
        }

        let deadline = Instant::now() + remaining.min(MAX_CRON_SLEEP);
        if !sleep_until_or_cancelled(deadline, shutdown).await {
            return false;
        }
    }
}

/// Counts the firings after `ran` up to and including `until`, up to
/// [`MAX_COUNTED_SKIPS`].
fn count_firings(cron: &CronSchedule, ran: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let mut count = 0;
    let mut after = ran;
    while count < MAX_COUNTED_SKIPS {
        match cron.next_after(after) {
            Some(next) if next <= until => {
                count += 1;
                after = next;
            }
            _ => break,
        }
    }
    count
}

fn warn_if_skipped(skipped_runs: u64, poll_duration: Duration) {
    if skipped_runs > 0 {
        tracing::warn!(
            skipped_runs,
            ?poll_duration,
            "skipped scheduled runs because the previous poll was still running"
        );
    }
}

/// Warns about cron firings that passed while the run of an earlier firing was
/// delayed. This happens when the wall clock jumps forward, when the machine resumes
/// from a suspend, or when the jitter is longer than the time between firings.
fn warn_if_started_late(skipped_runs: u64, firing: DateTime<Utc>, started: DateTime<Utc>) {
    if skipped_runs > 0 {
        tracing::warn!(
            skipped_runs,
            %firing,
            %started,
            "skipped cron firings that passed before the delayed run started"
        );
    }
}

fn random_jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    jitter_delay(max, &mut rand::rng())
}

/// Adds `delay` to `instant`, or returns `instant` when the sum is out of range.
fn add_delay(instant: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(delay)
        .ok()
        .and_then(|delta| instant.checked_add_signed(delta))
        .unwrap_or(instant)
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use chrono::TimeZone;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    const EVERY: Duration = Duration::from_secs(10);
    /// Upper bound on each test's loop in paused time, so a loop that never stops fails
    /// the test instead of hanging it.
    const TEST_LIMIT: Duration = Duration::from_secs(24 * 3600);

    /// A wall clock that advances with tokio's (paused) clock from a fixed start, and
    /// that a test can step forward.
    #[derive(Clone)]
    struct PausedWallClock {
        wall_at_start: DateTime<Utc>,
        start: Instant,
        steps_seconds: Arc<AtomicI64>,
    }

    impl PausedWallClock {
        fn starting_at(wall_at_start: DateTime<Utc>) -> Self {
            Self {
                wall_at_start,
                start: Instant::now(),
                steps_seconds: Arc::default(),
            }
        }

        fn step_forward(&self, seconds: i64) {
            self.steps_seconds.fetch_add(seconds, Ordering::SeqCst);
        }
    }

    impl WallClock for PausedWallClock {
        fn now(&self) -> DateTime<Utc> {
            let elapsed = TimeDelta::from_std(self.start.elapsed()).expect("elapsed fits");
            let steps = TimeDelta::seconds(self.steps_seconds.load(Ordering::SeqCst));
            self.wall_at_start + elapsed + steps
        }
    }

    /// Log output of the tests that check warnings, written by a tracing subscriber.
    #[derive(Clone, Default)]
    struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

    impl CapturedLogs {
        /// Installs a subscriber that writes into these logs on the current thread.
        fn install(&self) -> tracing::subscriber::DefaultGuard {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(self.clone())
                .with_ansi(false)
                .without_time()
                .finish();
            tracing::subscriber::set_default(subscriber)
        }

        fn text(&self) -> String {
            let bytes = self.0.lock().expect("log buffer lock").clone();
            String::from_utf8(bytes).expect("logs are UTF-8")
        }

        fn warnings(&self) -> Vec<String> {
            let text = self.text();
            text.lines()
                .filter(|line| line.contains("WARN"))
                .map(str::to_owned)
                .collect()
        }
    }

    impl io::Write for CapturedLogs {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .expect("log buffer lock")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for CapturedLogs {
        type Writer = Self;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Start times of runs, relative to the test's start, and the runs in progress.
    #[derive(Clone)]
    struct RunLog {
        start: Instant,
        starts: Arc<Mutex<Vec<Duration>>>,
        in_progress: Arc<AtomicUsize>,
        max_in_progress: Arc<AtomicUsize>,
    }

    impl RunLog {
        fn new() -> Self {
            Self {
                start: Instant::now(),
                starts: Arc::default(),
                in_progress: Arc::default(),
                max_in_progress: Arc::default(),
            }
        }

        /// Returns a run that records its start, takes `duration`, and cancels
        /// `shutdown` once `stop_after` runs have started.
        fn run(
            &self,
            duration: Duration,
            stop_after: usize,
            shutdown: &CancellationToken,
        ) -> impl Future<Output = ()> {
            let log = self.clone();
            let shutdown = shutdown.clone();
            async move {
                let running = log.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
                log.max_in_progress.fetch_max(running, Ordering::SeqCst);
                let started = {
                    let mut starts = log.starts.lock().expect("run log lock");
                    starts.push(log.start.elapsed());
                    starts.len()
                };
                if started >= stop_after {
                    shutdown.cancel();
                }

                tokio::time::sleep(duration).await;
                log.in_progress.fetch_sub(1, Ordering::SeqCst);
            }
        }

        fn starts(&self) -> Vec<Duration> {
            self.starts.lock().expect("run log lock").clone()
        }

        fn runs(&self) -> usize {
            self.starts.lock().expect("run log lock").len()
        }
    }

    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, minute, second)
            .single()
            .expect("valid UTC date")
    }

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    async fn within_limit(future: impl Future<Output = ()>) {
        tokio::time::timeout(TEST_LIMIT, future)
            .await
            .expect("loop stopped in time");
    }

    #[tokio::test(start_paused = true)]
    async fn interval_runs_at_start_and_on_grid() {
        let shutdown = CancellationToken::new();
        let log = RunLog::new();

        let on_due = || log.run(Duration::ZERO, 3, &shutdown);
        within_limit(run_loop(
            Schedule::Every(EVERY),
            Duration::ZERO,
            shutdown.clone(),
            on_due,
        ))
        .await;

        assert_eq!(log.starts(), [Duration::ZERO, EVERY, 2 * EVERY]);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_run_skips_to_next_grid_slot() {
        let logs = CapturedLogs::default();
        let _guard = logs.install();
        let shutdown = CancellationToken::new();
        let log = RunLog::new();
        let calls = AtomicUsize::new(0);

        // The first run takes 2.5 intervals, so the slots at 1 and 2 intervals pass.
        let on_due = || {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            let duration = if first { EVERY * 5 / 2 } else { Duration::ZERO };
            log.run(duration, 3, &shutdown)
        };
        within_limit(run_loop(
            Schedule::Every(EVERY),
            Duration::ZERO,
            shutdown.clone(),
            on_due,
        ))
        .await;

        assert_eq!(log.starts(), [Duration::ZERO, 3 * EVERY, 4 * EVERY]);
        let warnings = logs.warnings();
        assert_eq!(warnings.len(), 1, "warnings: {warnings:?}");
        assert!(
            warnings[0].contains("skipped_runs=2"),
            "warning: {}",
            warnings[0]
        );
        assert!(warnings[0].contains("previous poll was still running"));
    }

    #[tokio::test(start_paused = true)]
    async fn runs_never_overlap() {
        let shutdown = CancellationToken::new();
        let log = RunLog::new();
        let calls = AtomicUsize::new(0);
        let durations = [EVERY / 2, EVERY * 3 / 2, EVERY * 32 / 10, Duration::ZERO];

        let on_due = || {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            log.run(durations[call % durations.len()], 12, &shutdown)
        };
        within_limit(run_loop(
            Schedule::Every(EVERY),
            Duration::ZERO,
            shutdown.clone(),
            on_due,
        ))
        .await;

        assert_eq!(log.max_in_progress.load(Ordering::SeqCst), 1);
        let starts = log.starts();
        assert_eq!(starts.len(), 12);
        for pair in starts.windows(2) {
            assert!(pair[1] > pair[0], "runs out of order: {starts:?}");
        }
        for start in &starts {
            assert_eq!(
                start.as_nanos() % EVERY.as_nanos(),
                0,
                "run off the grid: {starts:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_sleep_stops_without_another_run() {
        let shutdown = CancellationToken::new();
        let log = RunLog::new();
        let canceller = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(EVERY / 2).await;
            canceller.cancel();
        });

        let on_due = || log.run(Duration::ZERO, usize::MAX, &shutdown);
        within_limit(run_loop(
            Schedule::Every(EVERY),
            Duration::ZERO,
            shutdown.clone(),
            on_due,
        ))
        .await;

        assert_eq!(log.runs(), 1);
        assert_eq!(log.start.elapsed(), EVERY / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_run_awaits_the_run() {
        let shutdown = CancellationToken::new();
        let log = RunLog::new();

        // The run cancels `shutdown` as it starts, then takes 2.5 intervals.
        let on_due = || log.run(EVERY * 5 / 2, 1, &shutdown);
        within_limit(run_loop(
            Schedule::Every(EVERY),
            Duration::ZERO,
            shutdown.clone(),
            on_due,
        ))
        .await;

        assert_eq!(log.runs(), 1);
        assert_eq!(log.in_progress.load(Ordering::SeqCst), 0);
        assert_eq!(log.start.elapsed(), EVERY * 5 / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_delays_each_run_within_bound() {
        let shutdown = CancellationToken::new();
        let log = RunLog::new();
        let jitter = secs(3);

        let on_due = || log.run(Duration::ZERO, 20, &shutdown);
        within_limit(run_loop(
            Schedule::Every(EVERY),
            jitter,
            shutdown.clone(),
            on_due,
        ))
        .await;

        let starts = log.starts();
        assert_eq!(starts.len(), 20);
        for (slot, start) in starts.iter().enumerate() {
            let slot_time = EVERY * u32::try_from(slot).expect("small index");
            assert!(*start >= slot_time, "run {slot} at {start:?}");
            assert!(*start <= slot_time + jitter, "run {slot} at {start:?}");
        }
        assert!(starts
            .iter()
            .any(|start| start.as_nanos() % EVERY.as_nanos() != 0));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_interval_never_runs() {
        let shutdown = CancellationToken::new();
        let log = RunLog::new();

        let on_due = || log.run(Duration::ZERO, usize::MAX, &shutdown);
        within_limit(run_loop(
            Schedule::Every(Duration::ZERO),
            Duration::ZERO,
            shutdown.clone(),
            on_due,
        ))
        .await;

        assert_eq!(log.runs(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn cron_runs_at_wall_clock_firings() {
        let clock = PausedWallClock::starting_at(utc(2026, 1, 1, 10, 0, 5));
        let every_ten_seconds = CronSchedule::parse("*/10 * * * * *", Some("UTC")).expect("valid");
        let shutdown = CancellationToken::new();
        let wall_times = Mutex::new(Vec::new());
        let log = RunLog::new();

        let on_due = || {
            wall_times.lock().expect("lock").push(clock.now());
            log.run(Duration::ZERO, 3, &shutdown)
        };
        within_limit(run_cron_loop(
            &every_ten_seconds,
            Duration::ZERO,
            &shutdown,
            on_due,
            &clock,
        ))
        .await;

        assert_eq!(
            *wall_times.lock().expect("lock"),
            [
                utc(2026, 1, 1, 10, 0, 10),
                utc(2026, 1, 1, 10, 0, 20),
                utc(2026, 1, 1, 10, 0, 30)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cron_slow_run_skips_missed_firings() {
        let logs = CapturedLogs::default();
        let _guard = logs.install();
        let clock = PausedWallClock::starting_at(utc(2026, 1, 1, 10, 0, 5));
        let every_ten_seconds = CronSchedule::parse("*/10 * * * * *", Some("UTC")).expect("valid");
        let shutdown = CancellationToken::new();
        let wall_times = Mutex::new(Vec::new());
        let log = RunLog::new();

        // The first run, at 10:00:10, lasts until 10:00:35, past the firings at :20 and :30.
        let on_due = || {
            let mut wall_times = wall_times.lock().expect("lock");
            let duration = if wall_times.is_empty() {
                secs(25)
            } else {
                Duration::ZERO
            };
            wall_times.push(clock.now());
            log.run(duration, 3, &shutdown)
        };
        within_limit(run_cron_loop(
            &every_ten_seconds,
            Duration::ZERO,
            &shutdown,
            on_due,
            &clock,
        ))
        .await;

        assert_eq!(
            *wall_times.lock().expect("lock"),
            [
                utc(2026, 1, 1, 10, 0, 10),
                utc(2026, 1, 1, 10, 0, 40),
                utc(2026, 1, 1, 10, 0, 50)
            ]
        );
        assert_eq!(log.max_in_progress.load(Ordering::SeqCst), 1);
        let warnings = logs.warnings();
        assert_eq!(warnings.len(), 1, "warnings: {warnings:?}");
        assert!(
            warnings[0].contains("skipped_runs=2"),
            "warning: {}",
            warnings[0]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cron_clock_jump_skips_passed_firings() {
        let logs = CapturedLogs::default();
        let _guard = logs.install();
        let clock = PausedWallClock::starting_at(utc(2026, 1, 1, 10, 0, 5));
        let every_ten_seconds = CronSchedule::parse("*/10 * * * * *", Some("UTC")).expect("valid");
        let shutdown = CancellationToken::new();
        let wall_times = Mutex::new(Vec::new());
        let log = RunLog::new();

        // At 10:00:08 the wall clock jumps to 10:00:38, while the loop waits for 10:00:10.
        let stepped_clock = clock.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(3)).await;
            stepped_clock.step_forward(30);
        });
        let on_due = || {
            wall_times.lock().expect("lock").push(clock.now());
            log.run(Duration::ZERO, 3, &shutdown)
        };
        within_limit(run_cron_loop(
            &every_ten_seconds,
            Duration::ZERO,
            &shutdown,
            on_due,
            &clock,
        ))
        .await;

        // The 10:00:10 run starts late at 10:00:40, and 10:00:20 to 10:00:40 are skipped.
        assert_eq!(
            *wall_times.lock().expect("lock"),
            [
                utc(2026, 1, 1, 10, 0, 40),
                utc(2026, 1, 1, 10, 0, 50),
                utc(2026, 1, 1, 10, 1, 0)
            ]
        );
        let warnings = logs.warnings();
        assert_eq!(warnings.len(), 1, "warnings: {warnings:?}");
        assert!(
            warnings[0].contains("skipped_runs=3"),
            "warning: {}",
            warnings[0]
        );
        assert!(warnings[0].contains("before the delayed run started"));
    }

    #[tokio::test(start_paused = true)]
    async fn cron_runs_repeated_hour_once() {
        // 00:30 UTC on 2026-10-25 is 02:30 CEST. The wall times 02:00 to 02:59 then
        // repeat in CET from 01:00 UTC, and must not run again.
        let clock = PausedWallClock::starting_at(utc(2026, 10, 25, 0, 30, 0));
        let every_twenty_minutes =
            CronSchedule::parse("*/20 * * * *", Some("Europe/Berlin")).expect("valid");
        let shutdown = CancellationToken::new();
        let wall_times = Mutex::new(Vec::new());
        let log = RunLog::new();

        let on_due = || {
            wall_times.lock().expect("lock").push(clock.now());
            log.run(Duration::ZERO, 3, &shutdown)
        };
        within_limit(run_cron_loop(
            &every_twenty_minutes,
            Duration::ZERO,
            &shutdown,
            on_due,
            &clock,
        ))
        .await;

        // 02:40 CEST, then 03:00 CET and 03:20 CET.
        assert_eq!(
            *wall_times.lock().expect("lock"),
            [
                utc(2026, 10, 25, 0, 40, 0),
                utc(2026, 10, 25, 2, 0, 0),
                utc(2026, 10, 25, 2, 20, 0)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cron_shutdown_during_sleep_stops_without_run() {
        let clock = PausedWallClock::starting_at(utc(2026, 1, 1, 10, 0, 5));
        let hourly = CronSchedule::parse("@hourly", Some("UTC")).expect("valid");
        let shutdown = CancellationToken::new();
        let log = RunLog::new();
        let canceller = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(600)).await;
            canceller.cancel();
        });

        let on_due = || log.run(Duration::ZERO, usize::MAX, &shutdown);
        within_limit(run_cron_loop(
            &hourly,
            Duration::ZERO,
            &shutdown,
            on_due,
            &clock,
        ))
        .await;

        assert_eq!(log.runs(), 0);
        assert_eq!(log.start.elapsed(), secs(600));
    }

    #[test]
    fn loop_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let cron = CronSchedule::parse("@hourly", Some("UTC")).expect("valid");

        let interval_loop = run_loop(
            Schedule::Every(EVERY),
            Duration::ZERO,
            CancellationToken::new(),
            || async {},
        );
        let cron_loop = run_loop(
            Schedule::Cron(cron),
            Duration::ZERO,
            CancellationToken::new(),
            || async {},
        );

        assert_send(&interval_loop);
        assert_send(&cron_loop);
    }
}
