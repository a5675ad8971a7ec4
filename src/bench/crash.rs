//! `huiqi bench --crash N`: kill -9 trials against the real binary.

use std::io::Write;

/// What the crash trials are asked to do.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    pub trials: u32,
    pub dir: std::path::PathBuf,
}

/// Runs the trials and returns the report as JSON.
pub fn run(_opts: &CrashOptions, _log: &mut dyn Write) -> Result<serde_json::Value, String> {
    Err("huiqi bench --crash is not built yet".into())
}
