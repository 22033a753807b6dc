//! Running under Slurm: a job started by `srun` with several tasks takes its process index and
//! count from the task (`SLURM_PROCID`, `SLURM_NTASKS`) and its peers' addresses from the
//! allocation, so `srun -N2 -n6 my-job --checkpoint-dir s3://bucket/job` needs no hostfile.
//!
//! Task `i` runs on the node that Slurm's block distribution (the default) gives it: the nodes
//! of `SLURM_STEP_NODELIST` in order, each taking as many consecutive tasks as
//! `SLURM_STEP_TASKS_PER_NODE` says. It listens on `NODE:BASE + L`, where `L` is its index among
//! the tasks of its node and `BASE` is `EDDY_SLURM_BASE_PORT`, or else one of 312 blocks of 64
//! ports in 20000..39999 chosen by the job and step ids, so that steps sharing a node rarely
//! share ports. Another
//! distribution (`--distribution=cyclic`) is refused: give a `--hostfile` then.

use eddy_core::cluster::ClusterConfig;
use eddy_core::error::{Error, Result};

/// The cluster of the `srun` step this process runs in, from the environment `get` reads;
/// `None` when not in a step of more than one task.
pub fn cluster_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<ClusterConfig>> {
    let (Some(procid), Some(ntasks)) = (get("SLURM_PROCID"), get("SLURM_NTASKS")) else {
        return Ok(None);
    };
    let number = |name: &str, text: &str| {
        text.trim().parse::<usize>().map_err(|_| Error::Config(format!("{name}=`{text}` is not a number")))
    };
    let (process, processes) = (number("SLURM_PROCID", &procid)?, number("SLURM_NTASKS", &ntasks)?);
    if processes < 2 {
        return Ok(None);
    }
    if let Some(distribution) = get("SLURM_DISTRIBUTION").filter(|text| !text.is_empty()) {
        if !distribution.starts_with("block") {
            return Err(Error::Config(format!(
                "SLURM_DISTRIBUTION={distribution}: eddy derives its peers' addresses from Slurm's \
                 block distribution only; run with --distribution=block or give a --hostfile"
            )));
        }
    }
    let either = |step: &str, job: &str| get(step).or_else(|| get(job));
    let nodelist = either("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST")
        .ok_or_else(|| Error::Config("SLURM_PROCID is set but SLURM_STEP_NODELIST is not".into()))?;
    let tasks_per_node = either("SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE")
        .ok_or_else(|| Error::Config("SLURM_PROCID is set but SLURM_STEP_TASKS_PER_NODE is not".into()))?;
    let nodes = expand_hostlist(&nodelist)?;
    let counts = expand_tasks_per_node(&tasks_per_node)?;
    if nodes.len() != counts.len() || counts.iter().sum::<usize>() != processes {
        return Err(Error::Config(format!(
            "the Slurm allocation does not add up: {} nodes ({nodelist}), tasks per node \
             {tasks_per_node}, {processes} tasks",
            nodes.len()
        )));
    }
    let base = match get("EDDY_SLURM_BASE_PORT") {
        Some(text) => text
            .trim()
            .parse::<u16>()
            .map_err(|_| Error::Config(format!("EDDY_SLURM_BASE_PORT=`{text}` is not a port")))?,
        None => {
            let id = |name: &str| get(name).and_then(|text| text.trim().parse::<u64>().ok()).unwrap_or(0);
            (20_000 + (id("SLURM_JOB_ID") * 7 + id("SLURM_STEP_ID") * 101) % 20_000 / 64 * 64) as u16
        }
    };
    let mut addresses = Vec::with_capacity(processes);
    for (node, count) in nodes.iter().zip(&counts) {
        for local in 0..*count {
            let port = base as usize + local;
            if port > u16::MAX as usize {
                return Err(Error::Config(format!(
                    "{count} tasks on {node} need ports above 65535 from {base}"
                )));
            }
            addresses.push(format!("{node}:{port}"));
        }
    }
    ClusterConfig::new(process, addresses).map(Some)
}

/// `node[01-03,7],login` -> `node01 node02 node03 node7 login` (Slurm's host list syntax:
/// ranges keep their zero padding).
pub fn expand_hostlist(list: &str) -> Result<Vec<String>> {
    let bad = |why: &str| Error::Config(format!("Slurm host list `{list}`: {why}"));
    let mut hosts = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        // One entry: up to a comma outside brackets.
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ => {}
                }
                c == ',' && depth == 0
            })
            .map_or(rest.len(), |(at, _)| at);
        let entry = &rest[..end];
        rest = rest[end..].strip_prefix(',').unwrap_or("");
        match entry.split_once('[') {
            None if entry.is_empty() => return Err(bad("empty entry")),
            None => hosts.push(entry.to_owned()),
            Some((prefix, ranges)) => {
                let (ranges, suffix) = ranges.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
                for range in ranges.split(',') {
                    let (low, high) = range.split_once('-').unwrap_or((range, range));
                    let number = |text: &str| {
                        text.parse::<u64>().map_err(|_| bad(&format!("`{range}` is not a range")))
                    };
                    let (from, to) = (number(low)?, number(high)?);
                    if to < from || to - from > 100_000 {
                        return Err(bad(&format!("`{range}` is not a range")));
                    }
                    for n in from..=to {
                        hosts.push(format!("{prefix}{n:0width$}{suffix}", width = low.len()));
                    }
                }
            }
        }
    }
    Ok(hosts)
}

