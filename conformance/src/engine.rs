//! Runs one case through eddy's real window operators in the single-worker test harness.
//!
//! The case is first turned into a [`Plan`] (every string decoded, every number range-checked),
//! so that anything the runner does not support is a FAIL with a reason before the dataflow is
//! built. Time mapping: a Flink watermark `W` ("no more records with ts ≤ W") is eddy's
//! frontier `W + 1`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use eddy::core::testing::{run_harness, HarnessDriver};
use eddy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::case::{Case, Entry, GapRule, Step};
use crate::compare::{Item, Log};
use crate::grammar::{parse_evictor, parse_trigger, BaseTrigger, EvictorKind, EvictorSpec, TriggerSpec};

/// The input record of every case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Element {
    /// The key.
    pub key: String,
    /// The value.
    pub value: i64,
    /// The event timestamp.
    pub ts: u64,
}

/// A window result: one per firing (`sum`) or one per element in the window (`list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Out {
    /// The key.
    pub key: String,
    /// The sum, or the element's value.
    pub value: i64,
    /// The window that fired.
    pub window: Window,
}

/// The late side output.
const LATE: OutputTag<Element> = OutputTag::new("conformance-late-elements");

/// A case decoded into what the runner builds.
#[derive(Clone, Debug)]
pub struct Plan {
    assigner: AssignerSpec,
    trigger: TriggerSpec,
    evictor: Option<EvictorSpec>,
    allowed_lateness_ms: u64,
    late_side_output: bool,
    aggregate: Aggregate,
    /// Whether records are compared with their window bounds.
    with_bounds: bool,
}

#[derive(Clone, Debug)]
enum AssignerSpec {
    Tumbling { event_time: bool, size: u64 },
    Sliding { event_time: bool, size: u64, slide: u64 },
    Session { event_time: bool, gap: u64 },
    DynamicSession { event_time: bool, rules: Vec<GapRule> },
    PointSession { event_time: bool, gap: u64, point_value: i64 },
    Global,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    List,
}

fn positive(what: &str, value: Option<i64>) -> Result<u64, String> {
    match value {
        Some(v) if v > 0 => Ok(v.unsigned_abs()),
        Some(v) => Err(format!("window.{what} must be positive, got {v}")),
        None => Err(format!("window.{what} is required")),
    }
}

impl Plan {
    /// Decodes a case; the error is the FAIL reason.
    pub fn new(case: &Case) -> Result<Plan, String> {
        let window = &case.window;
        let event_time = match (window.kind.as_str(), window.time_domain.as_deref()) {
            ("global", None) => false,
            ("global", Some(domain)) => {
                return Err(format!("global windows take time_domain null, got `{domain}`"))
            }
            (_, Some("event_time")) => true,
            (_, Some("processing_time")) => false,
            (_, Some(domain)) => return Err(format!("unknown time_domain `{domain}`")),
            (_, None) => return Err(format!("window kind `{}` needs a time_domain", window.kind)),
        };
        let unused = |what: &str, set: bool| {
            if set {
                Err(format!("window.{what} does not apply to a {} window", window.kind))
            } else {
                Ok(())
            }
        };
        if let Some(count) = window.count {
            return Err(format!(
                "window.count = {count}: count windows are written as global + a count trigger"
            ));
        }
        let session_only = window.dynamic_gap.is_some() || window.point_window_if_value.is_some();
        if window.kind != "session" {
            unused("dynamic_gap / point_window_if_value", session_only)?;
            unused("gap_ms", window.gap_ms.is_some())?;
        }
        let assigner = match window.kind.as_str() {
            "tumbling" => {
                unused("slide_ms", window.slide_ms.is_some())?;
                AssignerSpec::Tumbling { event_time, size: positive("size_ms", window.size_ms)? }
            }
            "sliding" => AssignerSpec::Sliding {
                event_time,
                size: positive("size_ms", window.size_ms)?,
                slide: positive("slide_ms", window.slide_ms)?,
            },
            "session" => {
                unused("size_ms", window.size_ms.is_some())?;
                unused("slide_ms", window.slide_ms.is_some())?;
                match (&window.dynamic_gap, window.point_window_if_value) {
                    (Some(_), Some(_)) => {
                        return Err("dynamic_gap and point_window_if_value together are not \
                                    supported"
                            .into())
                    }
                    (Some(rules), None) => {
                        unused("gap_ms (with dynamic_gap)", window.gap_ms.is_some())?;
                        dynamic_gap_rules(rules, case)?;
                        AssignerSpec::DynamicSession { event_time, rules: rules.clone() }
                    }
                    (None, Some(point_value)) => AssignerSpec::PointSession {
                        event_time,
                        gap: positive("gap_ms", window.gap_ms)?,
                        point_value,
                    },
                    (None, None) => {
                        AssignerSpec::Session { event_time, gap: positive("gap_ms", window.gap_ms)? }
                    }
                }
            }
            "global" => {
                unused("size_ms", window.size_ms.is_some())?;
                unused("slide_ms", window.slide_ms.is_some())?;
                AssignerSpec::Global
            }
            kind => return Err(format!("unknown window kind `{kind}`")),
        };
        let trigger = parse_trigger(&case.trigger)?;
        let evictor = case.evictor.as_deref().map(parse_evictor).transpose()?;
        let aggregate = match case.aggregate.as_str() {
            "sum" => Aggregate::Sum,
            "list" => Aggregate::List,
            other => return Err(format!("unknown aggregate `{other}`")),
        };
        let with_bounds = match case.window_bounds_in_expected.as_str() {
            "asserted" | "derived_from_timestamp" => true,
            "none" => false,
            other => return Err(format!("unknown window_bounds_in_expected `{other}`")),
        };
        for checkpoint in &case.expected {
            for entry in &checkpoint.emit {
                if let Entry::Record(record) = entry {
                    if record.window.is_some() != with_bounds {
                        return Err(format!(
                            "expected record at after_step {} {} window bounds, but \
                             window_bounds_in_expected is `{}`",
                            checkpoint.after_step,
                            if with_bounds { "lacks" } else { "has" },
                            case.window_bounds_in_expected
                        ));
                    }
                }
            }
        }
        for (index, step) in case.steps.iter().enumerate() {
            match step {
                Step::Element(element) if element.ts < 0 => {
                    return Err(format!("step {index}: negative timestamps are not supported"))
                }
                Step::ProcessingTime(time) if *time < 0 => {
                    return Err(format!("step {index}: negative processing time"))
                }
                Step::SnapshotRestore(false) => {
                    return Err(format!("step {index}: snapshot_restore must be true"))
                }
                _ => {}
            }
        }
        Ok(Plan {
            assigner,
            trigger,
            evictor,
            allowed_lateness_ms: case.allowed_lateness_ms.unsigned_abs(),
            late_side_output: case.late_side_output,
            aggregate,
            with_bounds,
        })
    }
}

