//! The real `huiqi` binary as a child process: one-shot commands, and `serve` on port 0 with
//! its address read from the banner. Children never inherit the caller's data directory,
//! listen address or evaluation date.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{Error, err};

/// Where the binary is, and the log filter its children run with.
#[derive(Debug, Clone)]
pub struct Binary {
    pub path: PathBuf,
}

impl Binary {
    pub fn new(path: &Path) -> Binary {
        Binary { path: path.to_path_buf() }
    }

    /// `huiqi --data DATA` with a quiet log and nothing inherited that would change its store.
    pub fn command(&self, data: &Path) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.arg("--data")
            .arg(data)
            .env("HUIQI_LOG", "warn")
            .env_remove("HUIQI_DATA")
            .env_remove("HUIQI_LISTEN")
            .env_remove("HUIQI_TODAY")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a command to completion.
    pub fn run(&self, data: &Path, args: &[&str]) -> Result<Output, Error> {
        self.command(data).args(args).output().map_err(|e| format!("cannot run {} {args:?}: {e}", self.path.display()))
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn run_ok(&self, data: &Path, args: &[&str]) -> Result<String, Error> {
        let out = self.run(data, args)?;
        if !out.status.success() {
            return Err(format!(
                "huiqi {args:?} failed ({}): {} {}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts `huiqi serve --listen 127.0.0.1:0 ARGS` and waits for its address. Its log goes
    /// to `log_file`.
    pub fn serve(&self, data: &Path, args: &[&str], log_file: &Path, timeout: Duration) -> Result<Server, Error> {
        let log = std::fs::File::create(log_file).map_err(|e| format!("cannot create {}: {e}", log_file.display()))?;
        let mut child = self
            .command(data)
            .args(["serve", "--listen", "127.0.0.1:0", "--backup-every-hours", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start {} serve: {e}", self.path.display()))?;
        let out = child.stdout.take().ok_or("huiqi serve has no standard output")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps reading after the banner, so that the server never blocks on a full pipe.
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut server = Server { child, url: String::new(), log_file: log_file.to_path_buf() };
        let deadline = Instant::now() + timeout;
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(url) = line.split("huiqi is serving on ").nth(1) {
                        server.url = url.trim().trim_end_matches('/').to_string();
                        return Ok(server);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("huiqi serve printed no address within {timeout:?}: {}", server.log_tail()));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().map_err(err)?;
                    return Err(format!("huiqi serve exited ({status}) before serving: {}", server.log_tail()));
                }
            }
        }
    }
}

/// A running `huiqi serve`; dropping it kills the process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    log_file: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) -> Result<(), Error> {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().map_err(|e| format!("cannot kill huiqi serve: {e}"))?;
        }
        self.child.wait().map_err(err)?;
        Ok(())
    }

    /// Whether the process has exited on its own.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its log, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Copies a data directory (the store and the attachment files) to a fresh `to`.
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), Error> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(|e| format!("cannot remove {}: {e}", to.display()))?;
    }
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))? {
        let entry = entry.map_err(err)?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(err)?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}
