//! `huiqi seed`: generated entities, and with `--policies` the demo policies.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{Result, cli_who};
use crate::model::Who;
use crate::service::Service;

/// Loads the reference data, the demo policies when asked, and `entities` generated entities
/// numbered on from those the library holds.
pub fn seed(svc: &Service, entities: u64, seed: u64, policies: bool) -> Result<ExitCode> {
    svc.init_reference(&cli_who())?;
    if policies {
        let files = crate::seed::demo_policies()?;
        let (p, m) = svc.load_policies(&Who::system("seed"), &files)?;
        println!("loaded {p} policies with {m} published measures");
    }
    let start = svc.stats()?.entities;
    let tty = std::io::stderr().is_terminal();
    let n = svc.seed_entities(seed, start, entities, |done| {
        if tty {
            eprint!("\rgenerating entities: {done}/{entities}");
        }
    })?;
    if tty {
        eprintln!();
    }
    println!("generated {n} entities (seed {seed}, numbers {start}–{})", start + n);
    Ok(ExitCode::SUCCESS)
}
