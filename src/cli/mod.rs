//! Bodies of command-line commands, so that `main.rs` only parses and dispatches. Each answers
//! the exit code, or a [`CliError`] for the operator.

pub mod audit;
pub mod backup;
pub mod bench;
pub mod error;
pub mod export;
pub mod import;
pub mod rules;
pub mod seed;
pub mod serve;
pub mod store;
pub mod user;

use std::path::Path;

pub use error::{CliError, Result};

use crate::model::Who;
use crate::service::{Config, Service};
use crate::store::Store;

/// Who the command line acts as, in the audit trail.
pub fn cli_who() -> Who {
    Who::system("cli")
}

/// The service over the store in `dir`.
pub fn open(dir: &Path, config: Config) -> Result<Service> {
    let store = Store::open(dir)?;
    Ok(Service::new(store, config))
}
