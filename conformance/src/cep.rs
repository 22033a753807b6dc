//! The Flink CEP cases (`cases/flink-cep`, format in that directory's `README.md`): each file
//! replays one test method of Flink's NFA tests. The runner builds the pattern from the case's
//! description with `eddy_cep`'s Pattern API (conditions become closures; iterative ones read
//! the partial match through `MatchView`), feeds the events as Flink's NFA test harness does
//! (advance time to the event's timestamp, then process the event; nothing at the end) and
//! compares matches, timed-out partial matches and errors as the Java test did, with events
//! equal by value.
//!
//! Every case also runs through the CEP *operator* of a real eddy job at 1 and 2 workers
//! ([`operator_matches`]), and must give the same matches there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy::connectors::{CollectSink, CollectionSource};
use eddy::prelude::*;
use eddy_cep::{
    AfterMatchSkipStrategy, Condition, Match, MatchError, MatchView, Nfa, Pattern, PatternStreamExt,
    TimedOut, WithinType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{case_files, CaseReport, InvalidCase, Outcome, Summary};

/// Whether `dir` holds CEP cases (its first case file has `pattern` and `events`).
pub fn is_cep_dir(dir: &Path) -> bool {
    let Ok(files) = case_files(dir) else { return false };
    let Some(first) = files.first() else { return false };
    let Ok(text) = std::fs::read_to_string(first) else { return false };
    let Ok(value) = serde_json::from_str::<Value>(&text) else { return false };
    value.get("pattern").is_some() && value.get("events").is_some()
}

/// Splits directories into CEP ones and the rest.
pub fn split_dirs(dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    dirs.iter().cloned().partition(|dir| is_cep_dir(dir))
}

/// A Flink test `Event` (or `SubEvent`, with `volume`). Equality is by value, as Flink's
/// `Event.equals`; `position` (the index in the feed) is not part of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CepEvent {
    /// `SubEvent` rather than `Event`.
    pub sub_event: bool,
    /// `id`.
    pub id: i64,
    /// `name`.
    pub name: String,
    /// `price`.
    pub price: f64,
    /// `volume` (`SubEvent` only).
    pub volume: Option<f64>,
    /// Position in the feed (not part of equality).
    pub position: usize,
}

impl CepEvent {
    /// The event's value, for comparisons by value.
    pub fn value_key(&self) -> String {
        match self.volume {
            Some(volume) if self.sub_event => {
                format!("SubEvent({}, {:?}, {:?}, {:?})", self.id, self.name, self.price, volume)
            }
            _ => format!("Event({}, {:?}, {:?})", self.id, self.name, self.price),
        }
    }
}

/// One case file.
#[derive(Clone, Debug)]
pub struct CepCase {
    /// The case's name.
    pub name: String,
    /// The events, in feed order.
    pub events: Vec<CepEvent>,
    /// Each event's timestamp (its position when the case has none).
    pub timestamps: Vec<i64>,
    /// Processing time set before an event, if any.
    pub processing_times: Vec<Option<i64>>,
    /// The pattern description.
    pub pattern: Value,
    /// Whether timed-out partial matches are collected.
    pub timeout_handling: bool,
    /// The expectations.
    pub expected: Value,
    /// `stage_order_asserted`, if present.
    pub stage_order: Option<Vec<String>>,
}

fn invalid(path: &Path, reason: impl Into<String>) -> InvalidCase {
    InvalidCase { path: path.display().to_string(), reason: reason.into() }
}