/// `2(x3),1` -> `2 2 2 1`.
pub fn expand_tasks_per_node(text: &str) -> Result<Vec<usize>> {
    let bad = || Error::Config(format!("Slurm tasks per node `{text}` are not like `2(x3),1`"));
    let mut counts = Vec::new();
    for entry in text.trim().split(',') {
        let (count, times) = match entry.split_once("(x") {
            Some((count, times)) => (count, times.strip_suffix(')').ok_or_else(bad)?),
            None => (entry, "1"),
        };
        let count: usize = count.parse().map_err(|_| bad())?;
        let times: usize = times.parse().map_err(|_| bad())?;
        counts.extend(std::iter::repeat_n(count, times.min(100_000)));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string())
    }

    #[test]
    fn host_lists_and_task_counts_expand() {
        assert_eq!(
            expand_hostlist("node[01-03,7],login").unwrap(),
            ["node01", "node02", "node03", "node7", "login"]
        );
        assert_eq!(expand_hostlist("a[08-10]-ib").unwrap(), ["a08-ib", "a09-ib", "a10-ib"]);
        assert_eq!(expand_hostlist("a[8-10]").unwrap(), ["a8", "a9", "a10"]);
        assert_eq!(expand_hostlist("single").unwrap(), ["single"]);
        for bad in ["node[1-", "node[3-1]", "a,,b", "node[x]"] {
            let error = expand_hostlist(bad).unwrap_err().to_string();
            assert!(error.contains(bad), "{error}");
        }
        assert_eq!(expand_tasks_per_node("2(x3),1").unwrap(), [2, 2, 2, 1]);
        assert_eq!(expand_tasks_per_node("3").unwrap(), [3]);
        assert!(expand_tasks_per_node("2(x").is_err());
    }

    #[test]
    fn a_step_of_tasks_becomes_a_cluster_in_block_order() {
        let step = [
            ("SLURM_PROCID", "3"),
            ("SLURM_NTASKS", "5"),
            ("SLURM_STEP_NODELIST", "n[1-2]"),
            ("SLURM_STEP_TASKS_PER_NODE", "3,2"),
            ("EDDY_SLURM_BASE_PORT", "4000"),
        ];
        let cluster = cluster_from_env(env(&step)).unwrap().unwrap();
        assert_eq!((cluster.process, cluster.processes), (3, 5));
        assert_eq!(cluster.addresses, ["n1:4000", "n1:4001", "n1:4002", "n2:4000", "n2:4001"]);

        // Without a base port, one is derived from the job and step ids.
        let derived = [
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "2"),
            ("SLURM_JOB_NODELIST", "h"),
            ("SLURM_TASKS_PER_NODE", "2"),
            ("SLURM_JOB_ID", "12345"),
        ];
        let cluster = cluster_from_env(env(&derived)).unwrap().unwrap();
        let port: u16 = cluster.addresses[0].rsplit_once(':').unwrap().1.parse().unwrap();
        assert!((20_000..40_000).contains(&port), "{port}");
        assert_eq!(cluster.addresses[1], format!("h:{}", port + 1));
    }

    #[test]
    fn outside_a_step_or_with_one_task_there_is_no_cluster_and_bad_steps_are_refused() {
        assert!(cluster_from_env(env(&[])).unwrap().is_none());
        assert!(cluster_from_env(env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1")])).unwrap().is_none());
        let cyclic = [
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "2"),
            ("SLURM_DISTRIBUTION", "cyclic"),
            ("SLURM_STEP_NODELIST", "h"),
            ("SLURM_STEP_TASKS_PER_NODE", "2"),
        ];
        let error = cluster_from_env(env(&cyclic)).unwrap_err().to_string();
        assert!(error.contains("block distribution"), "{error}");
        let uneven = [
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_STEP_NODELIST", "h[1-2]"),
            ("SLURM_STEP_TASKS_PER_NODE", "2"),
        ];
        let error = cluster_from_env(env(&uneven)).unwrap_err().to_string();
        assert!(error.contains("does not add up"), "{error}");
    }
}
