//! The Flink window case format (`shared/conformance/README.md`, section B), parsed strictly into
//! typed structs. Integers are `i64`; unknown fields are errors.
//!
//! Strings whose meaning the runner decides (window kind, time domain, trigger, evictor,
//! aggregate, window-bounds mode) are kept as strings here, so that a value the runner does not
//! know makes that one case FAIL with a reason instead of making the file unreadable.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// One case file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The Flink test method the case replays.
    pub source: String,
    /// Other Flink methods asserting the identical vector.
    #[serde(default)]
    pub also_covers: Vec<String>,
    /// The window assigner.
    pub window: WindowSpec,
    /// The trigger, in the trigger grammar.
    pub trigger: String,
    /// The evictor, in the evictor grammar, or none.
    pub evictor: Option<String>,
    /// Allowed lateness in milliseconds.
    pub allowed_lateness_ms: i64,
    /// Whether late elements go to a side output.
    pub late_side_output: bool,
    /// `sum` or `list`.
    pub aggregate: String,
    /// The Java output shape (informative).
    pub flink_output: String,
    /// `asserted`, `derived_from_timestamp` or `none`.
    pub window_bounds_in_expected: String,
    /// The input, in order.
    pub steps: Vec<Step>,
    /// The main output's checkpoints.
    pub expected: Vec<Checkpoint>,
    /// The late side output's checkpoints, when the test checks them.
    pub expected_late: Option<Vec<Checkpoint>>,
    /// Free-form notes.
    #[serde(default)]
    pub notes: String,
}

/// The `window` object.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// `tumbling`, `sliding`, `session` or `global`.
    pub kind: String,
    /// `event_time`, `processing_time`, or none (global windows).
    pub time_domain: Option<String>,
    /// Window size (tumbling, sliding).
    pub size_ms: Option<i64>,
    /// Slide (sliding).
    pub slide_ms: Option<i64>,
    /// Session gap.
    pub gap_ms: Option<i64>,
    /// Always null in the format.
    pub count: Option<i64>,
    /// Dynamic session gap: an ordered rule list, the first match wins.
    pub dynamic_gap: Option<Vec<GapRule>>,
    /// A test-local session assigner: elements with this value get the window `[t, t)`.
    pub point_window_if_value: Option<i64>,
    /// The Flink API call the case stands for (informative).
    pub flink_api_equivalent: Option<String>,
}

/// One `dynamic_gap` rule.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapRule {
    /// Matches elements of this key (any key when absent).
    pub key: Option<String>,
    /// Matches elements of this value (any value when absent).
    pub value: Option<i64>,
    /// The gap for matching elements.
    pub gap_ms: i64,
}

impl GapRule {
    /// Whether the rule applies to an element.
    pub fn matches(&self, element: &ElementSpec) -> bool {
        self.key.as_ref().is_none_or(|key| *key == element.key)
            && self.value.is_none_or(|value| value == element.value)
    }
}

/// One input step.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// A keyed input record.
    Element(ElementSpec),
    /// A Flink watermark (no more records with timestamp ≤ it).
    Watermark(i64),
    /// Sets the processing time.
    ProcessingTime(i64),
    /// Checkpoint and restore the operator.
    SnapshotRestore(bool),
}

/// An input element.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementSpec {
    /// The key.
    pub key: String,
    /// The value.
    pub value: i64,
    /// The event timestamp.
    pub ts: i64,
}

/// An assertion point: the output since the previous checkpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The index of the last step this checkpoint covers.
    pub after_step: usize,
    /// The expected output of the segment.
    pub emit: Vec<Entry>,
}

/// An entry of an `emit` list: a record or a forwarded watermark.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawEntry")]
pub enum Entry {
    /// A forwarded (Flink) watermark.
    Watermark(i64),
    /// An output record.
    Record(ExpectedRecord),
}

/// An expected output record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedRecord {
    /// The key.
    pub key: String,
    /// The value (a sum, or an element's value).
    pub value: i64,
    /// The record's event timestamp.
    pub timestamp: i64,
    /// `(window_start, window_end)` when the case carries window bounds.
    pub window: Option<(i64, i64)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    watermark: Option<i64>,
    key: Option<String>,
    value: Option<i64>,
    timestamp: Option<i64>,
    window_start: Option<i64>,
    window_end: Option<i64>,
}

impl TryFrom<RawEntry> for Entry {
    type Error = String;

    fn try_from(raw: RawEntry) -> Result<Self, String> {
        match raw {
            RawEntry {
                watermark: Some(w),
                key: None,
                value: None,
                timestamp: None,
                window_start: None,
                window_end: None,
            } => Ok(Entry::Watermark(w)),
            RawEntry {
                watermark: None,
                key: Some(key),
                value: Some(value),
                timestamp: Some(timestamp),
                window_start,
                window_end,
            } => {
                let window = match (window_start, window_end) {
                    (Some(start), Some(end)) => Some((start, end)),
                    (None, None) => None,
                    _ => return Err("an entry has only one of window_start, window_end".into()),
                };
                Ok(Entry::Record(ExpectedRecord { key, value, timestamp, window }))
            }
            _ => Err("an entry must be {\"watermark\"} or {\"key\", \"value\", \"timestamp\"[, \
                      \"window_start\", \"window_end\"]}"
                .into()),
        }
    }
}

/// Why a case file could not be used.
#[derive(Debug)]
pub struct InvalidCase {
    /// The file.
    pub path: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for InvalidCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for InvalidCase {}

impl Case {
    /// Reads and checks one case file.
    pub fn load(path: &Path) -> Result<Case, InvalidCase> {
        let invalid = |reason: String| InvalidCase { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("unreadable: {e}")))?;
        let case: Case = serde_json::from_str(&text).map_err(|e| invalid(format!("invalid case: {e}")))?;
        case.check().map_err(|reason| invalid(format!("invalid case: {reason}")))?;
        Ok(case)
    }

    /// Structural checks that do not depend on what the runner supports.
    fn check(&self) -> Result<(), String> {
        check_checkpoints("expected", &self.expected, self.steps.len())?;
        if let Some(late) = &self.expected_late {
            check_checkpoints("expected_late", late, self.steps.len())?;
            for checkpoint in late {
                for entry in &checkpoint.emit {
                    match entry {
                        Entry::Record(ExpectedRecord { window: None, .. }) => {}
                        _ => {
                            return Err(format!(
                                "expected_late (after_step {}) may only hold records {{key, value, \
                                 timestamp}}",
                                checkpoint.after_step
                            ))
                        }
                    }
                }
            }
        }
        if self.allowed_lateness_ms < 0 {
            return Err("allowed_lateness_ms is negative".into());
        }
        Ok(())
    }
}

fn check_checkpoints(field: &str, checkpoints: &[Checkpoint], steps: usize) -> Result<(), String> {
    let mut previous: Option<usize> = None;
    for checkpoint in checkpoints {
        if checkpoint.after_step >= steps {
            return Err(format!(
                "{field}: after_step {} is past the last step ({})",
                checkpoint.after_step,
                steps.saturating_sub(1)
            ));
        }
        if previous.is_some_and(|p| p >= checkpoint.after_step) {
            return Err(format!("{field}: after_step values must increase"));
        }
        previous = Some(checkpoint.after_step);
    }
    Ok(())
}
