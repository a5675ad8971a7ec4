//! `huiqi bench`: engine figures on generated data, crash trials, or a busy day on loopback.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Result;
use crate::model::Date;

#[derive(clap::Args)]
pub struct BenchArgs {
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
    /// Instead of the engine figures: the money half at scale — an auto list that fits
    /// `--fits` of `--entities`, confirmed, `--pay` offers accepted, a payment batch exported
    /// and its return file imported (twice).
    #[arg(long)]
    payout: bool,
    #[arg(long, default_value_t = 200_000)]
    fits: u64,
    #[arg(long, default_value_t = 100_000)]
    pay: u64,
}

/// Runs what `args` ask for, the progress on stderr and the figures on stdout.
pub fn bench(args: BenchArgs, today: Option<Date>) -> Result<ExitCode> {
    let BenchArgs { entities, measures, seed, dir, crash, load, users, minutes, payout, fits, pay } = args;
    if payout {
        let dir = dir.unwrap_or_else(|| crate::bench::payout::default_dir(entities, seed));
        let opts = crate::bench::payout::PayoutOptions { entities, seed, fits, pay, dir, today };
        let report = crate::bench::payout::run(&opts, &mut std::io::stderr())?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(trials) = crash {
        let dir = dir.unwrap_or_else(|| PathBuf::from("huiqi-bench-crash"));
        let opts = crate::bench::crash::CrashOptions { trials, dir };
        let report = crate::bench::crash::run(&opts, &mut std::io::stderr())?;
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    if load {
        let dir = dir.unwrap_or_else(|| PathBuf::from("huiqi-bench-load"));
        let opts = crate::bench::load::LoadOptions { users, minutes, dir };
        let report = crate::bench::load::run(&opts, &mut std::io::stderr())?;
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(format!("huiqi-bench-{entities}-{measures}-{seed}")));
    let opts = crate::bench::BenchOptions { entities, measures, seed, dir, today };
    let report = crate::bench::run(&opts, &mut std::io::stderr())?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
