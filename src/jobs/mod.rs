//! Background work of a serving instance: the deadline sweep (at start, then each minute), the
//! push outbox and scheduled backups. Each pass is a service call run off the async runtime; a
//! failed pass is logged and the next one tries again.

pub mod backup;
pub mod outbox;

use std::sync::Arc;
use std::time::Duration;

use crate::service::Service;

/// How often the deadline sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Runs the deadline sweep now and then every `every`, until the runtime stops.
pub fn spawn_sweep(svc: Arc<Service>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match svc.blocking(|s| s.sweep()).await {
                Ok(r) if r.did_anything() => tracing::info!(?r, "deadline sweep"),
                Ok(_) => {}
                Err(e) => tracing::error!("deadline sweep failed: {e}"),
            }
        }
    })
}
