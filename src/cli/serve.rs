//! `huiqi serve`: the web server with its scheduled jobs (pushes, backups, the sweep).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CliError, Result, open};
use crate::auth::demo::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use crate::http::{self, AppState};
use crate::model::{Vocabulary, Who};
use crate::service::Config;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HUIQI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Create (or reuse) a demo instance: policies, 2,000 entities and demo accounts.
    /// Without --data it lives in ./huiqi-demo.
    #[arg(long)]
    demo: bool,
    /// The site is served over HTTPS (behind a proxy or not): cookies get `Secure`, and
    /// responses HSTS.
    #[arg(long, env = "HUIQI_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Behind a reverse proxy: take the client address from the last X-Forwarded-For entry.
    #[arg(long, env = "HUIQI_TRUST_PROXY")]
    trust_proxy: bool,
    /// Sign out after this many minutes without a request.
    #[arg(long, env = "HUIQI_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: i64,
    /// Sign out this many hours after signing in, whatever happens.
    #[arg(long, env = "HUIQI_SESSION_HOURS", default_value_t = 12)]
    session_hours: i64,
    #[command(flatten)]
    push: PushArgs,
    #[command(flatten)]
    backup: BackupArgs,
}

/// Scheduled backups of `serve`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Where backups go (default: backups/ in the data directory).
    #[arg(long, env = "HUIQI_BACKUP_DIR", value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Keep the newest N backups in the backup directory; 0 keeps every one.
    #[arg(long, env = "HUIQI_BACKUP_KEEP", value_name = "N", default_value_t = 7)]
    pub backup_keep: usize,
    /// Make a backup when the newest is H hours old; 0 turns scheduled backups off.
    #[arg(long, env = "HUIQI_BACKUP_EVERY_HOURS", value_name = "H", default_value_t = 24)]
    pub backup_every_hours: u32,
}

impl BackupArgs {
    pub fn settings(self) -> crate::service::backup::BackupSettings {
        crate::service::backup::BackupSettings {
            dir: self.backup_dir,
            keep: self.backup_keep,
            every_hours: self.backup_every_hours,
        }
    }
}

/// Where pushes go besides the inbox (站内信).
#[derive(clap::Args, Debug, Default)]
pub struct PushArgs {
    /// SMTP server for e-mail pushes, e.g. `smtp://user:pass@mail.example.gov.cn:587?tls=required`
    /// (`smtps://…` for TLS from the start, plain `smtp://host:port` for a local relay).
    #[arg(long, env = "HUIQI_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The sender of e-mail pushes.
    #[arg(long, env = "HUIQI_SMTP_FROM", default_value = "惠企平台 <noreply@huiqi.local>")]
    pub smtp_from: String,
    /// SMS gateway: every SMS is a JSON POST to this URL.
    #[arg(long, env = "HUIQI_SMS_URL")]
    pub sms_url: Option<String>,
    /// The JSON body of an SMS; `{{phone}}` and `{{text}}` become JSON strings.
    #[arg(long, env = "HUIQI_SMS_TEMPLATE", default_value = crate::jobs::outbox::DEFAULT_SMS_TEMPLATE)]
    pub sms_template: String,
    /// A header sent to the SMS gateway, e.g. `Authorization: Bearer …`.
    #[arg(long, env = "HUIQI_SMS_HEADER")]
    pub sms_header: Option<String>,
    /// Also append every push to this file, one JSON line each (pilots without SMTP or SMS).
    /// `--demo` writes `pushes.jsonl` in the data directory.
    #[arg(long, env = "HUIQI_PUSH_LOG")]
    pub push_log: Option<PathBuf>,
    /// No e-mail or SMS between these hours (China Standard Time), e.g. `22-8`.
    #[arg(long, env = "HUIQI_QUIET_HOURS")]
    pub quiet_hours: Option<String>,
    /// Remind eligible entities that have not applied this many days before a window closes.
    #[arg(long, env = "HUIQI_REMINDER_DAYS", default_value_t = 7)]
    pub reminder_days: u32,
    /// The address enterprises use, for links in e-mail and SMS (e.g. `https://huiqi.example.gov.cn`).
    #[arg(long, env = "HUIQI_PUBLIC_URL", default_value = "")]
    pub public_url: String,
}

