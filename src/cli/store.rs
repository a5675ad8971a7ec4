//! `huiqi init`, `huiqi check` and `huiqi compact`: the store file itself.

use std::path::Path;
use std::process::ExitCode;

use super::{Result, cli_who};
use crate::service::{Config, Service};
use crate::store::{SCHEMA_VERSION, Store};

/// `huiqi init`: creates or migrates the store and loads the reference data.
pub fn init(svc: &Service) -> Result<ExitCode> {
    svc.init_reference(&cli_who())?;
    println!("store ready at {} (schema version {})", svc.store.path().display(), SCHEMA_VERSION);
    Ok(ExitCode::SUCCESS)
}

/// `huiqi check`: schema version, page checksums (damage repaired), counts.
pub fn check(dir: &Path, config: Config) -> Result<ExitCode> {
    let mut store = Store::open(dir)?;
    let intact = store.check_integrity()?;
    let svc = Service::new(store, config);
    let stats = svc.stats()?;
    println!("store: {} ({} bytes)", svc.store.path().display(), stats.store_bytes);
    println!("schema version: {}", SCHEMA_VERSION);
    println!("page checksums: {}", if intact { "ok" } else { "damage found and repaired" });
    println!(
        "policies: {}, measures: {} ({} published), entities: {}, accounts: {}",
        stats.policies, stats.measures, stats.published_measures, stats.entities, stats.users
    );
    // Where the bytes go, per entity of the library: the figure to keep small at 3,000,000.
    let per = |bytes: u64| if stats.entities > 0 { bytes as f64 / stats.entities as f64 } else { 0.0 };
    let tables = svc.store.table_sizes()?;
    let total: u64 = tables.iter().map(|t| t.total_bytes()).sum();
    println!("tables (bytes = stored + B-tree + fragmented; per entity of {}):", stats.entities);
    for t in tables.iter().filter(|t| t.entries > 0) {
        println!(
            "  {:<28} {:>10} entries {:>14} bytes {:>9.1} B/entity",
            t.name,
            t.entries,
            t.total_bytes(),
            per(t.total_bytes())
        );
    }
    for (what, bytes) in [("all tables", total), ("the file", stats.store_bytes)] {
        println!("  {:<28} {:>10}         {:>14} bytes {:>9.1} B/entity", what, "", bytes, per(bytes));
    }
    match svc.portrait_snapshot_check()? {
        None => println!("portrait snapshot: none (the next start reads every entity record, then writes one)"),
        Some(c) => println!(
            "portrait snapshot: {} ({} bytes, {} entities): {}",
            c.path.display(),
            c.bytes,
            c.entities,
            match &c.unusable {
                None => format!("in use, {} entities written since", c.written_since),
                Some(why) => format!("not usable ({why}); the next start rebuilds from the store and replaces it"),
            }
        ),
    }
    Ok(if intact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `huiqi compact`: rewrites the store file to release free space.
pub fn compact(dir: &Path) -> Result<ExitCode> {
    let mut store = Store::open(dir)?;
    let before = store.file_size();
    store.compact()?;
    println!("compacted: {before} → {} bytes", store.file_size());
    Ok(ExitCode::SUCCESS)
}
