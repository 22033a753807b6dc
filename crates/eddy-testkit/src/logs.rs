//! The logs a supervised job leaves: `<log_dir>/process-<I>.log`, each line prefixed `[pI] `.

use std::path::Path;

/// The log of `process` (empty if it has none yet).
pub fn process_log(log_dir: &Path, process: usize) -> String {
    std::fs::read_to_string(log_dir.join(format!("process-{process}.log"))).unwrap_or_default()
}

/// The logs of processes `0..processes`, one after the other (for failure messages).
pub fn process_logs(log_dir: &Path, processes: usize) -> String {
    (0..processes).map(|process| process_log(log_dir, process)).collect::<Vec<_>>().join("\n")
}