impl PushArgs {
    pub fn channels(
        self,
        dir: &Path,
        demo: bool,
    ) -> Result<(crate::service::push::PushSettings, crate::jobs::outbox::Channels)> {
        use crate::jobs::outbox::{Channels, SmsGateway, Smtp};
        let quiet_hours = match self.quiet_hours.as_deref() {
            None => None,
            Some(text) => {
                let parsed = text
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?)));
                match parsed {
                    Some((from, to)) if from < 24 && to < 24 && from != to => {
                        Some(crate::model::push::QuietHours { from, to })
                    }
                    _ => return Err(format!("--quiet-hours should be like 22-8 (hours 0–23), not {text}").into()),
                }
            }
        };
        let smtp = self.smtp_url.as_deref().map(|u| Smtp::new(u, &self.smtp_from)).transpose()?;
        let sms = self
            .sms_url
            .as_deref()
            .map(|u| SmsGateway::new(u, &self.sms_template, self.sms_header.as_deref()))
            .transpose()?;
        let log = self.push_log.or_else(|| demo.then(|| dir.join("pushes.jsonl")));
        let settings = crate::service::push::PushSettings {
            email: smtp.is_some(),
            sms: sms.is_some(),
            log: log.is_some(),
            quiet_hours,
            reminder_days: self.reminder_days,
            public_url: self.public_url,
        };
        Ok((settings, Channels { smtp, sms, log }))
    }
}

/// `huiqi serve`: the store in `data` (by default ./huiqi-data, or ./huiqi-demo with `--demo`).
pub fn serve(data: Option<&Path>, config: Config, args: ServeArgs) -> Result<ExitCode> {
    let ServeArgs { listen, demo, secure_cookies, trust_proxy, session_idle_minutes, session_hours, push, backup } =
        args;
    let dir = data.map_or_else(|| PathBuf::from(if demo { "huiqi-demo" } else { "huiqi-data" }), Path::to_path_buf);
    let dir = dir.as_path();
    let (settings_push, channels) = push.channels(dir, demo)?;
    let config = Config { push: settings_push, backup: backup.settings(), ..config };
    if session_idle_minutes < 1 || session_hours < 1 {
        return Err("--session-idle-minutes and --session-hours must be at least 1".into());
    }
    let settings = http::Settings {
        sessions: crate::auth::SessionPolicy {
            idle_seconds: session_idle_minutes * 60,
            absolute_seconds: session_hours * 3600,
        },
        secure_cookies,
        trust_proxy,
        ..http::Settings::default()
    };
    let started = std::time::Instant::now();
    let mut steps = StartupSteps::default();
    let svc = steps.time("open", || open(dir, config))?;
    steps.time("reference data", || svc.init_reference(&Who::system("serve")))?;
    if demo {
        eprintln!("preparing the demo in {} …", dir.display());
        if let Some(summary) = svc.demo_setup(2000, 1)? {
            eprintln!(
                "demo created: {} policies, {} measures, {} entities",
                summary.policies, summary.measures, summary.entities
            );
        }
    }
    let tidied = steps.time("tidy", || svc.imports_tidy())?;
    if tidied > 0 {
        tracing::info!(files = tidied, "removed uploads left by an interrupted or finished import");
    }
    steps.time("matching", || svc.matching_init())?;
    if let Some(crate::service::matching::MatchingStats {
        entities, measures, portrait_bytes: bytes, startup, ..
    }) = svc.matching_stats()
    {
        eprintln!(
            "matching ready: {entities} entities, {measures} published measures, portrait {} MiB, {:.1} s ({}; {})",
            bytes / (1024 * 1024),
            started.elapsed().as_secs_f64(),
            steps.text(),
            portrait_text(&startup),
        );
    }
    let mut state = AppState::new(svc, settings)?;
    if let Some(gateway) = &channels.sms {
        state.sms = Some(std::sync::Arc::new(gateway.clone()));
    }
    if demo {
        state.auth.demo_accounts()?;
        let made = state.svc.demo_cases()?;
        for code in &made.also_for {
            let who = Who::system("demo");
            state.auth.binding_grant(&who, "qiye", code, crate::model::Capacity::Finance)?;
        }
        if made.cases > 0 {
            eprintln!("demo cases: {} applications over the last two weeks", made.cases);
        }
    }
    // After /healthz answers: check every stored rule (matching already left out published ones
    // that do not check), and catch up on changes made while the server was stopped (e.g. a
    // CLI import). Joined at shutdown: the store must be closed cleanly, or the next open
    // repairs the whole file first.
    let background = std::sync::Arc::clone(&state.svc);
    let after_start = std::thread::spawn(move || {
        match background.rules_integrity() {
            Ok(bad) if !bad.is_empty() => eprintln!(
                "warning: {} stored measure version(s) have rules that no longer check (named in the log); published ones are left out of matching",
                bad.len()
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("rule check failed: {e}"),
        }
        match background.rematch_all("startup") {
            Ok(s) => tracing::info!(changed = s.changed, ms = s.match_ms, "startup rematch done"),
            Err(e) => tracing::error!("startup rematch failed: {e}"),
        }
    });
    // Rule expressions are limited so that every walk fits in 512 KiB; the threads get more.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 * 1024 * 1024).build()?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
        println!("huiqi is serving on http://{host}:{}/", addr.port());
        if demo {
            println!("demo sign-ins (at http://{host}:{}/login), password {DEMO_PASSWORD} for all:", addr.port());
            for (username, role, _, department) in DEMO_ACCOUNTS {
                println!(
                    "  {username}  ({}{}{})",
                    role.label(),
                    if department.is_empty() { "" } else { "，" },
                    department
                );
            }
        }
        let _ = std::io::stdout().flush();
        let sweep = crate::jobs::spawn_sweep(std::sync::Arc::clone(&state.svc), crate::jobs::SWEEP_EVERY);
        let backups = (state.svc.config.backup.every_hours > 0).then(|| {
            use crate::jobs::backup::{BACKUP_CHECK_EVERY, BACKUP_FIRST_CHECK, spawn};
            spawn(std::sync::Arc::clone(&state.svc), BACKUP_FIRST_CHECK, BACKUP_CHECK_EVERY)
        });
        let outbox = crate::jobs::outbox::spawn(
            std::sync::Arc::clone(&state.svc),
            std::sync::Arc::new(channels),
            crate::jobs::outbox::OUTBOX_EVERY,
        );
        let svc = std::sync::Arc::clone(&state.svc);
        http::serve(listener, state, shutdown).await?;
        // Background work ends after the transaction in hand; the store then closes cleanly.
        svc.stop();
        sweep.abort();
        // The next start reads the portrait from the snapshot instead of every entity record.
        match svc.portrait_snapshot_if_behind() {
            Ok(Some(w)) => eprintln!("portrait snapshot written: {} entities, {} MiB", w.entities, w.bytes >> 20),
            Ok(None) => {}
            Err(e) => eprintln!("warning: the portrait snapshot could not be written: {e}"),
        }
        outbox.abort();
        if let Some(b) = backups {
            b.abort();
        }
        Ok::<_, CliError>(())
    })?;
    // Blocking work in hand (a transaction of a push, the outbox's current delivery) finishes;
    // the start-up rule check and rematch, if still running, are waited for: a store closed
    // while a thread still holds it is repaired, slowly, at the next open.
    runtime.shutdown_timeout(std::time::Duration::from_secs(60));
    if !after_start.is_finished() {
        eprintln!("waiting for the start-up rematch to finish …");
    }
    if after_start.join().is_err() {
        tracing::error!("the start-up rematch ended with a panic");
    }
    eprintln!("huiqi stopped");
    Ok(ExitCode::SUCCESS)
}