/// Checks the rules, and that every element of the case matches one.
fn dynamic_gap_rules(rules: &[GapRule], case: &Case) -> Result<(), String> {
    if let Some(rule) = rules.iter().find(|rule| rule.gap_ms < 0) {
        return Err(format!("dynamic_gap rule with negative gap_ms {}", rule.gap_ms));
    }
    for step in &case.steps {
        if let Step::Element(element) = step {
            if !rules.iter().any(|rule| rule.matches(element)) {
                return Err(format!(
                    "element (key {}, value {}) matches no dynamic_gap rule",
                    element.key, element.value
                ));
            }
        }
    }
    Ok(())
}

/// The first matching rule's gap (every element matches one; checked in [`Plan::new`]).
fn dynamic_gap(rules: &[GapRule], element: &Element) -> u64 {
    rules
        .iter()
        .find(|rule| {
            rule.key.as_ref().is_none_or(|key| *key == element.key)
                && rule.value.is_none_or(|value| value == element.value)
        })
        .map_or(0, |rule| rule.gap_ms.unsigned_abs())
}

/// A test-local merging assigner (Flink's `PointSessionWindows` in `WindowOperatorTest`):
/// elements whose value is `point_value` get the zero-length window `[t, t)`, every other
/// element `[t, t + gap)`.
struct PointSessionWindows {
    gap: u64,
    point_value: i64,
    event_time: bool,
}

