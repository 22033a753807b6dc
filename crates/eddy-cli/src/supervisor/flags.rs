//! The job's command line as the supervisor edits it: where its options end, the value of a
//! flag, the cluster flags added before a `--`, and `--restore latest` for restarts.

use std::path::Path;
use std::time::Duration;

use eddy_core::checkpoint::store::{is_complete, list_checkpoints};

use super::SupervisorError;

/// The end of the job's options: the index of its first `--`, after which come positional
/// arguments that may look like flags.
fn options_end(args: &[String]) -> usize {
    args.iter().position(|arg| arg == "--").unwrap_or(args.len())
}

/// The value of the last `name VALUE` or `name=VALUE` among the job's options (an empty one
/// when `name` ends the options).
pub(super) fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let options = &args[..options_end(args)];
    let mut value = None;
    for (index, arg) in options.iter().enumerate() {
        if arg == name {
            value = Some(options.get(index + 1).map_or("", String::as_str));
        } else if let Some(inline) = arg.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
            value = Some(inline);
        }
    }
    value
}

/// `args` with `flags` added at the end of the options.
pub(super) fn with_flags(args: &[String], flags: impl IntoIterator<Item = String>) -> Vec<String> {
    let end = options_end(args);
    let mut result = args[..end].to_vec();
    result.extend(flags);
    result.extend_from_slice(&args[end..]);
    result
}

/// `args` without any `--restore X` or `--restore=X`, and with `--restore latest`.
fn with_restore_latest(args: &[String]) -> Vec<String> {
    let end = options_end(args);
    let mut kept = Vec::with_capacity(args.len() + 2);
    let mut skip_value = false;
    for arg in &args[..end] {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg == "--restore" {
            skip_value = true;
        } else if !arg.starts_with("--restore=") {
            kept.push(arg.clone());
        }
    }
    kept.extend_from_slice(&args[end..]);
    with_flags(&kept, ["--restore".to_string(), "latest".to_string()])
}

/// The job's arguments for a restart: with `--restore latest` when its `--checkpoint-dir`
/// holds a complete checkpoint, else as given.
pub(super) fn restart_args(args: &[String]) -> Result<Vec<String>, SupervisorError> {
    let Some(dir) = flag_value(args, "--checkpoint-dir").filter(|dir| !dir.is_empty()) else {
        return Ok(args.to_vec());
    };
    for (_, checkpoint) in list_checkpoints(Path::new(dir))? {
        if is_complete(&checkpoint)? {
            return Ok(with_restore_latest(args));
        }
    }
    Ok(args.to_vec())
}

/// A duration as the job's flags take it.
pub(super) fn duration_flag(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use eddy_core::checkpoint::store::MANIFEST;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn flags_are_found_in_both_forms_and_not_after_a_double_dash() {
        let args = strings(&["--checkpoint-dir", "a", "--checkpoint-dir=b", "--", "--restore", "x"]);
        assert_eq!(flag_value(&args, "--checkpoint-dir"), Some("b"));
        assert_eq!(flag_value(&args, "--restore"), None);
        assert_eq!(flag_value(&strings(&["--checkpoint-dir"]), "--checkpoint-dir"), Some(""));
        assert_eq!(flag_value(&strings(&["--checkpoint-directory", "a"]), "--checkpoint-dir"), None);
    }

    #[test]
    fn restore_latest_replaces_every_restore_and_keeps_positionals() {
        let args = strings(&["--restore", "sp", "--rate", "5", "--restore=old", "--", "--restore", "input"]);
        assert_eq!(
            with_restore_latest(&args),
            strings(&["--rate", "5", "--restore", "latest", "--", "--restore", "input"])
        );
        assert_eq!(with_restore_latest(&strings(&["--restore"])), strings(&["--restore", "latest"]));
    }

    #[test]
    fn cluster_flags_go_before_a_double_dash() {
        let args = strings(&["--rate", "5", "--", "in.csv"]);
        assert_eq!(
            with_flags(&args, strings(&["--process", "1"])),
            strings(&["--rate", "5", "--process", "1", "--", "in.csv"])
        );
    }

    #[test]
    fn restarts_restore_the_latest_complete_checkpoint_only() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints = dir.path().join("chk");
        let dir_arg = checkpoints.display().to_string();
        let args = strings(&["--checkpoint-dir", &dir_arg, "--restore", "/savepoints/sp-1"]);
        // No checkpoint directory yet, then only an incomplete checkpoint: restart as given.
        assert_eq!(restart_args(&args).unwrap(), args);
        fs::create_dir_all(checkpoints.join("chk-0000000001")).unwrap();
        assert_eq!(restart_args(&args).unwrap(), args);
        fs::write(checkpoints.join("chk-0000000001").join(MANIFEST), "{}").unwrap();
        assert_eq!(
            restart_args(&args).unwrap(),
            strings(&["--checkpoint-dir", &dir_arg, "--restore", "latest"])
        );
        let inline = [format!("--checkpoint-dir={dir_arg}")];
        assert_eq!(restart_args(&inline).unwrap(), [inline[0].clone(), "--restore".into(), "latest".into()]);
        // Without a checkpoint directory, nothing changes.
        let plain = strings(&["--restore", "/savepoints/sp-1"]);
        assert_eq!(restart_args(&plain).unwrap(), plain);
    }
}
