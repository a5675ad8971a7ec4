//! Use-cases over the store: one write transaction each, with its audit entry. Every function
//! here blocks; async callers go through [`Service::blocking`].

pub mod audit;
pub mod backup;
pub mod calendar;
pub mod cases;
pub mod dashboard;
pub mod demo;
mod demo_payout;
pub mod entities;
pub mod export;
pub mod files;
pub mod imports;
pub mod inbox;
pub mod integrity;
pub mod matching;
pub mod measures;
pub mod overview;
pub mod policies;
pub mod push;
pub mod receipts;
pub mod supervision;
pub mod sweep;
pub mod todo;

use std::sync::Arc;

use crate::model::{Clock, Date, FieldError, TagDictionary, Timestamp};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input has problems a person can fix; each names its field.
    #[error("输入有误：{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("；"))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but the record's state does not allow it.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("内部错误：{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
        ServiceError::Invalid(vec![FieldError::new(field, message)])
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings that change how the service behaves.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Pretend today is this date (demos, tests, "as of" runs); `None` is the real date in CST.
    pub today: Option<Date>,
    /// Cheap password hashing, for tests only.
    pub fast_password_hashing: bool,
    /// The time source for sign-in delays and session timeouts (tests move it forward).
    pub clock: Clock,
    /// Channels and behaviour of pushes.
    pub push: push::PushSettings,
    /// Where backups go, how many are kept, how often one is made.
    pub backup: backup::BackupSettings,
}

pub struct Service {
    pub store: Arc<Store>,
    pub config: Config,
    /// The portrait and compiled measures, built on first use (see `matching`).
    matching: std::sync::RwLock<Option<matching::MatchState>>,
    /// One backup at a time.
    backing_up: std::sync::Mutex<()>,
    /// Set when the server stops: long background work ends at its next safe point.
    stopping: std::sync::atomic::AtomicBool,
    /// Set by a command that writes while no server runs (`huiqi import`): measures are matched
    /// again at the next start, not after each write here.
    offline: std::sync::atomic::AtomicBool,
}

impl Service {
    pub fn new(mut store: Store, config: Config) -> Service {
        store.set_clock(config.clock.clone());
        Service {
            store: Arc::new(store),
            config,
            matching: std::sync::RwLock::new(None),
            backing_up: std::sync::Mutex::new(()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            offline: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Asks long background work (pushing a measure to a million inboxes, the outbox) to end
    /// at its next safe point — after the transaction in hand — so that a server stops in
    /// seconds and closes its store cleanly. What was left is picked up after the next start.
    pub fn stop(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the server is stopping (see `stop`).
    pub fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Accounts, sessions and tokens over this service's store, with its hashing and clock.
    pub fn auth(&self, sessions: crate::auth::SessionPolicy) -> Result<crate::auth::Auth, crate::auth::AuthError> {
        crate::auth::Auth::new(Arc::clone(&self.store), self.config.fast_password_hashing, sessions)
    }

    /// Whether the match state is in memory (servers build it at start; most CLI commands never do).
    pub fn matching_loaded(&self) -> bool {
        self.matching.read().map(|g| g.is_some()).unwrap_or(false)
    }

    /// The time by the service's clock (the one the store stamps write transactions with, which
    /// tests move forward). Inside a write transaction, use the transaction's `tx.now()`.
    pub fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// The evaluation date: the configured one (moved on with the clock) or today in China
    /// Standard Time by the clock.
    pub fn today(&self) -> Date {
        match self.config.today {
            Some(d) => d.add_days(self.config.clock.shifted_days()),
            None => self.now().date_cst(),
        }
    }

    /// Runs blocking service work off the async runtime.
    pub async fn blocking<R, F>(self: &Arc<Self>, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Service) -> Result<R> + Send + 'static,
    {
        let svc = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&svc))
            .await
            .map_err(|e| ServiceError::Internal(format!("background task failed: {e}")))?
    }

    pub fn tag_dictionary(&self) -> Result<TagDictionary> {
        Ok(TagDictionary::new(self.store.read()?.tags()?))
    }

    /// The store answers: its schema version (for `/healthz`).
    pub fn health(&self) -> Result<u64> {
        Ok(self.store.read()?.schema_version()?.unwrap_or(0))
    }

    /// The newest audit entries, newest first.
    pub fn audit_tail(&self, limit: usize) -> Result<Vec<crate::model::AuditEntry>> {
        Ok(self.store.read()?.audit_tail(limit)?)
    }

    /// Counts for the home page and `/metrics`.
    pub fn stats(&self) -> Result<Stats> {
        let tx = self.store.read()?;
        let measures = tx.measures()?;
        Ok(Stats {
            policies: tx.policies()?.len() as u64,
            measures: measures.len() as u64,
            published_measures: measures.iter().filter(|m| m.published.is_some()).count() as u64,
            entities: tx.entity_count()?,
            users: tx.users()?.len() as u64,
            store_bytes: self.store.file_size(),
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    pub policies: u64,
    pub measures: u64,
    pub published_measures: u64,
    pub entities: u64,
    pub users: u64,
    pub store_bytes: u64,
}
