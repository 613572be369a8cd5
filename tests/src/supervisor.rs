//! A real agent process under a supervisor that does what systemd's `Restart=on-failure`
//! does for the packaged unit: start the binary at a fixed path, and start it again when it
//! exits with a non-zero code (an agent update exits 75 to be restarted into the new binary).
//! A test can hold restarts (systemd's `RestartSec`, stretched) to arrange what the restarted
//! process meets. The process is killed when the supervisor is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    hold: AtomicBool,
    /// Exit codes of the runs that ended, in order (`None`: killed by a signal).
    exits: Mutex<Vec<Option<i32>>>,
    starts: Mutex<u32>,
}

/// The supervised agent.
pub struct SupervisedAgent {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub log: PathBuf,
}

fn spawn(binary: &Path, config: &Path, log: &Path) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("agent log opens");
    #[allow(clippy::disallowed_methods)] // The test is the service manager.
    std::process::Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("UNITY_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("agent process starts")
}

impl SupervisedAgent {
    /// Starts `binary --config config run`, restarting it after every non-zero exit.
    pub fn start(binary: &Path, config: &Path, log: &Path) -> SupervisedAgent {
        let shared = Arc::new(Shared::default());
        let (binary, config, log_path) = (binary.to_owned(), config.to_owned(), log.to_owned());
        let thread_shared = shared.clone();
        let thread = std::thread::spawn(move || {
            let shared = thread_shared;
            let mut child = Some(spawn(&binary, &config, &log_path));
            *shared.starts.lock().unwrap() += 1;
            while !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                if let Some(running) = child.as_mut() {
                    if let Ok(Some(status)) = running.try_wait() {
                        shared.exits.lock().unwrap().push(status.code());
                        child = None;
                        if status.success() {
                            return;
                        }
                    }
                }
                if child.is_none() && !shared.hold.load(Ordering::SeqCst) {
                    child = Some(spawn(&binary, &config, &log_path));
                    *shared.starts.lock().unwrap() += 1;
                }
            }
            if let Some(mut running) = child {
                let _ = running.kill();
                let _ = running.wait();
            }
        });
        SupervisedAgent {
            shared,
            thread: Some(thread),
            log: log.to_owned(),
        }
    }

    /// Holds (`true`) or allows (`false`) restarts.
    pub fn hold_restarts(&self, hold: bool) {
        self.shared.hold.store(hold, Ordering::SeqCst);
    }

    /// Exit codes of the runs that ended so far.
    pub fn exits(&self) -> Vec<Option<i32>> {
        self.shared.exits.lock().unwrap().clone()
    }

    /// Processes started so far.
    pub fn starts(&self) -> u32 {
        *self.shared.starts.lock().unwrap()
    }

    /// Everything the runs wrote to standard error.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SupervisedAgent {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
