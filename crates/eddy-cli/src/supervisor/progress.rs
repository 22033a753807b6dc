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

/// The supervisor's progress summary. The watermark and checkpoint are the minimum over all
/// processes, so `none` until every process has reported one.
pub(super) fn summary_line(attempt: u32, up: usize, progress: &[Option<Progress>], restarts: u32) -> String {
    let minimum = |field: fn(&Progress) -> Option<u64>| -> Option<u64> {
        progress
            .iter()
            .map(|progress| progress.as_ref().and_then(field))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()
    };
    let show = |value: Option<u64>| value.map_or_else(|| "none".to_string(), |value| value.to_string());
    let records_in: u64 = progress.iter().flatten().map(|progress| progress.records_in).sum();
    let records_out: u64 = progress.iter().flatten().map(|progress| progress.records_out).sum();
    format!(
        "eddy run: attempt {attempt}, {up}/{} processes up, watermark {} (min), records in {records_in}, \
         out {records_out}, checkpoint {} (min over processes), restarts {restarts}",
        progress.len(),
        show(minimum(|progress| progress.watermark)),
        show(minimum(|progress| progress.checkpoint)),
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
            "eddy run: attempt 2, 2/2 processes up, watermark 5 (min), records in 24690, out 1356, \
             checkpoint 7 (min over processes), restarts 1"
        );
        assert_eq!(
            summary_line(0, 1, &[Some(first), Some(second)], 0),
            "eddy run: attempt 0, 1/2 processes up, watermark none (min), records in 12350, out 680, \
             checkpoint none (min over processes), restarts 0"
        );
        assert!(summary_line(0, 2, &[Some(first), None], 0).contains("watermark none"));
    }
}