impl CepCase {
    /// Reads and checks a case file.
    pub fn load(path: &Path) -> Result<CepCase, InvalidCase> {
        let text = std::fs::read_to_string(path).map_err(|e| invalid(path, format!("unreadable: {e}")))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| invalid(path, format!("invalid JSON: {e}")))?;
        let name = value["name"].as_str().ok_or_else(|| invalid(path, "no `name`"))?.to_string();
        let raw_events = value["events"].as_array().ok_or_else(|| invalid(path, "no `events` list"))?;
        let mut events = Vec::new();
        let mut timestamps = Vec::new();
        let mut processing_times = Vec::new();
        for (position, event) in raw_events.iter().enumerate() {
            let field = |key: &str| event.get(key).filter(|v| !v.is_null());
            let sub_event = match field("type").and_then(Value::as_str) {
                None | Some("Event") => false,
                Some("SubEvent") => true,
                Some(other) => {
                    return Err(invalid(path, format!("event {position}: unknown type `{other}`")))
                }
            };
            let id = field("id")
                .and_then(Value::as_i64)
                .ok_or_else(|| invalid(path, format!("event {position}: no integer `id`")))?;
            let name = field("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(path, format!("event {position}: no `name`")))?
                .to_string();
            let price = field("price")
                .and_then(Value::as_f64)
                .ok_or_else(|| invalid(path, format!("event {position}: no `price`")))?;
            let volume = field("volume").and_then(Value::as_f64);
            if sub_event && volume.is_none() {
                return Err(invalid(path, format!("event {position}: a SubEvent needs `volume`")));
            }
            let ts = match field("ts") {
                None => position as i64,
                Some(ts) => ts
                    .as_i64()
                    .ok_or_else(|| invalid(path, format!("event {position}: `ts` is no integer")))?,
            };
            events.push(CepEvent { sub_event, id, name, price, volume, position });
            timestamps.push(ts);
            processing_times.push(field("processing_time").and_then(Value::as_i64));
        }
        let stage_order = value
            .get("stage_order_asserted")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>());
        Ok(CepCase {
            name,
            events,
            timestamps,
            processing_times,
            pattern: value["pattern"].clone(),
            timeout_handling: value["timeout_handling"].as_bool().unwrap_or(false),
            expected: value["expected"].clone(),
            stage_order,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Pattern description -> Pattern API

fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

fn compare_numbers(left: f64, op: &str, right: f64) -> Result<bool, String> {
    Ok(match op {
        "==" => left == right,
        "!=" => left != right,
        "<" => left < right,
        "<=" => left <= right,
        ">" => left > right,
        ">=" => left >= right,
        other => return Err(format!("operator `{other}` does not apply to numbers")),
    })
}

/// A field of the event under test, as JSON (so numbers and strings compare by their kind).
fn field_of(event: &CepEvent, field: &str, view: &dyn MatchView<CepEvent>) -> Option<Value> {
    Some(match field {
        "id" => Value::from(event.id),
        "name" => Value::from(event.name.clone()),
        "price" => Value::from(event.price),
        "volume" => Value::from(event.volume?),
        "ts" => Value::from(view.timestamp()),
        "processing_time" => Value::from(view.current_processing_time()),
        _ => return None,
    })
}

fn stored_field(event: &CepEvent, field: &str) -> Option<Value> {
    Some(match field {
        "id" => Value::from(event.id),
        "name" => Value::from(event.name.clone()),
        "price" => Value::from(event.price),
        "volume" => Value::from(event.volume?),
        _ => return None,
    })
}

fn compare_values(left: &Value, op: &str, right: &Value) -> bool {
    match (left, right) {
        (Value::String(l), Value::String(r)) => match op {
            "==" => l == r,
            "!=" => l != r,
            "starts_with" => l.starts_with(r.as_str()),
            "contains" => l.contains(r.as_str()),
            _ => false,
        },
        _ => match (number(left), number(right)) {
            (Some(l), Some(r)) => compare_numbers(l, op, r).unwrap_or(false),
            _ => false,
        },
    }
}

const FIELDS: [&str; 6] = ["id", "name", "price", "volume", "ts", "processing_time"];
const OPS: [&str; 8] = ["==", "!=", "<", "<=", ">", ">=", "starts_with", "contains"];

/// Translates a condition tree of the case format.
pub fn condition(spec: &Value) -> Result<Condition<CepEvent>, String> {
    let obj = spec.as_object().ok_or_else(|| format!("condition is no object: {spec}"))?;
    if let Some(constant) = obj.get("const") {
        let constant = constant.as_bool().ok_or("`const` is no boolean")?;
        return Ok(Condition::simple(move |_| constant));
    }
    if let Some(parts) = obj.get("and").or_else(|| obj.get("or")) {
        let is_and = obj.contains_key("and");
        let parts = parts.as_array().ok_or("`and`/`or` needs a list")?;
        let mut combined: Option<Condition<CepEvent>> = None;
        for part in parts {
            let part = condition(part)?;
            combined = Some(match combined {
                None => part,
                Some(left) if is_and => left.and(part),
                Some(left) => left.or(part),
            });
        }
        return combined.ok_or_else(|| "empty `and`/`or`".to_string());
    }
    if let Some(inner) = obj.get("not") {
        return Ok(condition(inner)?.not());
    }
    if let Some(kind) = obj.get("instance_of") {
        return match kind.as_str() {
            Some("SubEvent") => Ok(Condition::simple(|e: &CepEvent| e.sub_event)),
            Some("Event") => Ok(Condition::always()),
            _ => Err(format!("unknown instance_of {kind}")),
        };
    }
    let op =
        obj.get("op").and_then(Value::as_str).ok_or_else(|| format!("condition without `op`: {spec}"))?;
    if !OPS.contains(&op) {
        return Err(format!("unknown operator `{op}`"));
    }
    let op = op.to_string();
    if let Some(agg) = obj.get("agg") {
        let agg = agg.as_str().ok_or("`agg` is no string")?.to_string();
        if agg != "sum" && agg != "count" {
            return Err(format!("unknown aggregate `{agg}`"));
        }
        let of = obj.get("of").and_then(Value::as_str).map(str::to_string);
        let stage = obj.get("stage").and_then(Value::as_str).ok_or("`agg` without `stage`")?.to_string();
        let include_current = obj.get("include_current").and_then(Value::as_bool).unwrap_or(false);
        let value = obj.get("value").and_then(number).ok_or("`agg` without numeric `value`")?;
        if agg == "sum" && of.as_deref().is_none_or(|f| !FIELDS.contains(&f)) {
            return Err(format!("`sum` over unknown field {of:?}"));
        }
        return Ok(Condition::iterative(move |event: &CepEvent, view: &dyn MatchView<CepEvent>| {
            let mut matched = view.events(&stage);
            if include_current {
                matched.push(event);
            }
            let total = if agg == "count" {
                matched.len() as f64
            } else {
                let field = of.as_deref().unwrap_or("price");
                matched.iter().filter_map(|e| stored_field(e, field).and_then(|v| number(&v))).sum()
            };
            compare_numbers(total, &op, value).unwrap_or(false)
        }));
    }
    let field = obj
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("condition without `field`: {spec}"))?;
    if !FIELDS.contains(&field) {
        return Err(format!("unknown field `{field}`"));
    }
    let field = field.to_string();
    if let Some(reference) = obj.get("ref") {
        let stage =
            reference.get("stage").and_then(Value::as_str).ok_or("`ref` without `stage`")?.to_string();
        let pick = reference.get("pick").and_then(Value::as_str).unwrap_or("first");
        if pick != "first" {
            return Err(format!("unknown `ref` pick `{pick}`"));
        }
        let other =
            reference.get("field").and_then(Value::as_str).ok_or("`ref` without `field`")?.to_string();
        return Ok(Condition::iterative(move |event: &CepEvent, view: &dyn MatchView<CepEvent>| {
            let Some(first) = view.events(&stage).first().copied().cloned() else { return false };
            match (field_of(event, &field, view), stored_field(&first, &other)) {
                (Some(left), Some(right)) => compare_values(&left, &op, &right),
                _ => false,
            }
        }));
    }
    let value = obj.get("value").cloned().ok_or_else(|| format!("condition without `value`: {spec}"))?;
    Ok(Condition::iterative(move |event: &CepEvent, view: &dyn MatchView<CepEvent>| {
        field_of(event, &field, view).is_some_and(|left| compare_values(&left, &op, &value))
    }))
}

fn skip_strategy(spec: &Value) -> Result<AfterMatchSkipStrategy, String> {
    let strategy = spec.get("strategy").and_then(Value::as_str).unwrap_or("no_skip");
    let stage = || {
        spec.get("stage").and_then(Value::as_str).map(str::to_string).ok_or("skip strategy without `stage`")
    };
    let throw = spec.get("throw_on_miss").and_then(Value::as_bool).unwrap_or(false);
    let skip = match strategy {
        "no_skip" => AfterMatchSkipStrategy::NoSkip,
        "skip_to_next" => AfterMatchSkipStrategy::SkipToNext,
        "skip_past_last_event" => AfterMatchSkipStrategy::SkipPastLastEvent,
        "skip_to_first" => AfterMatchSkipStrategy::skip_to_first(stage()?),
        "skip_to_last" => AfterMatchSkipStrategy::skip_to_last(stage()?),
        other => return Err(format!("unknown skip strategy `{other}`")),
    };
    Ok(if throw { skip.throw_exception_on_miss() } else { skip })
}

fn configure(mut pattern: Pattern<CepEvent>, stage: &Value) -> Result<Pattern<CepEvent>, String> {
    if let Some(spec) = stage.get("condition").filter(|c| !c.is_null()) {
        pattern = pattern.where_(condition(spec)?);
    }
    if let Some(quantifier) = stage.get("quantifier").filter(|q| !q.is_null()) {
        let kind = quantifier.get("kind").and_then(Value::as_str).unwrap_or("one");
        let min = quantifier.get("min").and_then(Value::as_u64).unwrap_or(1) as u32;
        let max = quantifier.get("max").and_then(Value::as_u64).map(|m| m as u32);
        pattern = match kind {
            "one" => pattern,
            "one_or_more" => pattern.one_or_more(),
            "times_or_more" => pattern.times_or_more(min),
            "times" => {
                let max = max.ok_or("`times` without `max`")?;
                if min == max {
                    pattern.times(min)
                } else {
                    pattern.times_range(min, max)
                }
            }
            other => return Err(format!("unknown quantifier kind `{other}`")),
        };
        if quantifier.get("optional").and_then(Value::as_bool).unwrap_or(false) {
            pattern = pattern.optional();
        }
        if quantifier.get("greedy").and_then(Value::as_bool).unwrap_or(false) {
            pattern = pattern.greedy();
        }
        match quantifier.get("inner").and_then(Value::as_str) {
            None | Some("relaxed") => {}
            Some("strict") => pattern = pattern.consecutive(),
            Some("any") => pattern = pattern.allow_combinations(),
            Some(other) => return Err(format!("unknown inner contiguity `{other}`")),
        }
    }
    if let Some(until) = stage.get("until").filter(|c| !c.is_null()) {
        pattern = pattern.until(condition(until)?);
    }
    if let Some(within) = stage.get("within").filter(|c| !c.is_null()) {
        let ms = within.get("ms").and_then(Value::as_i64).ok_or("`within` without `ms`")?;
        let kind = match within.get("type").and_then(Value::as_str) {
            None | Some("first_and_last") => WithinType::FirstAndLast,
            Some("previous_and_current") => WithinType::PreviousAndCurrent,
            Some(other) => return Err(format!("unknown within type `{other}`")),
        };
        pattern = pattern.within_type(ms, kind);
    }
    Ok(pattern)
}

/// Builds the pattern of a list of stages (the whole pattern, or a group's stages).
pub fn build_stages(stages: &[Value], skip: AfterMatchSkipStrategy) -> Result<Pattern<CepEvent>, String> {
    let mut pattern: Option<Pattern<CepEvent>> = None;
    for (i, stage) in stages.iter().enumerate() {
        let contiguity = stage.get("contiguity").and_then(Value::as_str).unwrap_or("");
        let group = match stage.get("group").and_then(Value::as_array) {
            Some(inner) => Some(build_stages(inner, AfterMatchSkipStrategy::NoSkip)?),
            None => None,
        };
        let name = || {
            stage
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(format!("stage {i} has no name"))
        };
        let next = match (pattern, contiguity, group) {
            (None, "begin", Some(group)) => Pattern::begin_group_with_skip(group, skip.clone()),
            (None, "begin", None) => Pattern::begin_with_skip(name()?, skip.clone()),
            (None, other, _) => return Err(format!("the first stage has contiguity `{other}`, not `begin`")),
            (Some(p), "next", Some(g)) => p.next_group(g),
            (Some(p), "followed_by", Some(g)) => p.followed_by_group(g),
            (Some(p), "followed_by_any", Some(g)) => p.followed_by_any_group(g),
            (Some(p), "next", None) => p.next(name()?),
            (Some(p), "followed_by", None) => p.followed_by(name()?),
            (Some(p), "followed_by_any", None) => p.followed_by_any(name()?),
            (Some(p), "not_next", None) => p.not_next(name()?),
            (Some(p), "not_followed_by", None) => p.not_followed_by(name()?),
            (Some(_), other, _) => return Err(format!("stage {i}: unknown contiguity `{other}`")),
        };
        pattern = Some(configure(next, stage)?);
    }
    pattern.ok_or_else(|| "a pattern needs stages".to_string())
}

/// Builds the case's pattern.
pub fn build_pattern(case: &CepCase) -> Result<Pattern<CepEvent>, String> {
    let stages = case.pattern.get("stages").and_then(Value::as_array).ok_or("pattern without `stages`")?;
    let skip = skip_strategy(case.pattern.get("after_match_skip").unwrap_or(&Value::Null))?;
    build_stages(stages, skip)
}

// ---------------------------------------------------------------------------------------------
// Running and comparing

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The matches.
    pub matches: Vec<Match<CepEvent>>,
    /// The timed-out partial matches with their timestamps.
    pub timed_out: Vec<(Match<CepEvent>, i64)>,
    /// The error that stopped processing.
    pub error: Option<MatchError>,
}

/// Runs the case as Flink's NFA test harness does.
pub fn run_nfa(case: &CepCase, pattern: &Pattern<CepEvent>) -> Result<Observed, String> {
    let nfa = Nfa::compile(pattern, case.timeout_handling).map_err(|e| e.to_string())?;
    let mut state = nfa.initial_state();
    let mut observed = Observed::default();
    let mut processing_time = 0;
    for (i, event) in case.events.iter().enumerate() {
        let ts = case.timestamps[i];
        if let Some(pt) = case.processing_times[i] {
            processing_time = pt;
        }
        match nfa.advance_time(&mut state, ts) {
            Ok(advanced) => {
                observed.matches.extend(advanced.matches);
                for timed_out in advanced.timed_out {
                    observed.timed_out.push((timed_out.partial, timed_out.timestamp));
                }
            }
            Err(error) => {
                observed.error = Some(error);
                break;
            }
        }
        match nfa.process(&mut state, event.clone(), ts, processing_time) {
            Ok(matches) => observed.matches.extend(matches),
            Err(error) => {
                observed.error = Some(error);
                break;
            }
        }
    }
    Ok(observed)
}

type ByStage = BTreeMap<String, Vec<String>>;

fn by_stage(found: &Match<CepEvent>) -> ByStage {
    found
        .stages
        .iter()
        .filter(|(_, events)| !events.is_empty())
        .map(|(stage, events)| (stage.clone(), events.iter().map(CepEvent::value_key).collect()))
        .collect()
}

fn flat(found: &Match<CepEvent>) -> Vec<String> {
    let mut events: Vec<&CepEvent> = found.events().collect();
    events.sort_by_key(|e| e.position);
    events.iter().map(|e| e.value_key()).collect()
}

fn expected_by_stage(case: &CepCase, spec: &Value) -> Result<ByStage, String> {
    let obj = spec.as_object().ok_or_else(|| format!("expected match is no object: {spec}"))?;
    obj.iter()
        .map(|(stage, indices)| {
            let keys = indices
                .as_array()
                .ok_or("stage events are no list")?
                .iter()
                .map(|i| {
                    let i = i.as_u64().ok_or("index is no integer")? as usize;
                    case.events.get(i).map(CepEvent::value_key).ok_or(format!("index {i} out of range"))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok((stage.clone(), keys))
        })
        .collect()
}

fn expected_flat(case: &CepCase, spec: &Value) -> Result<Vec<String>, String> {
    let mut indices: Vec<usize> = spec
        .as_array()
        .ok_or_else(|| format!("expected match is no list: {spec}"))?
        .iter()
        .map(|i| i.as_u64().map(|i| i as usize).ok_or("index is no integer".to_string()))
        .collect::<Result<_, _>>()?;
    indices.sort_unstable();
    indices
        .iter()
        .map(|&i| case.events.get(i).map(CepEvent::value_key).ok_or(format!("index {i} out of range")))
        .collect()
}

fn compare_collections<K: Ord + Clone + std::fmt::Debug>(
    what: &str,
    mut expected: Vec<K>,
    mut observed: Vec<K>,
    as_set: bool,
) -> Result<(), String> {
    expected.sort();
    observed.sort();
    if as_set {
        expected.dedup();
        observed.dedup();
    }
    if expected == observed {
        return Ok(());
    }
    let missing: Vec<_> = expected.iter().filter(|e| !observed.contains(e)).collect();
    let extra: Vec<_> = observed.iter().filter(|o| !expected.contains(o)).collect();
    Err(format!(
        "{what}: expected {} got {}; missing {missing:?}; unexpected {extra:?}",
        expected.len(),
        observed.len()
    ))
}

/// Compares a run with the case's expectations.
pub fn check(case: &CepCase, observed: &Observed) -> Result<(), String> {
    let expected = &case.expected;
    if let Some(error) = expected.get("error").filter(|e| !e.is_null()) {
        let want = error.as_str().unwrap_or_default();
        let got = match &observed.error {
            Some(MatchError::SkipTargetNotInMatch { .. }) => "skip_target_not_in_match",
            Some(MatchError::SkipToFirstElementOfMatch { .. }) => "skip_to_first_element_of_match",
            None => return Err(format!("expected error `{want}`, processing succeeded")),
        };
        return if got == want { Ok(()) } else { Err(format!("expected error `{want}`, got `{got}`")) };
    }
    if let Some(error) = &observed.error {
        return Err(format!("unexpected error: {error}"));
    }
    let as_set = expected.get("comparison").and_then(Value::as_str) == Some("set");
    match expected.get("match_form").and_then(Value::as_str) {
        Some("events") => {
            let want = expected["matches"]
                .as_array()
                .ok_or("`matches` is no list")?
                .iter()
                .map(|m| expected_flat(case, m))
                .collect::<Result<Vec<_>, _>>()?;
            let got = observed.matches.iter().map(flat).collect();
            compare_collections("matches", want, got, as_set)?;
        }
        Some("by_stage") => {
            let want = expected["matches"]
                .as_array()
                .ok_or("`matches` is no list")?
                .iter()
                .map(|m| expected_by_stage(case, m))
                .collect::<Result<Vec<_>, _>>()?;
            let got = observed.matches.iter().map(by_stage).collect();
            compare_collections("matches", want, got, as_set)?;
        }
        None => {}
        Some(other) => return Err(format!("unknown match_form `{other}`")),
    }
    if let Some(count) = expected.get("match_count").and_then(Value::as_u64) {
        if observed.matches.len() as u64 != count {
            return Err(format!("expected {count} matches, got {}", observed.matches.len()));
        }
    }
    if let Some(timed_out) = expected.get("timed_out").and_then(Value::as_array) {
        let want = timed_out
            .iter()
            .map(|t| {
                let stages = expected_by_stage(case, &t["by_stage"])?;
                let ts = t["timestamp"].as_i64().ok_or("timed-out timestamp is no integer")?;
                Ok((stages, ts))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let got = observed.timed_out.iter().map(|(m, ts)| (by_stage(m), *ts)).collect();
        compare_collections("timed-out partial matches", want, got, true)?;
    }
    if let Some(order) = &case.stage_order {
        for found in &observed.matches {
            let names: Vec<&String> = found.stages.iter().map(|(name, _)| name).collect();
            let want: Vec<&String> = order.iter().collect();
            if names != want {
                return Err(format!("stage order {names:?}, expected {want:?}"));
            }
        }
    }
    Ok(())
}

/// Timed-out partial matches of the operator runs.
const TIMED_OUT: OutputTag<TimedOut<CepEvent>> = OutputTag::new("cep-conformance-timed-out");

/// Why a case cannot run through the operator, if it cannot: its conditions read the
/// processing time that Flink's harness sets before each event, which a job reads from its
/// clock instead.
pub fn operator_not_applicable(case: &CepCase) -> Option<&'static str> {
    let text = case.pattern.to_string();
    if text.contains("\"processing_time\"") {
        return Some("conditions read a per-event processing time set by Flink's harness");
    }
    None
}

/// The event times the operator run uses: the case's timestamps when the pattern depends on
/// time (a window or a condition on `ts`), else the feed positions, since then only the order
/// matters (the README allows any non-decreasing timestamps there).
fn operator_timestamps(case: &CepCase) -> Result<Vec<u64>, String> {
    let text = case.pattern.to_string();
    let uses_time = text.contains("\"within\"") || text.contains("\"field\":\"ts\"");
    if !uses_time {
        return Ok((0..case.events.len() as u64).collect());
    }
    let mut previous = 0;
    case.timestamps
        .iter()
        .map(|&ts| {
            if ts < previous {
                return Err(format!(
                    "timestamps go backwards ({ts} after {previous}) in a pattern that uses time"
                ));
            }
            previous = ts;
            Ok(ts as u64)
        })
        .collect()
}

/// Runs the case through the CEP operator of an eddy job at `workers` workers: one split in
/// feed order, watermarks after every event (bounded out-of-orderness 0), events of equal
/// timestamp in feed order. When the input ends eddy fires all timers, as Flink's final
/// watermark does; the harness has no end, so timeouts after the last event's time are not
/// compared.
pub fn run_operator(case: &CepCase, pattern: &Pattern<CepEvent>, workers: usize) -> Result<Observed, String> {
    let timestamps = operator_timestamps(case)?;
    let last = timestamps.last().copied().unwrap_or(0);
    let input: Vec<(CepEvent, u64)> = case.events.iter().cloned().zip(timestamps).collect();
    let (matches_sink, matches) = CollectSink::<Match<CepEvent>>::new();
    let (timed_out_sink, timed_out) = CollectSink::<TimedOut<CepEvent>>::new();
    let pattern = pattern.clone();
    let with_timeouts = case.timeout_handling;
    let result = Job::new(JobConfig::with_workers(workers)).run(move |env| {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
            .with_emit_every(1)
            .with_timestamps(|(_, ts): &(CepEvent, u64)| *ts);
        let events = env.from_source(CollectionSource::new(input.clone()), strategy).map(|(event, _)| event);
        let mut cep = events.pattern(pattern.clone()).in_order_of(|a, b| a.position.cmp(&b.position));
        if with_timeouts {
            cep = cep.side_output_timed_out(TIMED_OUT);
        }
        let found = cep.select(|found: &Match<CepEvent>| found.clone())?;
        found.side_output(&TIMED_OUT).sink(timed_out_sink.clone());
        found.sink(matches_sink.clone());
        Ok(())
    });
    let mut observed = Observed::default();
    if let Err(error) = result {
        let text = error.to_string();
        observed.error = Some(if text.contains("first element of a match") {
            MatchError::SkipToFirstElementOfMatch { stage: String::new() }
        } else if text.contains("could not skip to stage") {
            MatchError::SkipTargetNotInMatch { stage: String::new() }
        } else {
            return Err(format!("the job failed: {text}"));
        });
        return Ok(observed);
    }
    observed.matches = matches.values();
    observed.timed_out = timed_out
        .values()
        .into_iter()
        .filter(|t| t.timestamp <= last as i64)
        .map(|t| (t.partial, t.timestamp))
        .collect();
    Ok(observed)
}

/// Runs one case: through the NFA as Flink's harness does, then through the operator at 1
/// and 2 workers.
pub fn run_case(case: &CepCase) -> Outcome {
    let pattern = match build_pattern(case) {
        Ok(pattern) => pattern,
        Err(why) => return Outcome::Fail(format!("pattern: {why}")),
    };
    let observed = match run_nfa(case, &pattern) {
        Ok(observed) => observed,
        Err(why) => return Outcome::Fail(why),
    };
    if let Err(why) = check(case, &observed) {
        return Outcome::Fail(why);
    }
    if operator_not_applicable(case).is_some() {
        return Outcome::Pass;
    }
    for workers in [1, 2] {
        let observed = match run_operator(case, &pattern, workers) {
            Ok(observed) => observed,
            Err(why) => return Outcome::Fail(format!("operator at {workers} workers: {why}")),
        };
        if let Err(why) = check(case, &observed) {
            return Outcome::Fail(format!("operator at {workers} workers: {why}"));
        }
    }
    Outcome::Pass
}

/// Runs every case of a directory.
pub fn run_dir(dir: &Path, report: &mut impl FnMut(&CaseReport)) -> Result<Summary, InvalidCase> {
    let mut cases = Vec::new();
    for file in case_files(dir)? {
        cases.push(CepCase::load(&file)?);
    }
    let mut summary = Summary::default();
    for case in &cases {
        let outcome = run_case(case);
        summary.add(&outcome);
        report(&CaseReport { name: format!("flink-cep/{}", case.name), outcome });
    }
    Ok(summary)
}
