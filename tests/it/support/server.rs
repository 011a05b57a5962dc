//! The real `hotline` binary, started on port 0 with a database of the test's own.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{repo_root, TempDir};

pub const BIN: &str = env!("CARGO_BIN_EXE_hotline");

/// A `hotline` command with the test configuration and nothing of the caller's environment that
/// could change its behaviour.
pub fn command(db_url: &str, cwd: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("HOTLINE_LOG")
        .env_remove("HOTLINE_CONFIG_DIR")
        .env("HOTLINE_ENV", "test")
        .env("HOTLINE_CONFIG_DIR", repo_root().join("config"))
        .env("HOTLINE__DATABASE__URL", db_url);
    for (key, _) in std::env::vars() {
        if key.starts_with("HOTLINE__") && key != "HOTLINE__DATABASE__URL" {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log_path: PathBuf,
    _dir: TempDir,
}

impl Server {
    pub fn start(db_url: &str) -> Self {
        Self::start_with(db_url, &[])
    }

    /// Starts `hotline serve` and waits (at most 60 s) for its `listening on` line.
    pub fn start_with(db_url: &str, env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = command(db_url, dir.path());
        cmd.arg("serve")
            .env("HOTLINE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn hotline");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "hotline did not start; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        Server {
            child,
            addr,
            log_path,
            _dir: dir,
        }
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to exit.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "hotline did not exit within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
