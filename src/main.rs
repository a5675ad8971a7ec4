//! The `huiqi` command line: serve, init, import, export, seed, user, check, compact, backup,
//! restore.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use huiqi::cli::import::import_entities;
use huiqi::cli::rules::{rules_check, simulate};
use huiqi::cli::serve::{BackupArgs, PushArgs, serve};
use huiqi::cli::user::{UserAction, auth_of, user};
use huiqi::cli::{cli_who, open};
use huiqi::http;
use huiqi::import::Format;
use huiqi::model::{Date, Who};
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
