//! `huiqi backup` and `huiqi restore`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::{CliError, Result};
use crate::model::{Clock, Who};
use crate::service::backup::{BackupMade, time_of};
use crate::service::{Config, Service};
use crate::store::{FILE_NAME, Store, StoreError};

/// `huiqi backup --out FILE`: straight from the store when no process uses it; with `--url`,
/// asks the running server for a backup and downloads it (token in `HUIQI_TOKEN`).
pub fn backup(data: &Path, out: &Path, url: Option<&str>, config: Config) -> Result<ExitCode> {
    if out.exists() {
        return Err(
            format!("{} exists already (文件已存在): choose another name or move it away", out.display()).into()
        );
    }
    if let Some(url) = url {
        return remote(url, out);
    }
    if !data.join(FILE_NAME).is_file() {
        return Err(format!("there is no store in {} (没有数据文件): check --data", data.display()).into());
    }
    let store = Store::open(data).map_err(|e| match e {
        StoreError::AlreadyOpen(_) => CliError::Message(format!(
            "the data directory {} is in use by a running huiqi server (数据目录正被运行中的服务器使用). \
             Ask the server for the backup: `huiqi backup --url http://ADDRESS --out {}` with an API token \
             of a system administrator (scope admin) in HUIQI_TOKEN — or download one from 系统管理 › 数据备份 \
             (/admin/backups)",
            data.display(),
            out.display()
        )),
        other => CliError::Store(other),
    })?;
    let svc = Service::new(store, config);
    let made = svc.backup_write(&Who::system("cli"), out)?;
    print_made(&made, &out.display().to_string());
    Ok(ExitCode::SUCCESS)
}

fn print_made(made: &BackupMade, to: &str) {
    println!("backup written to {to}: {}", made.summary());
}

/// The message of an API error answer, or the answer itself.
fn error_of(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(300).collect())
}

fn remote(url: &str, out: &Path) -> Result<ExitCode> {
    let token = std::env::var("HUIQI_TOKEN").map_err(|_| {
        "set HUIQI_TOKEN to an API token of a system administrator with the admin scope \
         (huiqi user token NAME --scope admin while the server is stopped, or 系统管理 › 接口令牌)"
            .to_string()
    })?;
    let base = url.trim_end_matches('/');
    let auth = format!("Bearer {}", token.trim());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let unreachable = |e: ureq::Error| format!("cannot reach {base}: {e}");

    let mut made = agent
        .post(format!("{base}/api/v1/backups"))
        .header("Authorization", &auth)
        .send_empty()
        .map_err(unreachable)?;
    let status = made.status().as_u16();
    let text = made.body_mut().read_to_string().map_err(unreachable)?;
    if status != 201 {
        return Err(format!("the server made no backup ({status}): {}", error_of(&text)).into());
    }
    let answer: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the server's answer is not JSON ({e}): {text}"))?;
    let name = answer["name"]
        .as_str()
        .filter(|n| time_of(n).is_some())
        .ok_or_else(|| format!("the server's answer names no backup: {text}"))?;

    let mut got = agent
        .get(format!("{base}/api/v1/backups/{name}"))
        .header("Authorization", &auth)
        .call()
        .map_err(unreachable)?;
    let status = got.status().as_u16();
    if status != 200 {
        let text = got.body_mut().read_to_string().unwrap_or_default();
        return Err(format!("the server did not hand out {name} ({status}): {}", error_of(&text)).into());
    }
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let part = dir.join(format!(".{file_name}.part"));
    let fetched = (|| -> Result<crate::store::backup::Manifest, String> {
        let mut file = std::fs::File::create(&part).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        std::io::copy(&mut got.into_body().into_reader(), &mut file)
            .map_err(|e| format!("download of {name} broke off: {e}"))?;
        file.flush().and_then(|()| file.sync_all()).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        crate::service::backup::verify(&part).map_err(|e| format!("the downloaded backup does not verify: {e}"))
    })();
    let manifest = match fetched {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e.into());
        }
    };
    std::fs::rename(&part, out).map_err(|e| format!("cannot rename {} to {}: {e}", part.display(), out.display()))?;
    crate::store::backup::sync_file_and_dir(out).map_err(|e| format!("cannot flush {}: {e}", out.display()))?;
    let size = std::fs::metadata(out).map_or(0, |m| m.len());
    println!(
        "backup {name} from {base} written to {}: {size} bytes, verified: schema {}, {} tables, {} rows, {} attachments, audit trail to #{}",
        out.display(),
        manifest.schema_version,
        manifest.tables.len(),
        manifest.rows(),
        manifest.attachments,
        manifest.audit_head.as_ref().map_or(0, |h| h.0)
    );
    Ok(ExitCode::SUCCESS)
}

/// `huiqi restore --from FILE [--force]`: no service runs (the store is replaced before it is
/// opened), so the time is the system clock's.
pub fn restore(data: &Path, from: &Path, force: bool) -> Result<ExitCode> {
    let r = crate::service::backup::restore(data, from, force, &Who::system("cli"), &Clock::default())?;
    let m = &r.manifest;
    println!(
        "restored {} into {}: made {} (schema {}), {} tables, {} rows, {} attachments; audit trail intact ({} entries)",
        from.display(),
        data.display(),
        m.created_at.display_cst(),
        m.schema_version,
        m.tables.len(),
        m.rows(),
        r.attachments,
        r.audit_entries
    );
    if let Some(aside) = &r.kept_aside {
        println!("the store it replaced is kept as {}", aside.display());
    }
    Ok(ExitCode::SUCCESS)
}
