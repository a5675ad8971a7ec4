//! The `huiqi` command line: serve, init, import, export, seed, user, check, compact, backup,
//! restore.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use huiqi::auth::Auth;
use huiqi::auth::NewUser;
use huiqi::auth::demo::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use huiqi::http::{self, AppState};
use huiqi::import::Format;
use huiqi::model::imports::{ImportStatus, RowIssue};
use huiqi::model::{Capacity, Date, Role, TokenScope, Vocabulary, Who};
use huiqi::service::imports::{ImportObserver, Phase};
use huiqi::service::{Config, Service};
use huiqi::store::Store;

/// 惠企 huiqi — the enterprise-benefit policy platform in one binary.
#[derive(Parser)]
#[command(name = "huiqi", version, about)]
struct Cli {
    /// Data directory holding the store (huiqi.redb).
    #[arg(long, global = true, env = "HUIQI_DATA")]
    data: Option<PathBuf>,
    /// Evaluate as if today were this date (YYYY-MM-DD); for demos and rehearsals.
    #[arg(long, global = true, env = "HUIQI_TODAY", hide = true)]
    today: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and the JSON API.
    Serve {
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
    },
    /// Create or migrate the store and load reference data (tags, holiday calendar).
    Init,
    /// Import entities from a CSV or XLSX file.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export a library as CSV or XLSX (the format follows the file extension).
    Export {
        what: ExportWhat,
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate entities deterministically (and, with --policies, load the demo policies).
    Seed {
        #[arg(long, default_value_t = 2000)]
        entities: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also load and publish the demo policies from seed/policies.
        #[arg(long)]
        policies: bool,
    },
    /// Manage accounts and API tokens.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Add a department, or set the region it serves.
    Department {
        name: String,
        /// GB/T 2260 code of the region it serves (its staff see entities there).
        #[arg(long, default_value = "")]
        region: String,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Type-check rules: every measure in policy or measure files (TOML).
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Evaluate the measure(s) in FILE over the entity library.
    Simulate {
        /// A policy file or a single-measure file (TOML).
        #[arg(long)]
        measure: PathBuf,
        /// Evaluate as of this date (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<String>,
        /// Write `credit_code,outcome,amount` for every eligible and unknown entity.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Whole-system figures on generated data; ends with one JSON line.
    Bench {
        #[arg(long, default_value_t = 100_000)]
        entities: u64,
        #[arg(long, default_value_t = 100)]
        measures: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to keep the generated store (reused by later runs with the same sizes).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Instead of the engine figures: N kill -9 trials against the real binary (imports and
        /// API writes in flight), each followed by a restart and checks.
        #[arg(long, value_name = "N")]
        crash: Option<u32>,
        /// Instead of the engine figures: a county's busy day against a real server on loopback.
        #[arg(long)]
        load: bool,
        /// Concurrent users for --load.
        #[arg(long, default_value_t = 200)]
        users: u32,
        /// Minutes for --load.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
    },
    /// Run every published measure over every entity now and record what changed.
    Rematch,
    /// Check the store: schema version, page checksums, counts.
    Check,
    /// Rewrite the store file to release free space (the server must be stopped).
    Compact,
    /// Write a verified backup of the store and its attachments to FILE, while serving or not.
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Ask the server running at this address to make the backup and download it (an API
        /// token of a system administrator with the admin scope in HUIQI_TOKEN).
        #[arg(long, value_name = "URL", env = "HUIQI_URL")]
        url: Option<String>,
    },
    /// Restore a backup into the data directory (the server must be stopped).
    Restore {
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Replace the store the directory holds (it is kept as huiqi.redb.before-restore-…).
        #[arg(long)]
        force: bool,
    },
}

/// Scheduled backups of `serve`.
#[derive(clap::Args, Debug)]
struct BackupArgs {
    /// Where backups go (default: backups/ in the data directory).
    #[arg(long, env = "HUIQI_BACKUP_DIR", value_name = "DIR")]
    backup_dir: Option<PathBuf>,
    /// Keep the newest N backups in the backup directory; 0 keeps every one.
    #[arg(long, env = "HUIQI_BACKUP_KEEP", value_name = "N", default_value_t = 7)]
    backup_keep: usize,
    /// Make a backup when the newest is H hours old; 0 turns scheduled backups off.
    #[arg(long, env = "HUIQI_BACKUP_EVERY_HOURS", value_name = "H", default_value_t = 24)]
    backup_every_hours: u32,
}

impl BackupArgs {
    fn settings(self) -> huiqi::service::backup::BackupSettings {
        huiqi::service::backup::BackupSettings {
            dir: self.backup_dir,
            keep: self.backup_keep,
            every_hours: self.backup_every_hours,
        }
    }
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Entities: upsert by credit code, every change kept in the history.
    Entities {
        file: PathBuf,
        /// Write the good rows and report the bad ones (default: refuse the whole file).
        #[arg(long)]
        skip_invalid: bool,
        /// Where to write the row-by-row report (CSV).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Check only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Name recorded as the importer in the history.
        #[arg(long = "as", default_value = "cli")]
        who: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Recompute the SHA-256 chain from the first entry; name the first broken link (exit 1).
    Verify,
}

#[derive(Subcommand)]
enum RulesAction {
    /// Report every error with its position; exit code 1 when there is one.
    Check { files: Vec<PathBuf> },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportWhat {
    Entities,
    Policies,
}

#[derive(Subcommand)]
enum UserAction {
    /// Create an account. The password comes from HUIQI_PASSWORD or is asked for; with
    /// --one-time a one-time password is printed, to be changed at first sign-in.
    Add {
        username: String,
        /// sysadmin, publisher, reviewer, supervisor, specialist or enterprise.
        #[arg(long, default_value = "sysadmin")]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// For an enterprise account: bind it (verified) to the entity with this credit code.
        #[arg(long)]
        entity: Option<String>,
        #[arg(long)]
        one_time: bool,
    },
    /// Set a new password (from HUIQI_PASSWORD or asked for); also unlocks the account.
    Passwd { username: String },
    /// Lift the lock after repeated failed sign-ins.
    Unlock { username: String },
    /// Create a bearer token for the JSON API; it is printed once.
    Token {
        username: String,
        #[arg(long, default_value = "api")]
        name: String,
        /// What the token may do (repeat for several): policies:write, entities:read,
        /// entities:write, matching, export, audit:read, admin, enterprise, metrics.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Expire after this many days.
        #[arg(long)]
        days: Option<u32>,
    },
    /// List accounts.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HUIQI_LOG").unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("huiqi: {message}");
            ExitCode::FAILURE
        }
    }
}

fn config(cli: &Cli) -> Result<Config, String> {
    let today = match &cli.today {
        Some(t) => Some(Date::parse(t).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(Config { today, ..Config::default() })
}

fn open(dir: &Path, config: Config) -> Result<Service, String> {
    let store = Store::open(dir).map_err(|e| e.to_string())?;
    Ok(Service::new(store, config))
}

fn read_password(prompt: &str) -> Result<String, String> {
    if let Ok(p) = std::env::var("HUIQI_PASSWORD") {
        return Ok(p);
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let config = config(&cli)?;
    let data = cli.data.clone();
    let dir = |default: &str| data.clone().unwrap_or_else(|| PathBuf::from(default));
    match cli.command {
        Command::Serve {
            listen,
            demo,
            secure_cookies,
            trust_proxy,
            session_idle_minutes,
            session_hours,
            push,
            backup,
        } => {
            let dir = dir(if demo { "huiqi-demo" } else { "huiqi-data" });
            let (settings_push, channels) = push.channels(&dir, demo)?;
            let config = huiqi::service::Config { push: settings_push, backup: backup.settings(), ..config };
            if session_idle_minutes < 1 || session_hours < 1 {
                return Err("--session-idle-minutes and --session-hours must be at least 1".into());
            }
            let settings = http::Settings {
                sessions: huiqi::auth::SessionPolicy {
                    idle_seconds: session_idle_minutes * 60,
                    absolute_seconds: session_hours * 3600,
                },
                secure_cookies,
                trust_proxy,
                ..http::Settings::default()
            };
            serve(&dir, config, settings, listen, demo, channels)
        }
        Command::Init => {
            let svc = open(&dir("huiqi-data"), config)?;
            svc.init_reference(&cli_who()).map_err(|e| e.to_string())?;
            println!("store ready at {} (schema version {})", svc.store.path().display(), huiqi::store::SCHEMA_VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { what: ImportWhat::Entities { file, skip_invalid, report, dry_run, who } } => {
            let svc = open(&dir("huiqi-data"), config)?;
            svc.init_reference(&cli_who()).map_err(|e| e.to_string())?;
            import_entities(&svc, &file, skip_invalid, report, dry_run, &Who::system(&who))
        }
        Command::Export { what, out } => {
            let svc = open(&dir("huiqi-data"), config)?;
            let name = out.display().to_string();
            let format = Format::of(&name).ok_or_else(|| format!("{name}: the file must end in .csv or .xlsx"))?;
            let file = std::fs::File::create(&out).map_err(|e| format!("cannot create {name}: {e}"))?;
            let mut w = std::io::BufWriter::new(file);
            let rows = match what {
                ExportWhat::Entities => svc.export_entities(format, &mut w, true, &[]),
                ExportWhat::Policies => svc.export_policies(format, &mut w),
            }
            .map_err(|e| e.to_string())?;
            w.flush().map_err(|e| e.to_string())?;
            println!("wrote {rows} rows to {name}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed { entities, seed, policies } => {
            let svc = open(&dir("huiqi-data"), config)?;
            svc.init_reference(&cli_who()).map_err(|e| e.to_string())?;
            if policies {
                let files = huiqi::seed::demo_policies().map_err(|e| e.to_string())?;
                let (p, m) = svc.load_policies(&Who::system("seed"), &files).map_err(|e| e.to_string())?;
                println!("loaded {p} policies with {m} published measures");
            }
            let start = svc.stats().map_err(|e| e.to_string())?.entities;
            let tty = std::io::stderr().is_terminal();
            let n = svc
                .seed_entities(seed, start, entities, |done| {
                    if tty {
                        eprint!("\rgenerating entities: {done}/{entities}");
                    }
                })
                .map_err(|e| e.to_string())?;
            if tty {
                eprintln!();
            }
            println!("generated {n} entities (seed {seed}, numbers {start}–{})", start + n);
            Ok(ExitCode::SUCCESS)
        }
        Command::User { action } => {
            let svc = open(&dir("huiqi-data"), config)?;
            user(&auth_of(&svc)?, action)
        }
        Command::Department { name, region } => {
            let svc = open(&dir("huiqi-data"), config)?;
            let d = auth_of(&svc)?.department_put(&cli_who(), &name, &region).map_err(|e| e.to_string())?;
            println!("department {} (region {})", d.name, d.region.unwrap_or_else(|| "-".into()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { action: AuditAction::Verify } => {
            let svc = open(&dir("huiqi-data"), config)?;
            let report = svc.audit_verify().map_err(|e| e.to_string())?;
            match report.broken {
                None => {
                    println!("audit trail intact: {} entries, head {}", report.entries, report.head);
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!("audit trail BROKEN at entry {}: {}", b.seq, b.reason);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Rules { action: RulesAction::Check { files } } => rules_check(&files, data.as_deref()),
        Command::Simulate { measure, as_of, out } => {
            let svc = open(&dir("huiqi-data"), config)?;
            simulate(&svc, &measure, as_of.as_deref(), out.as_deref())
        }
        Command::Bench { entities, measures, seed, dir: bench_dir, crash, load, users, minutes } => {
            if let Some(trials) = crash {
                let dir = bench_dir.unwrap_or_else(|| PathBuf::from("huiqi-bench-crash"));
                let opts = huiqi::bench::crash::CrashOptions { trials, dir };
                let report = huiqi::bench::crash::run(&opts, &mut std::io::stderr())?;
                println!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            if load {
                let dir = bench_dir.unwrap_or_else(|| PathBuf::from("huiqi-bench-load"));
                let opts = huiqi::bench::load::LoadOptions { users, minutes, dir };
                let report = huiqi::bench::load::run(&opts, &mut std::io::stderr())?;
                println!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            let dir = bench_dir.unwrap_or_else(|| PathBuf::from(format!("huiqi-bench-{entities}-{measures}-{seed}")));
            let opts = huiqi::bench::BenchOptions { entities, measures, seed, dir, today: config.today };
            let report = huiqi::bench::run(&opts, &mut std::io::stderr())?;
            println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rematch => {
            let svc = open(&dir("huiqi-data"), config)?;
            let s = svc.rematch_all("rematch").map_err(|e| e.to_string())?;
            println!(
                "{} measures over {} entities in {:.0} ms: {} eligible pairs, {} measures changed",
                s.measures, s.entities, s.match_ms, s.eligible_pairs, s.changed
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let dir = dir("huiqi-data");
            let mut store = Store::open(&dir).map_err(|e| e.to_string())?;
            let intact = store.check_integrity().map_err(|e| e.to_string())?;
            let svc = Service::new(store, config);
            let stats = svc.stats().map_err(|e| e.to_string())?;
            println!("store: {} ({} bytes)", svc.store.path().display(), stats.store_bytes);
            println!("schema version: {}", huiqi::store::SCHEMA_VERSION);
            println!("page checksums: {}", if intact { "ok" } else { "damage found and repaired" });
            println!(
                "policies: {}, measures: {} ({} published), entities: {}, accounts: {}",
                stats.policies, stats.measures, stats.published_measures, stats.entities, stats.users
            );
            Ok(if intact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Compact => {
            let mut store = Store::open(&dir("huiqi-data")).map_err(|e| e.to_string())?;
            let before = store.file_size();
            store.compact().map_err(|e| e.to_string())?;
            println!("compacted: {before} → {} bytes", store.file_size());
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out, url } => huiqi::cli::backup::backup(&dir("huiqi-data"), &out, url.as_deref(), config),
        Command::Restore { from, force } => huiqi::cli::backup::restore(&dir("huiqi-data"), &from, force),
    }
}

fn cli_who() -> Who {
    Who::system("cli")
}

fn auth_of(svc: &Service) -> Result<Auth, String> {
    let c = &svc.config;
    Auth::new(std::sync::Arc::clone(&svc.store), c.fast_password_hashing, c.clock.clone(), Default::default())
        .map_err(|e| e.to_string())
}

fn user(auth: &Auth, action: UserAction) -> Result<ExitCode, String> {
    let who = cli_who();
    match action {
        UserAction::Add { username, role, name, department, phone, entity, one_time } => {
            let role =
                Role::parse(&role).ok_or_else(|| format!("unknown role {role}; use one of: {}", Role::choices()))?;
            let password = if one_time { None } else { Some(read_password("password: ")?) };
            let new = NewUser { username, display_name: name, role, department, region_scope: Vec::new(), phone };
            let (user, issued) = auth.user_create(&who, new, password.as_deref()).map_err(|e| e.to_string())?;
            if let Some(code) = entity {
                auth.binding_grant(&who, &user.username, &code, Capacity::Agent).map_err(|e| e.to_string())?;
            }
            println!("created {} ({})", user.username, user.role.key());
            if let Some(p) = issued {
                println!("one-time password (to be changed at first sign-in): {p}");
            }
        }
        UserAction::Passwd { username } => {
            let password = read_password("new password: ")?;
            auth.user_set_password(&who, &username, &password).map_err(|e| e.to_string())?;
            println!("password changed for {username}");
        }
        UserAction::Unlock { username } => {
            let id = auth.user_by_name(&username).map_err(|e| e.to_string())?.id;
            auth.user_unlock(&who, id).map_err(|e| e.to_string())?;
            println!("unlocked {username}");
        }
        UserAction::Token { username, name, scopes, days } => {
            let scopes = scopes
                .iter()
                .map(|s| {
                    TokenScope::parse(s).ok_or_else(|| format!("unknown scope {s}; use: {}", TokenScope::choices()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (_, token) = auth.token_create(&who, &username, &name, &scopes, days).map_err(|e| e.to_string())?;
            println!("{token}");
        }
        UserAction::List => {
            for u in auth.users().map_err(|e| e.to_string())? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    u.username,
                    u.role.key(),
                    u.display_name,
                    u.department.unwrap_or_default(),
                    if u.disabled { "\t(disabled)" } else { "" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Progress on a terminal, and every issue into the report file.
struct CliObserver {
    tty: bool,
    report: Option<csv::Writer<std::fs::File>>,
    shown: usize,
}

impl ImportObserver for CliObserver {
    fn progress(&mut self, phase: Phase, rows: u64) {
        if self.tty {
            let what = match phase {
                Phase::Checking => "checking",
                Phase::Writing => "writing",
            };
            eprint!("\r{what}: {rows} rows");
            let _ = std::io::stderr().flush();
        }
    }

    fn issue(&mut self, i: &RowIssue) {
        if let Some(w) = &mut self.report {
            let cells = [&i.column, &i.value, &i.reason].map(|c| huiqi::model::text::spreadsheet_safe(c).into_owned());
            let _ = w.write_record([i.row.to_string().as_str(), &cells[0], &cells[1], &cells[2]]);
        }
        if self.shown < 20 {
            if self.tty {
                eprintln!();
            }
            eprintln!("  row {}, column {}: 「{}」 {}", i.row, i.column, i.value, i.reason);
            self.shown += 1;
        }
    }
}

fn import_entities(
    svc: &Service,
    file: &Path,
    skip_invalid: bool,
    report: Option<PathBuf>,
    dry_run: bool,
    who: &Who,
) -> Result<ExitCode, String> {
    let name = file.display().to_string();
    let report_path = report.or_else(|| skip_invalid.then(|| PathBuf::from(format!("{name}.report.csv"))));
    let writer = match &report_path {
        Some(p) => {
            let mut w =
                csv::Writer::from_path(p).map_err(|e| format!("cannot write the report {}: {e}", p.display()))?;
            w.write_record(["行号", "列", "值", "原因"]).map_err(|e| e.to_string())?;
            Some(w)
        }
        None => None,
    };
    let mut observer = CliObserver { tty: std::io::stderr().is_terminal(), report: writer, shown: 0 };
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| name.clone());
    let path = file.to_path_buf();
    let job = svc
        .import_run(who, &file_name, || std::fs::File::open(&path), skip_invalid, dry_run, &mut observer)
        .map_err(|e| e.to_string())?;
    if observer.tty {
        eprintln!();
    }
    if let Some(mut w) = observer.report.take() {
        let _ = w.flush();
    }
    let r = &job.report;
    if r.invalid > observer.shown as u64 {
        eprintln!("  … {} more problems", r.issues.len() as u64 + r.issues_truncated - observer.shown as u64);
    }
    if !r.ignored_columns.is_empty() {
        eprintln!("ignored columns: {}", r.ignored_columns.join(", "));
    }
    let report_note = report_path.map(|p| format!("; report: {}", p.display())).unwrap_or_default();
    match job.status {
        ImportStatus::Refused => {
            eprintln!(
                "refused {name}: {} of {} rows have problems; nothing was written (fix them, or use --skip-invalid){report_note}",
                r.invalid, r.rows
            );
            Ok(ExitCode::from(2))
        }
        ImportStatus::Discarded => {
            println!(
                "checked {name}: {} rows, {} valid, {} with problems; nothing written (--dry-run){report_note}",
                r.rows, r.valid, r.invalid
            );
            Ok(if r.invalid > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        _ => {
            println!(
                "imported {name}: {} rows — {} new, {} updated, {} unchanged, {} skipped{report_note}",
                r.rows, r.inserted, r.updated, r.unchanged, r.invalid
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Where pushes go besides the inbox (站内信).
#[derive(clap::Args, Debug, Default)]
struct PushArgs {
    /// SMTP server for e-mail pushes, e.g. `smtp://user:pass@mail.example.gov.cn:587?tls=required`
    /// (`smtps://…` for TLS from the start, plain `smtp://host:port` for a local relay).
    #[arg(long, env = "HUIQI_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of e-mail pushes.
    #[arg(long, env = "HUIQI_SMTP_FROM", default_value = "惠企平台 <noreply@huiqi.local>")]
    smtp_from: String,
    /// SMS gateway: every SMS is a JSON POST to this URL.
    #[arg(long, env = "HUIQI_SMS_URL")]
    sms_url: Option<String>,
    /// The JSON body of an SMS; `{{phone}}` and `{{text}}` become JSON strings.
    #[arg(long, env = "HUIQI_SMS_TEMPLATE", default_value = huiqi::jobs::outbox::DEFAULT_SMS_TEMPLATE)]
    sms_template: String,
    /// A header sent to the SMS gateway, e.g. `Authorization: Bearer …`.
    #[arg(long, env = "HUIQI_SMS_HEADER")]
    sms_header: Option<String>,
    /// Also append every push to this file, one JSON line each (pilots without SMTP or SMS).
    /// `--demo` writes `pushes.jsonl` in the data directory.
    #[arg(long, env = "HUIQI_PUSH_LOG")]
    push_log: Option<PathBuf>,
    /// No e-mail or SMS between these hours (China Standard Time), e.g. `22-8`.
    #[arg(long, env = "HUIQI_QUIET_HOURS")]
    quiet_hours: Option<String>,
    /// Remind eligible entities that have not applied this many days before a window closes.
    #[arg(long, env = "HUIQI_REMINDER_DAYS", default_value_t = 7)]
    reminder_days: u32,
    /// The address enterprises use, for links in e-mail and SMS (e.g. `https://huiqi.example.gov.cn`).
    #[arg(long, env = "HUIQI_PUBLIC_URL", default_value = "")]
    public_url: String,
}

impl PushArgs {
    fn channels(
        self,
        dir: &Path,
        demo: bool,
    ) -> Result<(huiqi::service::push::PushSettings, huiqi::jobs::outbox::Channels), String> {
        use huiqi::jobs::outbox::{Channels, SmsGateway, Smtp};
        let quiet_hours = match self.quiet_hours.as_deref() {
            None => None,
            Some(text) => {
                let parsed = text
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?)));
                match parsed {
                    Some((from, to)) if from < 24 && to < 24 && from != to => {
                        Some(huiqi::model::push::QuietHours { from, to })
                    }
                    _ => return Err(format!("--quiet-hours should be like 22-8 (hours 0–23), not {text}")),
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
        let settings = huiqi::service::push::PushSettings {
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

fn serve(
    dir: &Path,
    config: Config,
    settings: http::Settings,
    listen: SocketAddr,
    demo: bool,
    channels: huiqi::jobs::outbox::Channels,
) -> Result<ExitCode, String> {
    let svc = open(dir, config)?;
    svc.init_reference(&Who::system("serve")).map_err(|e| e.to_string())?;
    if demo {
        eprintln!("preparing the demo in {} …", dir.display());
        if let Some(summary) = svc.demo_setup(2000, 1).map_err(|e| e.to_string())? {
            eprintln!(
                "demo created: {} policies, {} measures, {} entities",
                summary.policies, summary.measures, summary.entities
            );
        }
    }
    let started = std::time::Instant::now();
    let tidied = svc.imports_tidy().map_err(|e| e.to_string())?;
    if tidied > 0 {
        tracing::info!(files = tidied, "removed uploads left by an interrupted or finished import");
    }
    let bad_rules = svc.rules_integrity().map_err(|e| e.to_string())?;
    if !bad_rules.is_empty() {
        eprintln!(
            "warning: {} stored measure version(s) have rules that no longer check (named in the log); published ones are left out of matching",
            bad_rules.len()
        );
    }
    svc.matching_init().map_err(|e| e.to_string())?;
    if let Some((entities, measures, _, bytes)) = svc.matching_stats() {
        eprintln!(
            "matching ready: {entities} entities, {measures} published measures, portrait {} MiB, {:.1} s",
            bytes / (1024 * 1024),
            started.elapsed().as_secs_f64()
        );
    }
    let mut state = AppState::new(svc, settings).map_err(|e| e.to_string())?;
    if let Some(gateway) = &channels.sms {
        state.sms = Some(std::sync::Arc::new(gateway.clone()));
    }
    if demo {
        state.auth.demo_accounts().map_err(|e| e.to_string())?;
        let made = state.svc.demo_cases().map_err(|e| e.to_string())?;
        if let Some(code) = &made.also_for {
            let who = Who::system("demo");
            state.auth.binding_grant(&who, "qiye", code, huiqi::model::Capacity::Finance).map_err(|e| e.to_string())?;
        }
        if made.cases > 0 {
            eprintln!("demo cases: {} applications over the last two weeks", made.cases);
        }
    }
    // Catch up on changes made while the server was stopped (e.g. a CLI import).
    let background = std::sync::Arc::clone(&state.svc);
    std::thread::spawn(move || match background.rematch_all("startup") {
        Ok(s) => tracing::info!(changed = s.changed, ms = s.match_ms, "startup rematch done"),
        Err(e) => tracing::error!("startup rematch failed: {e}"),
    });
    // Rule expressions are limited so that every walk fits in 512 KiB; the threads get more.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
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
        let sweep = huiqi::jobs::spawn_sweep(std::sync::Arc::clone(&state.svc), huiqi::jobs::SWEEP_EVERY);
        let backups = (state.svc.config.backup.every_hours > 0).then(|| {
            use huiqi::jobs::backup::{BACKUP_CHECK_EVERY, BACKUP_FIRST_CHECK, spawn};
            spawn(std::sync::Arc::clone(&state.svc), BACKUP_FIRST_CHECK, BACKUP_CHECK_EVERY)
        });
        let outbox = huiqi::jobs::outbox::spawn(
            std::sync::Arc::clone(&state.svc),
            std::sync::Arc::new(channels),
            huiqi::jobs::outbox::OUTBOX_EVERY,
        );
        http::serve(listener, state, shutdown_signal()).await.map_err(|e| e.to_string())?;
        sweep.abort();
        outbox.abort();
        if let Some(b) = backups {
            b.abort();
        }
        eprintln!("huiqi stopped");
        Ok::<_, String>(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn print_rule_errors(file: &str, measure: &str, errors: &[huiqi::rules::MeasureRuleError]) {
    for e in errors {
        println!("{file}: {measure}: {}", e.en());
        println!("    {}", e.source);
        let pad: String = e.source.chars().take(e.error.start).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let width = e.error.end.saturating_sub(e.error.start).max(1);
        println!("    {pad}{}", "^".repeat(width));
    }
}

fn rules_check(files: &[PathBuf], data: Option<&Path>) -> Result<ExitCode, String> {
    if files.is_empty() {
        return Err("name at least one policy or measure file".into());
    }
    // The tag dictionary of the data directory when it can be opened, else the shipped tags.
    let tags = data
        .and_then(|d| Store::open(d).ok())
        .and_then(|s| s.read().ok()?.tags().ok())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(huiqi::model::tags::default_tags);
    let tags = huiqi::model::TagDictionary::new(tags);
    let (mut measures, mut bad) = (0, 0);
    for f in files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {name}: {e}"))?;
        let specs = huiqi::seed::parse_measure_file(&name, &text).map_err(|e| e.to_string())?;
        for (i, m) in specs.iter().enumerate() {
            measures += 1;
            let label = format!("measure {} «{}»", i + 1, m.name);
            match huiqi::rules::check_measure(m, &tags) {
                Ok(rules) => {
                    for w in &rules.warnings {
                        println!("{name}: {label}: warning: {}", w.en());
                    }
                }
                Err(errors) => {
                    bad += 1;
                    print_rule_errors(&name, &label, &errors);
                }
            }
        }
    }
    if bad == 0 {
        println!("{measures} measures in {} file(s): all rules type-check", files.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{bad} of {measures} measures have errors");
        Ok(ExitCode::FAILURE)
    }
}

fn simulate(svc: &Service, file: &Path, as_of: Option<&str>, out: Option<&Path>) -> Result<ExitCode, String> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {name}: {e}"))?;
    let specs = huiqi::seed::parse_measure_file(&name, &text).map_err(|e| e.to_string())?;
    let as_of = as_of.map(Date::parse).transpose().map_err(|e| e.to_string())?;
    let tags = svc.tag_dictionary().map_err(|e| e.to_string())?;
    for (i, spec) in specs.iter().enumerate() {
        if let Err(errors) = huiqi::rules::check_measure(spec, &tags) {
            print_rule_errors(&name, &format!("measure {} «{}»", i + 1, spec.name), &errors);
            return Ok(ExitCode::FAILURE);
        }
        let sim = svc.simulate(spec, as_of, out.is_some()).map_err(|e| e.to_string())?;
        println!(
            "{}: {} entities as of {}: {} eligible, {} unknown, {} near misses; total {} 万元{}",
            spec.name,
            sim.entities,
            sim.as_of,
            sim.eligible,
            sim.unknown,
            sim.near_miss,
            huiqi::model::Money(sim.total_fen),
            if sim.amount_unknown + sim.amount_negative > 0 {
                format!(" ({} amounts unknown, {} negative)", sim.amount_unknown, sim.amount_negative)
            } else {
                String::new()
            }
        );
        if let (Some(out), Some(rows)) = (out, &sim.list) {
            let path = if i == 0 {
                out.to_path_buf()
            } else {
                let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                out.with_file_name(format!("{stem}.{}.csv", i + 1))
            };
            let mut w = csv::Writer::from_path(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            w.write_record(["credit_code", "outcome", "amount"]).map_err(|e| e.to_string())?;
            for r in rows {
                let outcome = match r.outcome {
                    huiqi::rules::eval::Outcome::Eligible => "eligible",
                    _ => "unknown",
                };
                let amount = r.amount_wan.map(huiqi::model::fields::format_number).unwrap_or_default();
                w.write_record([r.credit_code.as_str(), outcome, &amount]).map_err(|e| e.to_string())?;
            }
            w.flush().map_err(|e| e.to_string())?;
            println!("wrote {} rows to {}", rows.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
