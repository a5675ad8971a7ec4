//! `huiqi export`: a library as CSV or XLSX.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::Result;
use crate::import::Format;
use crate::service::Service;

/// What `huiqi export` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportWhat {
    Entities,
    Policies,
}

/// Writes `what` to `out`, in the format its extension names.
pub fn export(svc: &Service, what: ExportWhat, out: &Path) -> Result<ExitCode> {
    let name = out.display().to_string();
    let format = Format::of(&name).ok_or_else(|| format!("{name}: the file must end in .csv or .xlsx"))?;
    let file = std::fs::File::create(out).map_err(|e| format!("cannot create {name}: {e}"))?;
    let mut w = std::io::BufWriter::new(file);
    let rows = match what {
        ExportWhat::Entities => svc.export_entities(format, &mut w, true, &[]),
        ExportWhat::Policies => svc.export_policies(format, &mut w),
    }?;
    w.flush()?;
    println!("wrote {rows} rows to {name}");
    Ok(ExitCode::SUCCESS)
}
