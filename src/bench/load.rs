//! `huiqi bench --load`: a county's busy day against a real server on loopback.

use std::io::Write;

/// What the load run is asked to do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub users: u32,
    pub minutes: f64,
    pub dir: std::path::PathBuf,
}

/// Drives the workload and returns the report as JSON.
pub fn run(_opts: &LoadOptions, _log: &mut dyn Write) -> Result<serde_json::Value, String> {
    Err("huiqi bench --load is not built yet".into())
}
