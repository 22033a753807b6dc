//! Where the processes of an attempt listen (a given hostfile, checked to name only this
//! machine, or one written anew with free ports of 127.0.0.1), and the secret they
//! authenticate each other with.

use std::fs;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};

use super::SupervisorError;

/// Checks that every process of the hostfile runs on this machine: the supervisor starts
/// processes locally only.
pub(super) fn check_local_hostfile(path: &Path, processes: usize) -> Result<(), SupervisorError> {
    // Parsed as the job parses it.
    let addresses = eddy_core::cluster::ClusterConfig::from_hostfile(path, processes, 0)?.addresses;
    for (process, address) in addresses.iter().enumerate() {
        let host = address.rsplit_once(':').map_or(address.as_str(), |(host, _)| host);
        if !is_local_host(host) {
            return Err(SupervisorError::Config(format!(
                "hostfile {} puts process {process} on `{host}`, but `eddy run` starts processes on \
                 this machine only; for other hosts use `scripts/launch.sh --hostfile {} --ssh`",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

fn is_local_host(host: &str) -> bool {
    let host = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Writes `<log_dir>/hostfile` with `processes` free ports of 127.0.0.1. The ports are free
/// when chosen; another program could take one before the job binds it, which fails the attempt.
pub(super) fn write_local_hostfile(log_dir: &Path, processes: usize) -> Result<PathBuf, SupervisorError> {
    let context = || "choosing free ports on 127.0.0.1".to_string();
    // All listeners are open together, so the ports are distinct.
    let listeners = (0..processes)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|error| SupervisorError::io(context(), error))?;
    let mut text = String::new();
    for listener in &listeners {
        let port = listener.local_addr().map_err(|error| SupervisorError::io(context(), error))?.port();
        text.push_str(&format!("127.0.0.1:{port}\n"));
    }
    drop(listeners);
    let path = log_dir.join("hostfile");
    fs::write(&path, text)
        .map_err(|error| SupervisorError::io(format!("writing {}", path.display()), error))?;
    std::path::absolute(&path)
        .map_err(|error| SupervisorError::io(format!("resolving {}", path.display()), error))
}

/// The file holding the secret the processes of a job authenticate each other with
/// (`eddy_core::cluster`): the user's, when `EDDY_CLUSTER_SECRET_FILE` is set in the
/// supervisor's environment or the job's, else `<log_dir>/cluster-secret`, written anew for
/// every attempt (a process left over from an earlier attempt cannot join) with 32 random bytes,
/// readable by the owner only.
pub(super) fn cluster_secret(
    log_dir: &Path,
    job_env: &[(String, String)],
) -> Result<PathBuf, SupervisorError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = eddy_core::cluster::SECRET_FILE_ENV;
    let given = job_env.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    if let Some(path) = given.or_else(|| std::env::var(name).ok()) {
        return Ok(PathBuf::from(path));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| SupervisorError::Config(format!("no randomness for the cluster secret: {error}")))?;
    let text: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>() + "\n";
    let path = std::path::absolute(log_dir.join("cluster-secret"))
        .map_err(|error| SupervisorError::io(format!("resolving {}", log_dir.display()), error))?;
    let staged = path.with_extension("tmp");
    let _ = fs::remove_file(&staged);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|mut file| file.write_all(text.as_bytes()).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&staged, &path));
    written.map_err(|error| SupervisorError::io(format!("writing {}", path.display()), error))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostfiles_must_name_local_hosts_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        fs::write(&path, "# local\n127.0.0.1:2101\n\nlocalhost:2102 # two\n[::1]:2103\nfar-away:2104\n")
            .unwrap();
        check_local_hostfile(&path, 3).unwrap();
        let error = check_local_hostfile(&path, 4).unwrap_err().to_string();
        assert!(error.contains("process 3 on `far-away`") && error.contains("scripts/launch.sh"), "{error}");
        assert!(check_local_hostfile(&path, 5).unwrap_err().to_string().contains("lists 4 addresses"));
        fs::write(&path, "127.0.0.1\n").unwrap();
        assert!(check_local_hostfile(&path, 1).unwrap_err().to_string().contains("is not `host:port`"));
    }
}
