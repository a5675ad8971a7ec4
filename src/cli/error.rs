//! The one error of the command line: whatever a command cannot do, printed as
//! `huiqi: {message}` with exit code 1.

use crate::auth::AuthError;
use crate::model::date::DateError;
use crate::seed::SeedError;
use crate::service::ServiceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What to tell the operator, as it is.
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Date(#[from] DateError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<String> for CliError {
    fn from(message: String) -> CliError {
        CliError::Message(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> CliError {
        CliError::Message(message.to_string())
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