impl WindowAssigner<Element> for PointSessionWindows {
    fn assign_windows(&self, value: &Element, timestamp: u64, processing_time: u64) -> Vec<Window> {
        let start = if self.event_time { timestamp } else { processing_time };
        let end = if value.value == self.point_value { start } else { start.saturating_add(self.gap) };
        vec![Window::new(start as i64, end)]
    }
    fn is_event_time(&self) -> bool {
        self.event_time
    }
    fn is_merging(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<Element>> {
        if self.event_time {
            Box::new(EventTimeTrigger::create())
        } else {
            Box::new(ProcessingTimeTrigger::create())
        }
    }
}

/// `sum`: adds the elements' values.
struct SumAggregate;

impl AggregateFunction<Element> for SumAggregate {
    type Acc = i64;
    type Out = i64;
    fn create_accumulator(&self) -> i64 {
        0
    }
    fn add(&self, accumulator: &mut i64, value: Element) {
        *accumulator += value.value;
    }
    fn merge(&self, left: i64, right: i64) -> i64 {
        left + right
    }
    fn get_result(&self, accumulator: &i64) -> i64 {
        *accumulator
    }
}

/// `sum`: emits the aggregate with its key and window.
struct EmitSum;

impl ProcessWindowFunction<String, i64, Out> for EmitSum {
    fn process(&mut self, key: &String, window: &Window, sums: &[i64], ctx: &mut WindowContext<'_, Out>) {
        for &value in sums {
            ctx.emit(Out { key: key.clone(), value, window: *window });
        }
    }
}

/// `list`: re-emits every element of the window.
struct EmitEach;

impl ProcessWindowFunction<String, Element, Out> for EmitEach {
    fn process(
        &mut self,
        key: &String,
        window: &Window,
        elements: &[Element],
        ctx: &mut WindowContext<'_, Out>,
    ) {
        for element in elements {
            ctx.emit(Out { key: key.clone(), value: element.value, window: *window });
        }
    }
}

/// Builds the window operator of a plan on the harness input.
fn build<'s>(plan: &Plan, input: DataStream<'s, Element>) -> (DataStream<'s, Out>, DataStream<'s, Element>) {
    let keyed = input.key_by(|element: &Element| element.key.clone());
    let windowed = match plan.assigner.clone() {
        AssignerSpec::Tumbling { event_time: true, size } => keyed.window(TumblingEventTimeWindows::of(size)),
        AssignerSpec::Tumbling { event_time: false, size } => {
            keyed.window(TumblingProcessingTimeWindows::of(size))
        }
        AssignerSpec::Sliding { event_time: true, size, slide } => {
            keyed.window(SlidingEventTimeWindows::of(size, slide))
        }
        AssignerSpec::Sliding { event_time: false, size, slide } => {
            keyed.window(SlidingProcessingTimeWindows::of(size, slide))
        }
        AssignerSpec::Session { event_time: true, gap } => {
            keyed.window(EventTimeSessionWindows::with_gap::<Element>(gap))
        }
        AssignerSpec::Session { event_time: false, gap } => {
            keyed.window(ProcessingTimeSessionWindows::with_gap::<Element>(gap))
        }
        AssignerSpec::DynamicSession { event_time: true, rules } => {
            keyed.window(EventTimeSessionWindows::with_dynamic_gap(move |e: &Element| dynamic_gap(&rules, e)))
        }
        AssignerSpec::DynamicSession { event_time: false, rules } => {
            keyed.window(ProcessingTimeSessionWindows::with_dynamic_gap(move |e: &Element| {
                dynamic_gap(&rules, e)
            }))
        }
        AssignerSpec::PointSession { event_time, gap, point_value } => {
            keyed.window(PointSessionWindows { gap, point_value, event_time })
        }
        AssignerSpec::Global => keyed.window(GlobalWindows::create()),
    };

    let TriggerSpec { base, purging } = plan.trigger;
    macro_rules! with_trigger {
        ($trigger:expr) => {
            if purging {
                windowed.trigger(PurgingTrigger::of($trigger))
            } else {
                windowed.trigger($trigger)
            }
        };
    }
    let windowed = match base {
        BaseTrigger::EventTime => with_trigger!(EventTimeTrigger::create()),
        BaseTrigger::ProcessingTime => with_trigger!(ProcessingTimeTrigger::create()),
        BaseTrigger::EndOfStream => with_trigger!(EndOfStreamTrigger::create()),
        BaseTrigger::Count(n) => with_trigger!(CountTrigger::of(n)),
        BaseTrigger::ContinuousEventTime(interval) => {
            with_trigger!(ContinuousEventTimeTrigger::of(interval))
        }
        BaseTrigger::ContinuousProcessingTime(interval) => {
            with_trigger!(ContinuousProcessingTimeTrigger::of(interval))
        }
    };

    let windowed = match plan.evictor {
        None => windowed,
        Some(EvictorSpec { kind, after }) => match (kind, after) {
            (EvictorKind::Count(n), false) => windowed.evictor(CountEvictor::of(n)),
            (EvictorKind::Count(n), true) => windowed.evictor(CountEvictor::of_after(n)),
            (EvictorKind::Time(ms), false) => windowed.evictor(TimeEvictor::of(ms)),
            (EvictorKind::Time(ms), true) => windowed.evictor(TimeEvictor::of_after(ms)),
            // Flink's DeltaEvictor evicts `e` when `delta(e, last) >= threshold`; the case
            // format's delta is `delta(a, b) = b.value - a.value`.
            (EvictorKind::Delta(threshold), false) => windowed.evictor(DeltaEvictor::of(threshold, delta)),
            (EvictorKind::Delta(threshold), true) => {
                windowed.evictor(DeltaEvictor::of_after(threshold, delta))
            }
        },
    };

    let mut windowed = windowed.allowed_lateness(plan.allowed_lateness_ms);
    if plan.late_side_output {
        windowed = windowed.side_output_late_data(&LATE);
    }
    let output = match plan.aggregate {
        Aggregate::Sum => windowed.aggregate_with_process(SumAggregate, EmitSum),
        Aggregate::List => windowed.process(EmitEach),
    };
    let late = output.side_output(&LATE);
    (output, late)
}

