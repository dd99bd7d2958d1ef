//! Temporary stand-in, replaced by the scheduler branch.
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron(CronSchedule),
}

#[derive(Debug, Clone)]
pub struct CronSchedule {
    pub pattern: String,
}

impl CronSchedule {
    pub fn parse(pattern: &str, _timezone: Option<&str>) -> Result<CronSchedule, String> {
        Ok(CronSchedule {
            pattern: pattern.to_owned(),
        })
    }
}

pub async fn run_loop<F, Fut>(
    schedule: Schedule,
    _jitter: Duration,
    shutdown: tokio_util::sync::CancellationToken,
    mut on_due: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let every = match schedule {
        Schedule::Every(every) => every,
        Schedule::Cron(_) => Duration::from_secs(60),
    };
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => on_due().await,
        }
    }
}
