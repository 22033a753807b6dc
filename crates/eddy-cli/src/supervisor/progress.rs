//! The job's progress lines (`eddy: progress {json}` on each process's stderr) and the
//! supervisor's one-line summary of them.

/// The prefix of the progress lines job processes write to stderr, followed by one JSON object.
const PROGRESS_PREFIX: &str = "eddy: progress ";

/// The latest progress line of one process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Progress {
    watermark: Option<u64>,
    records_in: u64,
    records_out: u64,
    checkpoint: Option<u64>,
}

/// Parses `eddy: progress {...}`; `None` for any other line.
pub(super) fn parse_progress(line: &str) -> Option<Progress> {
    let json = line.strip_prefix(PROGRESS_PREFIX)?;
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let object = value.as_object()?;
    let number = |name: &str| object.get(name).and_then(serde_json::Value::as_u64);
    Some(Progress {
        watermark: number("watermark"),
        records_in: number("records_in").unwrap_or(0),
        records_out: number("records_out").unwrap_or(0),
        checkpoint: number("checkpoint"),
    })
}

/// The supervisor's progress summary. The watermark is the minimum over the processes still
/// reading: a process reports `null` once its sources have ended (or when it reads no split, as a
/// process of a job with fewer files than processes does), and holds nothing back. It is
/// `pending` until every process has reported, and `end of input` once all have ended. The
/// checkpoint is the minimum over all processes (`none` until each has completed one).
pub(super) fn summary_line(attempt: u32, up: usize, progress: &[Option<Progress>], restarts: u32) -> String {
    let watermark = if progress.iter().any(Option::is_none) {
        "pending".to_string()
    } else {
        progress
            .iter()
            .flatten()
            .filter_map(|progress| progress.watermark)
            .min()
            .map_or_else(|| "end of input".to_string(), |watermark| watermark.to_string())
    };
    let checkpoint = progress
        .iter()
        .map(|progress| progress.as_ref().and_then(|progress| progress.checkpoint))
        .collect::<Option<Vec<_>>>()
        .and_then(|checkpoints| checkpoints.into_iter().min())
        .map_or_else(|| "none".to_string(), |checkpoint| checkpoint.to_string());
    let records_in: u64 = progress.iter().flatten().map(|progress| progress.records_in).sum();
    let records_out: u64 = progress.iter().flatten().map(|progress| progress.records_out).sum();
    format!(
        "eddy run: attempt {attempt}, {up}/{} processes up, watermark {watermark} (min over processes \
         still reading), records in {records_in}, out {records_out}, checkpoint {checkpoint} (min over \
         processes), restarts {restarts}",
        progress.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse_and_summarize() {
        let line = r#"eddy: progress {"process":1,"processes":2,"watermark":1700000012000,"records_in":12345,"records_out":678,"checkpoint":7}"#;
        let first = parse_progress(line).unwrap();
        assert_eq!(
            first,
            Progress {
                watermark: Some(1_700_000_012_000),
                records_in: 12345,
                records_out: 678,
                checkpoint: Some(7)
            }
        );
        let second = parse_progress(
            r#"eddy: progress {"process":0,"processes":2,"watermark":null,"records_in":5,"records_out":2,"checkpoint":null}"#,
        )
        .unwrap();
        assert_eq!(second.watermark, None);
        assert_eq!(parse_progress("eddy: progress {not json"), None);
        assert_eq!(parse_progress("progress {}"), None);

        assert_eq!(
            summary_line(
                2,
                2,
                &[Some(first), Some(Progress { watermark: Some(5), checkpoint: Some(9), ..first })],
                1
            ),
            "eddy run: attempt 2, 2/2 processes up, watermark 5 (min over processes still reading), \
             records in 24690, out 1356, checkpoint 7 (min over processes), restarts 1"
        );
        assert_eq!(
            summary_line(0, 1, &[Some(first), Some(second)], 0),
            "eddy run: attempt 0, 1/2 processes up, watermark 1700000012000 (min over processes still \
             reading), records in 12350, out 680, checkpoint none (min over processes), restarts 0",
            "a process whose sources ended (or that reads no split) holds nothing back"
        );
        assert!(summary_line(0, 2, &[Some(first), None], 0).contains("watermark pending"));
        let ended = Progress { watermark: None, ..first };
        assert!(summary_line(0, 2, &[Some(ended), Some(ended)], 0).contains("watermark end of input"));
    }
}