/// How long each step before serving took, for the start-up line.
#[derive(Default)]
struct StartupSteps(Vec<(&'static str, f64)>);

impl StartupSteps {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t = std::time::Instant::now();
        let out = f();
        self.0.push((name, t.elapsed().as_secs_f64()));
        out
    }

    fn text(&self) -> String {
        self.0.iter().map(|(name, s)| format!("{name} {s:.2} s")).collect::<Vec<_>>().join(", ")
    }
}

/// Where the match state's build went: the portrait (from the snapshot or every record), the
/// measures, the engine.
fn portrait_text(t: &crate::service::matching::StartupTimes) -> String {
    let portrait = if t.snapshot_entities > 0 {
        format!(
            "portrait snapshot {:.2} s + {} changed entities {:.2} s",
            t.snapshot_read_ms / 1000.0,
            t.replayed,
            t.replay_ms / 1000.0
        )
    } else {
        format!("portrait from every record {:.2} s", t.full_rebuild_ms / 1000.0)
    };
    format!("{portrait}, measures {:.2} s, engine {:.2} s", t.measures_ms / 1000.0, t.engine_ms / 1000.0)
}

/// Registers the handlers of SIGTERM and Ctrl-C now — before the address is printed, so that a
/// signal sent as soon as it is read stops the server cleanly instead of killing it (the
/// default action until a handler exists) — and resolves on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let (term, int) = (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok());
        let wait = |s: Option<Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        async move {
            tokio::select! {
                () = wait(term) => {},
                () = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
