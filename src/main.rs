//! The `huiqi` command line: serve, init, import, export, seed, user, check, compact, backup,
//! restore.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use huiqi::cli::audit::audit_verify;
use huiqi::cli::backup::{backup, restore};
use huiqi::cli::bench::{BenchArgs, bench};
use huiqi::cli::export::{ExportWhat, export};
use huiqi::cli::import::import_entities;
use huiqi::cli::rules::{rematch, rules_check, simulate};
use huiqi::cli::seed::seed;
use huiqi::cli::serve::{ServeArgs, serve};
use huiqi::cli::store::{check, compact, init};
use huiqi::cli::user::{UserAction, auth_of, department, user};
use huiqi::cli::{CliError, open};
use huiqi::model::{Date, Who};
use huiqi::service::Config;

/// mimalloc instead of glibc's malloc: an import of many rows allocates and frees small
/// values on three threads and redb's pages in between; glibc spent a third of it in malloc
/// and free (BENCHMARKS.md, import).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Serve(ServeArgs),
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
    Bench(BenchArgs),
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

fn config(cli: &Cli) -> Result<Config, CliError> {
    let today = match &cli.today {
        Some(t) => Some(Date::parse(t)?),
        None => None,
    };
    Ok(Config { today, ..Config::default() })
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let config = config(&cli)?;
    let data = cli.data.clone();
    let dir = || data.clone().unwrap_or_else(|| PathBuf::from("huiqi-data"));
    match cli.command {
        Command::Serve(args) => serve(data.as_deref(), config, args),
        Command::Init => init(&open(&dir(), config)?),
        Command::Import { what: ImportWhat::Entities { file, skip_invalid, report, dry_run, who } } => {
            import_entities(&open(&dir(), config)?, &file, skip_invalid, report, dry_run, &Who::system(&who))
        }
        Command::Export { what, out } => export(&open(&dir(), config)?, what, &out),
        Command::Seed { entities, seed: n, policies } => seed(&open(&dir(), config)?, entities, n, policies),
        Command::User { action } => user(&auth_of(&open(&dir(), config)?)?, action),
        Command::Department { name, region } => department(&auth_of(&open(&dir(), config)?)?, &name, &region),
        Command::Audit { action: AuditAction::Verify } => audit_verify(&open(&dir(), config)?),
        Command::Rules { action: RulesAction::Check { files } } => rules_check(&files, data.as_deref()),
        Command::Simulate { measure, as_of, out } => {
            simulate(&open(&dir(), config)?, &measure, as_of.as_deref(), out.as_deref())
        }
        Command::Bench(args) => bench(args, config.today),
        Command::Rematch => rematch(&open(&dir(), config)?),
        Command::Check => check(&dir(), config),
        Command::Compact => compact(&dir()),
        Command::Backup { out, url } => backup(&dir(), &out, url.as_deref(), config),
        Command::Restore { from, force } => restore(&dir(), &from, force),
    }
}
