//! `huiqi audit verify`: the audit trail's hash chain.

use std::process::ExitCode;

use super::Result;
use crate::service::Service;

/// Recomputes the chain from the first entry; a broken link is named and exits 1.
pub fn audit_verify(svc: &Service) -> Result<ExitCode> {
    let report = svc.audit_verify()?;
    match report.broken {
        None => {
            println!("audit trail intact: {} entries, head {}", report.entries, report.head);
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!("audit trail BROKEN at entry {}: {}", b.seq, b.reason);
            Ok(ExitCode::FAILURE)
        }
    }
}