fn delta(a: &Element, b: &Element) -> f64 {
    (b.value - a.value) as f64
}

/// Maps a Flink watermark to eddy's frontier (`W + 1`; eddy time starts at 0).
fn eddy_watermark(flink: i64) -> u64 {
    u64::try_from(i128::from(flink) + 1).unwrap_or(0)
}

/// What one run observed.
pub struct Observed {
    /// The main output, with forwarded watermarks.
    pub output: Log,
    /// The late side output.
    pub late: Log,
}

/// Runs the steps of a case. A snapshot/restore step checkpoints the window operator, drops
/// the dataflow and builds it again from the checkpoint, unless `ignore_restores` makes it a
/// no-op. Returns the observed logs, or a message when the engine panicked.
pub fn run(plan: &Plan, steps: &[Step], ignore_restores: bool, trace: bool) -> Result<Observed, String> {
    let plan_for_build = plan.clone();
    let with_bounds = plan.with_bounds;
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_harness(
            ManualClock::new(0),
            move |input| build(&plan_for_build, input),
            |driver: &mut HarnessDriver<'_, Element, Out, Element>| {
                drive(driver, steps, with_bounds, ignore_restores, trace)
            },
        )
    }));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        format!("the engine panicked: {message}")
    })
}

fn drive(
    driver: &mut HarnessDriver<'_, Element, Out, Element>,
    steps: &[Step],
    with_bounds: bool,
    ignore_restores: bool,
    trace: bool,
) -> Observed {
    let mut output = Log::default();
    let mut late = Log::default();
    for (index, step) in steps.iter().enumerate() {
        match step {
            Step::Element(element) => {
                let ts = element.ts.unsigned_abs();
                let value = Element { key: element.key.clone(), value: element.value, ts };
                driver.push(value, ts);
            }
            Step::Watermark(w) => driver.advance_watermark(eddy_watermark(*w)),
            Step::ProcessingTime(now) => driver.set_processing_time(now.unsigned_abs()),
            Step::SnapshotRestore(_) if ignore_restores => {}
            // The watermark and the processing time survive the restore: the new input starts
            // at the current watermark and the clock is kept.
            Step::SnapshotRestore(_) => driver.snapshot_restore(),
        }
        driver.step();
        for (out, timestamp) in driver.take_output() {
            output.push(
                index,
                Item::Record {
                    key: out.key,
                    value: i128::from(out.value),
                    timestamp: i128::from(timestamp),
                    window: with_bounds.then(|| (i128::from(out.window.start), i128::from(out.window.end))),
                },
            );
        }
        for (element, timestamp) in driver.take_late() {
            late.push(
                index,
                Item::Record {
                    key: element.key,
                    value: i128::from(element.value),
                    timestamp: i128::from(timestamp),
                    window: None,
                },
            );
        }
        if let Step::Watermark(w) = step {
            // The watermark is observed from the engine: it counts as forwarded only when the
            // output's frontier has reached it (or the output has ended).
            let reached =
                driver.output_frontier().is_none_or(|frontier| i128::from(frontier) > i128::from(*w));
            if reached {
                output.push(index, Item::Watermark(i128::from(*w)));
            }
        }
        if trace {
            eprintln!(
                "  step {index} {step:?}: output {} late {} frontier {:?}",
                output.show_step(index),
                late.show_step(index),
                driver.output_frontier()
            );
        }
    }
    Observed { output, late }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_mapping() {
        assert_eq!(eddy_watermark(999), 1000);
        assert_eq!(eddy_watermark(-1), 0);
        assert_eq!(eddy_watermark(i64::MIN), 0);
        assert_eq!(eddy_watermark(i64::MAX), i64::MAX.unsigned_abs() + 1);
    }

    #[test]
    fn point_sessions() {
        let assigner = PointSessionWindows { gap: 3000, point_value: 33, event_time: true };
        let element = |value| Element { key: "k".into(), value, ts: 10 };
        assert_eq!(assigner.assign_windows(&element(33), 10, 0), vec![Window::new(10, 10)]);
        assert_eq!(assigner.assign_windows(&element(1), 10, 0), vec![Window::new(10, 3010)]);
    }
}
