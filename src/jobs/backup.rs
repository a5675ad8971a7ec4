//! Scheduled backups: a minute after start and then every few minutes, a backup is made when
//! the newest in the backup directory is `--backup-every-hours` old (so restarts neither skip
//! nor repeat one); retention keeps the newest `--backup-keep`.

use std::sync::Arc;
use std::time::Duration;

use crate::service::Service;

/// How often the schedule looks at the backup directory.
pub const BACKUP_CHECK_EVERY: Duration = Duration::from_secs(10 * 60);
/// The first look, once start-up work (the rematch) has had its turn.
pub const BACKUP_FIRST_CHECK: Duration = Duration::from_secs(60);

/// Runs the schedule until the runtime stops; a failed backup is logged and tried again at the
/// next look.
pub fn spawn(svc: Arc<Service>, first: Duration, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match svc.blocking(|s| s.backup_if_due()).await {
                Ok(Some(made)) => tracing::info!(name = %made.name, size = made.size, "scheduled backup made"),
                Ok(None) => {}
                Err(e) => tracing::error!("scheduled backup failed: {e}"),
            }
        }
    })
}
