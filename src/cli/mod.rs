//! Bodies of command-line commands, so that `main.rs` only parses and dispatches. Each answers
//! the exit code, or a message for the operator.

pub mod backup;
pub mod import;
pub mod rules;
pub mod serve;
pub mod user;

use std::path::Path;

use crate::model::Who;
use crate::service::{Config, Service};
use crate::store::Store;

/// Who the command line acts as, in the audit trail.
pub fn cli_who() -> Who {
    Who::system("cli")
}

/// The service over the store in `dir`.
pub fn open(dir: &Path, config: Config) -> Result<Service, String> {
    let store = Store::open(dir).map_err(|e| e.to_string())?;
    Ok(Service::new(store, config))
}
