//! The NFA that runs a compiled pattern over events (Flink's `NFA`): a set of partial matches
//! ("computation states"), each at a state of the graph with a Dewey version and a pointer into
//! the [`SharedBuffer`]. Each event moves every partial match along the transitions whose
//! conditions hold (taking, ignoring or proceeding), branching where several apply; partial
//! matches that reach the final state are matches, those that reach a stop state are dropped,
//! and those older than the window time out.
//!
//! The NFA itself is stateless; everything that changes lives in [`NfaState`], which is what
//! the operator keeps per key (and checkpoints).

use std::cell::OnceCell;
use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::buffer::{DeweyNumber, EventId, NodeId, SharedBuffer};
use crate::compiler::{compile, Action, Compiled, Kind};
use crate::condition::MatchView;
use crate::pattern::{AfterMatchSkipStrategy, Pattern};
use crate::{MatchError, PatternError};

/// A complete match: each stage that took events, in the order the stages were entered, with
/// its events in order (Flink's `Map<String, List<T>>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match<T> {
    /// `(stage name, events)` pairs.
    pub stages: Vec<(String, Vec<T>)>,
}

impl<T> Match<T> {
    /// The events of a stage (empty when it took none).
    pub fn get(&self, stage: &str) -> &[T] {
        self.stages.iter().find(|(name, _)| name == stage).map_or(&[], |(_, events)| events.as_slice())
    }

    /// All events, stage after stage.
    pub fn events(&self) -> impl Iterator<Item = &T> {
        self.stages.iter().flat_map(|(_, events)| events.iter())
    }
}

/// A partial match dropped because its window passed, with the time it timed out at
/// (`ts(first event) + window`, or `ts(previous event) + window` for `PreviousAndCurrent`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedOut<T> {
    /// The events matched so far.
    pub partial: Match<T>,
    /// When it timed out.
    pub timestamp: i64,
}

/// What advancing time produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advanced<T> {
    /// Matches completed by time passing (a pattern ending with `not_followed_by`).
    pub matches: Vec<Match<T>>,
    /// Partial matches that timed out (only with timeout handling on).
    pub timed_out: Vec<TimedOut<T>>,
}

/// One partial match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ComputationState {
    state: u32,
    previous: Option<NodeId>,
    version: DeweyNumber,
    start_timestamp: i64,
    start_event: Option<EventId>,
    previous_timestamp: i64,
}

/// Partial matches start-event first; the waiting start state last.
fn earliest_first(a: &ComputationState, b: &ComputationState) -> Ordering {
    match (a.start_event, b.start_event) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The changing part of an NFA: its partial matches, the matches held back by a skip strategy,
/// and the shared buffer. This is what is kept per key and checkpointed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NfaState<T> {
    partial: Vec<ComputationState>,
    completed: Vec<ComputationState>,
    buffer: SharedBuffer<T>,
}

impl<T: Clone> NfaState<T> {
    /// The number of partial matches, including the one waiting at the start.
    pub fn partial_matches(&self) -> usize {
        self.partial.len()
    }

    /// The shared buffer.
    pub fn buffer(&self) -> &SharedBuffer<T> {
        &self.buffer
    }

    /// Whether nothing is in progress: only the start state waits and the buffer is empty.
    pub fn is_idle(&self) -> bool {
        self.partial.iter().all(|cs| cs.start_event.is_none() && cs.previous.is_none())
            && self.completed.is_empty()
            && self.buffer.is_empty()
    }
}

/// A compiled pattern, ready to run.
pub struct Nfa<T> {
    compiled: Compiled<T>,
    skip: AfterMatchSkipStrategy,
    handle_timeout: bool,
}

impl<T> std::fmt::Debug for Nfa<T> {
    /// The state graph, one state a line: `name(kind): action->target ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for state in &self.compiled.states {
            write!(f, "{}({:?}):", state.name, state.kind)?;
            for transition in &state.transitions {
                write!(f, " {:?}->{}", transition.action, self.compiled.states[transition.target].name)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// What a condition sees: the partial match a computation state stands for, materialized on
/// first use.
struct View<'a, T> {
    buffer: &'a SharedBuffer<T>,
    names: &'a [String],
    state: &'a ComputationState,
    timestamp: i64,
    processing_time: i64,
    cache: &'a OnceCell<Vec<(u32, Vec<T>)>>,
}

impl<T: Clone> View<'_, T> {
    fn materialized(&self) -> &[(u32, Vec<T>)] {
        self.cache.get_or_init(|| {
            let Some(previous) = self.state.previous else { return Vec::new() };
            let paths = self.buffer.extract_paths(previous, &self.state.version);
            paths
                .into_iter()
                .next()
                .map(|path| {
                    path.into_iter()
                        .map(|(stage, ids)| {
                            (stage, ids.iter().filter_map(|id| self.buffer.event(*id).cloned()).collect())
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

impl<T: Clone> MatchView<T> for View<'_, T> {
    fn events(&self, stage: &str) -> Vec<&T> {
        self.materialized()
            .iter()
            .filter(|(id, _)| self.names[*id as usize] == stage)
            .flat_map(|(_, events)| events.iter())
            .collect()
    }
    fn all_events(&self) -> Vec<(&str, &T)> {
        self.materialized()
            .iter()
            .flat_map(|(id, events)| {
                events.iter().map(move |event| (self.names[*id as usize].as_str(), event))
            })
            .collect()
    }
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn current_processing_time(&self) -> i64 {
        self.processing_time
    }
}

impl<T: Clone + 'static> Nfa<T> {
    /// Compiles a pattern. With `handle_timeout`, [`Nfa::advance_time`] returns the partial
    /// matches that time out; without, they are dropped silently.
    pub fn compile(pattern: &Pattern<T>, handle_timeout: bool) -> Result<Self, PatternError> {
        Ok(Nfa { compiled: compile(pattern)?, skip: pattern.skip.clone(), handle_timeout })
    }

    /// The state before any event: one partial match waiting at the start.
    pub fn initial_state(&self) -> NfaState<T> {
        NfaState {
            partial: vec![ComputationState {
                state: self.compiled.start as u32,
                previous: None,
                version: DeweyNumber::new(1),
                start_timestamp: -1,
                start_event: None,
                previous_timestamp: -1,
            }],
            completed: Vec::new(),
            buffer: SharedBuffer::default(),
        }
    }

    /// The longest window of the pattern, if it has one: partial matches never live longer.
    pub fn window(&self) -> Option<i64> {
        let per_state = self.compiled.states.iter().filter_map(|s| s.window).max();
        match (self.compiled.window, per_state) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest time at which one of the partial matches times out, if any has a window.
    pub fn next_deadline(&self, state: &NfaState<T>) -> Option<i64> {
        state
            .partial
            .iter()
            .filter(|cs| self.kind(cs) != Kind::Start)
            .flat_map(|cs| {
                let whole = self.compiled.window.map(|w| cs.start_timestamp.saturating_add(w));
                let step = self.compiled.states[cs.state as usize]
                    .window
                    .map(|w| cs.previous_timestamp.saturating_add(w));
                whole.into_iter().chain(step)
            })
            .min()
    }

    fn kind(&self, cs: &ComputationState) -> Kind {
        self.compiled.states[cs.state as usize].kind
    }

    fn timeout_of(&self, cs: &ComputationState, now: i64) -> Option<i64> {
        if self.kind(cs) == Kind::Start {
            return None;
        }
        if let Some(window) = self.compiled.window {
            if now - cs.start_timestamp >= window {
                return Some(cs.start_timestamp + window);
            }
        }
        match self.compiled.states[cs.state as usize].window {
            Some(window) if now - cs.previous_timestamp >= window => Some(cs.previous_timestamp + window),
            _ => None,
        }
    }

    /// Advances time to `timestamp` (no later event will be earlier): drops the partial matches
    /// whose window has passed (returned as timed out with timeout handling on), and completes
    /// those waiting at the end of a pattern that ends with `not_followed_by` whose window
    /// passed without a forbidden event.
    pub fn advance_time(&self, state: &mut NfaState<T>, timestamp: i64) -> Result<Advanced<T>, MatchError> {
        let mut timed_out = Vec::new();
        let mut kept = Vec::with_capacity(state.partial.len());
        let mut potential = Vec::new();
        for cs in std::mem::take(&mut state.partial) {
            match self.timeout_of(&cs, timestamp) {
                Some(_) if self.kind(&cs) == Kind::Pending => potential.push(cs),
                Some(at) => {
                    if self.handle_timeout {
                        let partial = self.materialize_current(&state.buffer, &cs);
                        timed_out.push(TimedOut { partial, timestamp: at });
                    }
                    if let Some(previous) = cs.previous {
                        state.buffer.release_node(previous);
                    }
                }
                None => kept.push(cs),
            }
        }
        potential.sort_by(earliest_first);
        let mut matches = Vec::new();
        let outcome = self.emit(state, potential, &mut kept, &mut matches);
        state.partial = kept;
        state.buffer.advance_time(timestamp);
        outcome.map(|()| Advanced { matches, timed_out })
    }

    /// Extracts the matches of completed partial matches, applying the skip strategy.
    fn emit(
        &self,
        state: &mut NfaState<T>,
        potential: Vec<ComputationState>,
        partial: &mut Vec<ComputationState>,
        result: &mut Vec<Match<T>>,
    ) -> Result<(), MatchError> {
        if self.skip != AfterMatchSkipStrategy::NoSkip {
            return self.apply_skip_strategy(state, potential, partial, result);
        }
        for m in potential {
            let previous = m.previous.expect("a match took events");
            let path =
                state.buffer.extract_paths(previous, &m.version).into_iter().next().unwrap_or_default();
            result.push(self.materialize(&state.buffer, path));
            state.buffer.release_node(previous);
        }
        Ok(())
    }

    fn materialize_current(&self, buffer: &SharedBuffer<T>, cs: &ComputationState) -> Match<T> {
        match cs.previous {
            None => Match { stages: Vec::new() },
            Some(previous) => {
                let paths = buffer.extract_paths(previous, &cs.version);
                self.materialize(buffer, paths.into_iter().next().unwrap_or_default())
            }
        }
    }

    fn materialize(&self, buffer: &SharedBuffer<T>, path: Vec<(u32, Vec<EventId>)>) -> Match<T> {
        Match {
            stages: path
                .into_iter()
                .map(|(stage, ids)| {
                    let events = ids.iter().filter_map(|id| buffer.event(*id).cloned()).collect();
                    (self.compiled.stage_names[stage as usize].clone(), events)
                })
                .collect(),
        }
    }

    /// Processes one event at `timestamp` and returns the matches it completes. Call
    /// [`Nfa::advance_time`] with the same timestamp first.
    pub fn process(
        &self,
        state: &mut NfaState<T>,
        event: T,
        timestamp: i64,
        processing_time: i64,
    ) -> Result<Vec<Match<T>>, MatchError> {
        let event_id = state.buffer.register_event(event.clone(), timestamp);
        let mut new_partial = Vec::new();
        let mut potential = Vec::new();
        for cs in std::mem::take(&mut state.partial) {
            let next = self.next_states(&mut state.buffer, &cs, &event, event_id, timestamp, processing_time);
            let mut retain = Vec::new();
            let mut stopped = false;
            for new_cs in next {
                match self.kind(&new_cs) {
                    Kind::Final => potential.push(new_cs),
                    Kind::Stop => {
                        stopped = true;
                        if let Some(previous) = new_cs.previous {
                            state.buffer.release_node(previous);
                        }
                    }
                    _ => retain.push(new_cs),
                }
            }
            if stopped {
                // A negative stage matched: this whole branch of the partial match is void.
                for cs in retain {
                    if let Some(previous) = cs.previous {
                        state.buffer.release_node(previous);
                    }
                }
            } else {
                new_partial.extend(retain);
            }
        }
        new_partial.sort_by(earliest_first);
        potential.sort_by(earliest_first);
        let mut result = Vec::new();
        let outcome = self.emit(state, potential, &mut new_partial, &mut result);
        state.partial = new_partial;
        state.buffer.release_event(event_id);
        outcome.map(|()| result)
    }

    fn apply_skip_strategy(
        &self,
        state: &mut NfaState<T>,
        potential: Vec<ComputationState>,
        partial: &mut Vec<ComputationState>,
        result: &mut Vec<Match<T>>,
    ) -> Result<(), MatchError> {
        state.completed.extend(potential);
        state.completed.sort_by(earliest_first);
        while let Some(earliest) = state.completed.first().cloned() {
            if let Some(earliest_partial) = partial.first() {
                if earliest_first(&earliest, earliest_partial) == Ordering::Greater {
                    // An earlier partial match may still complete: hold the match back.
                    break;
                }
            }
            state.completed.remove(0);
            let previous = earliest.previous.expect("a match took events");
            let paths = state.buffer.extract_paths(previous, &earliest.version);
            let pruning = self.pruning_id(&paths)?;
            if let Some((pruning_id, inclusive)) = pruning {
                prune(&mut state.buffer, partial, pruning_id, inclusive);
                prune(&mut state.buffer, &mut state.completed, pruning_id, inclusive);
            }
            let path = paths.into_iter().next().unwrap_or_default();
            result.push(self.materialize(&state.buffer, path));
            state.buffer.release_node(previous);
        }
        Ok(())
    }

    /// The event before which (or up to which, when `inclusive`) partial matches must not
    /// start after a match, per skip strategy.
    fn pruning_id(&self, paths: &[Vec<(u32, Vec<EventId>)>]) -> Result<Option<(EventId, bool)>, MatchError> {
        let all = || paths.iter().flat_map(|path| path.iter().flat_map(|(_, ids)| ids.iter().copied()));
        Ok(match &self.skip {
            AfterMatchSkipStrategy::NoSkip => None,
            AfterMatchSkipStrategy::SkipToNext => all().min().map(|id| (id, true)),
            AfterMatchSkipStrategy::SkipPastLastEvent => all().max().map(|id| (id, true)),
            AfterMatchSkipStrategy::SkipToFirst { stage, throw_on_miss }
            | AfterMatchSkipStrategy::SkipToLast { stage, throw_on_miss } => {
                let first = matches!(self.skip, AfterMatchSkipStrategy::SkipToFirst { .. });
                let mut pruning: Option<EventId> = None;
                for path in paths {
                    let ids = path
                        .iter()
                        .find(|(id, _)| self.compiled.stage_names[*id as usize] == *stage)
                        .map(|(_, ids)| ids.as_slice())
                        .unwrap_or(&[]);
                    if ids.is_empty() {
                        if *throw_on_miss {
                            return Err(MatchError::SkipTargetNotInMatch { stage: stage.clone() });
                        }
                    } else {
                        let id = if first { ids[0] } else { ids[ids.len() - 1] };
                        pruning = Some(pruning.map_or(id, |p| p.max(id)));
                    }
                    if *throw_on_miss {
                        let start = path.iter().flat_map(|(_, ids)| ids.iter().copied()).min();
                        if start.is_some() && start == pruning {
                            return Err(MatchError::SkipToFirstElementOfMatch { stage: stage.clone() });
                        }
                    }
                }
                pruning.map(|id| (id, false))
            }
        })
    }

    fn next_states(
        &self,
        buffer: &mut SharedBuffer<T>,
        cs: &ComputationState,
        event: &T,
        event_id: EventId,
        timestamp: i64,
        processing_time: i64,
    ) -> Vec<ComputationState> {
        let cache = OnceCell::new();
        let states = &self.compiled.states;
        let names = &self.compiled.stage_names;
        // The outgoing take/ignore edges, through any proceed (epsilon) transitions.
        let mut edges = Vec::new();
        let (mut total_take, mut total_ignore) = (0i64, 0i64);
        {
            let view = View { buffer, names, state: cs, timestamp, processing_time, cache: &cache };
            let mut stack = vec![cs.state as usize];
            while let Some(current) = stack.pop() {
                for transition in &states[current].transitions {
                    if !transition.condition.test(event, &view) {
                        continue;
                    }
                    match transition.action {
                        Action::Proceed => stack.push(transition.target),
                        Action::Take | Action::Ignore => {
                            let self_ignore =
                                transition.action == Action::Ignore && transition.target == cs.state as usize;
                            if !self_ignore {
                                if transition.action == Action::Take {
                                    total_take += 1;
                                } else {
                                    total_ignore += 1;
                                }
                            }
                            edges.push((current, transition.action, transition.target));
                        }
                    }
                }
            }
        }
        let is_start = states[cs.state as usize].kind == Kind::Start;
        let mut take_to_visit = (total_take - 1).max(0);
        let mut ignore_to_visit = total_ignore;
        let take_to_skip = (total_take - 1).max(0);
        let mut result: Vec<ComputationState> = Vec::new();
        let add =
            |buffer: &mut SharedBuffer<T>, result: &mut Vec<ComputationState>, new_cs: ComputationState| {
                if let Some(previous) = new_cs.previous {
                    buffer.lock_node(previous);
                }
                result.push(new_cs);
            };
        for (source, action, target) in edges {
            match action {
                Action::Ignore => {
                    if is_start {
                        continue;
                    }
                    let version = if target == cs.state as usize {
                        cs.version.increase(self_increase(total_ignore, total_take))
                    } else {
                        let version =
                            cs.version.increase((take_to_skip + ignore_to_visit) as u32).add_stage();
                        ignore_to_visit -= 1;
                        version
                    };
                    let new_cs = ComputationState { state: target as u32, version, ..cs.clone() };
                    add(buffer, &mut result, new_cs);
                }
                Action::Take => {
                    let current_version = cs.version.increase(take_to_visit.max(0) as u32);
                    let next_version = current_version.add_stage();
                    take_to_visit -= 1;
                    let node = buffer.put(states[source].stage, event_id, cs.previous, current_version);
                    let (start_timestamp, start_event) = if is_start {
                        (timestamp, Some(event_id))
                    } else {
                        (cs.start_timestamp, cs.start_event)
                    };
                    let new_cs = ComputationState {
                        state: target as u32,
                        previous: Some(node),
                        version: next_version,
                        start_timestamp,
                        start_event,
                        previous_timestamp: timestamp,
                    };
                    add(buffer, &mut result, new_cs.clone());
                    let view = View { buffer, names, state: cs, timestamp, processing_time, cache: &cache };
                    if let Some(final_state) = self.final_after_proceed(target, event, &view) {
                        add(buffer, &mut result, ComputationState { state: final_state as u32, ..new_cs });
                    }
                }
                Action::Proceed => unreachable!("proceed edges are followed, not collected"),
            }
        }
        if is_start {
            let version = cs.version.increase(self_increase(total_ignore, total_take));
            result.push(ComputationState { version, ..cs.clone() });
        }
        if let Some(previous) = cs.previous {
            buffer.release_node(previous);
        }
        result
    }

    /// A final state reachable from `state` through proceed transitions that hold.
    fn final_after_proceed(&self, state: usize, event: &T, view: &View<'_, T>) -> Option<usize> {
        let mut stack = vec![state];
        while let Some(current) = stack.pop() {
            for transition in &self.compiled.states[current].transitions {
                if transition.action == Action::Proceed && transition.condition.test(event, view) {
                    if self.compiled.states[transition.target].kind == Kind::Final {
                        return Some(transition.target);
                    }
                    stack.push(transition.target);
                }
            }
        }
        None
    }
}

fn self_increase(ignore: i64, take: i64) -> u32 {
    if take == 0 && ignore == 0 {
        0
    } else {
        (ignore + take.max(1)) as u32
    }
}

fn prune<T: Clone>(
    buffer: &mut SharedBuffer<T>,
    states: &mut Vec<ComputationState>,
    pruning_id: EventId,
    inclusive: bool,
) {
    states.retain(|cs| {
        let Some(start) = cs.start_event else { return true };
        let drop = if inclusive { start <= pruning_id } else { start < pruning_id };
        if drop {
            if let Some(previous) = cs.previous {
                buffer.release_node(previous);
            }
        }
        !drop
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(nfa: &Nfa<char>, events: &[(char, i64)], end: i64) -> Vec<(String, i64)> {
        let mut state = nfa.initial_state();
        let mut out = Vec::new();
        let describe = |m: &Match<char>| m.events().collect::<String>();
        for &(event, ts) in events {
            for m in nfa.advance_time(&mut state, ts).unwrap().matches {
                out.push((describe(&m), ts));
            }
            for m in nfa.process(&mut state, event, ts, 0).unwrap() {
                out.push((describe(&m), ts));
            }
        }
        for m in nfa.advance_time(&mut state, end).unwrap().matches {
            out.push((describe(&m), end));
        }
        out
    }

    #[test]
    fn not_followed_by_at_the_end_completes_when_the_window_passes() {
        let pattern = Pattern::<char>::begin("a")
            .where_fn(|c| *c == 'a')
            .not_followed_by("b")
            .where_fn(|c| *c == 'b')
            .within(10);
        let nfa = Nfa::compile(&pattern, false).unwrap();
        // `a` at 1 sees no `b` before 11; `a` at 20 is followed by `b` at 25.
        let out = feed(&nfa, &[('a', 1), ('c', 3), ('a', 20), ('b', 25)], 100);
        assert_eq!(out, vec![("a".to_string(), 20)]);
    }

    #[test]
    fn timeouts_carry_the_window_end_and_free_the_buffer() {
        let pattern = Pattern::<char>::begin("a")
            .where_fn(|c| *c == 'a')
            .followed_by("b")
            .where_fn(|c| *c == 'b')
            .within(5);
        let nfa = Nfa::compile(&pattern, true).unwrap();
        let mut state = nfa.initial_state();
        nfa.process(&mut state, 'a', 2, 0).unwrap();
        assert_eq!(nfa.next_deadline(&state), Some(7));
        assert!(nfa.advance_time(&mut state, 6).unwrap().timed_out.is_empty());
        let advanced = nfa.advance_time(&mut state, 7).unwrap();
        assert_eq!(advanced.timed_out.len(), 1);
        assert_eq!(advanced.timed_out[0].timestamp, 7);
        assert_eq!(advanced.timed_out[0].partial.get("a"), &['a']);
        assert!(state.is_idle());
    }

    #[test]
    fn followed_by_any_branches_share_the_first_event() {
        let pattern = Pattern::<char>::begin("a")
            .where_fn(|c| *c == 'a')
            .followed_by_any("b")
            .where_fn(|c| *c == 'b')
            .one_or_more()
            .allow_combinations()
            .followed_by("c")
            .where_fn(|c| *c == 'c');
        let nfa = Nfa::compile(&pattern, false).unwrap();
        let mut state = nfa.initial_state();
        for (ts, event) in ['a', 'b', 'b', 'b'].into_iter().enumerate() {
            assert!(nfa.process(&mut state, event, ts as i64, 0).unwrap().is_empty());
        }
        // Seven partial matches (every non-empty subset of the b's) share the four events.
        assert_eq!(state.buffer().event_count(), 4);
        let matches = nfa.process(&mut state, 'c', 4, 0).unwrap();
        let mut found: Vec<String> = matches.iter().map(|m| m.events().collect()).collect();
        found.sort();
        assert_eq!(found, vec!["abbbc", "abbc", "abbc", "abbc", "abc", "abc", "abc"]);
    }

    #[test]
    fn skip_past_last_event_drops_overlapping_matches() {
        let pattern = Pattern::<char>::begin_with_skip("a", AfterMatchSkipStrategy::SkipPastLastEvent)
            .where_fn(|c| *c == 'a')
            .one_or_more()
            .followed_by("b")
            .where_fn(|c| *c == 'b');
        let nfa = Nfa::compile(&pattern, false).unwrap();
        let out = feed(&nfa, &[('a', 1), ('a', 2), ('b', 3), ('a', 4), ('b', 5)], 10);
        assert_eq!(out, vec![("aab".to_string(), 3), ("ab".to_string(), 5)]);
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn iterative_conditions_see_the_whole_partial_match_in_order() {
        // `b` takes an event only if it is larger than the previous event of the match (SQL's
        // `PREV`), whatever stage took it.
        let pattern = Pattern::<i32>::begin("a")
            .where_fn(|x| *x < 10)
            .then("b", crate::Contiguity::Strict)
            .where_iterative(|x, view| view.all_events().last().is_some_and(|(_, prev)| *x > **prev))
            .one_or_more()
            .consecutive();
        let nfa = Nfa::compile(&pattern, false).unwrap();
        let mut state = nfa.initial_state();
        let mut found = Vec::new();
        for (ts, x) in [5, 7, 9, 8, 20].into_iter().enumerate() {
            for m in nfa.process(&mut state, x, ts as i64, 0).unwrap() {
                found.push(m.stages.clone());
            }
        }
        let a = |v: i32, b: &[i32]| vec![("a".to_string(), vec![v]), ("b".to_string(), b.to_vec())];
        // 5 7, 5 7 9, 7 9 (7 also starts a match), 8 20; 9 -> 8 breaks the increase.
        assert_eq!(found, vec![a(5, &[7]), a(5, &[7, 9]), a(7, &[9]), a(8, &[20])]);
    }
}

/// Flink's later `NotPatternITCase` tests of `not_followed_by` at the end of a windowed pattern
/// (newer than the conformance corpus), replayed as Flink's harness feeds them.
#[cfg(test)]
mod pending_tests {
    use super::*;
    use crate::WithinType;

    fn run(pattern: Pattern<(char, i64)>, events: &[(char, i64)]) -> Vec<Vec<(char, i64)>> {
        let nfa = Nfa::compile(&pattern, false).unwrap();
        let mut state = nfa.initial_state();
        let mut out = Vec::new();
        for &event in events {
            for m in nfa.advance_time(&mut state, event.1).unwrap().matches {
                out.push(m.events().copied().collect());
            }
            for m in nfa.process(&mut state, event, event.1, 0).unwrap() {
                out.push(m.events().copied().collect());
            }
        }
        out.sort();
        out
    }

    fn is(c: char) -> impl Fn(&(char, i64)) -> bool + Send + Sync + 'static {
        move |e: &(char, i64)| e.0 == c
    }

    #[test]
    fn not_followed_by_within_at_end() {
        let events = [('a', 1), ('b', 2), ('a', 4), ('c', 5), ('b', 10), ('a', 11), ('b', 13)];
        for within in [WithinType::FirstAndLast, WithinType::PreviousAndCurrent] {
            let pattern = Pattern::begin("a")
                .where_fn(is('a'))
                .not_followed_by("b")
                .where_fn(is('b'))
                .within_type(3, within);
            assert_eq!(run(pattern, &events), vec![vec![('a', 4)]], "{within:?}");
        }
    }

    #[test]
    fn not_followed_by_before_times_within() {
        let events = [('a', 1), ('b', 2), ('a', 10), ('c', 11), ('c', 12), ('a', 20), ('c', 21), ('c', 24)];
        let pattern = Pattern::begin("a")
            .where_fn(is('a'))
            .not_followed_by("b")
            .where_fn(is('b'))
            .followed_by("c")
            .where_fn(is('c'))
            .times_range(0, 2)
            .within(3);
        let mut expected = vec![
            vec![('a', 1)],
            vec![('a', 10)],
            vec![('a', 10), ('c', 11)],
            vec![('a', 10), ('c', 11), ('c', 12)],
            vec![('a', 20)],
            vec![('a', 20), ('c', 21)],
        ];
        expected.sort();
        assert_eq!(run(pattern, &events), expected);
    }

    #[test]
    fn not_followed_by_within_at_end_after_match() {
        let events = [('a', 1), ('a', 2), ('a', 3), ('c', 4), ('c', 10)];
        let pattern = Pattern::begin_with_skip("a", AfterMatchSkipStrategy::SkipPastLastEvent)
            .where_fn(is('a'))
            .one_or_more()
            .allow_combinations()
            .followed_by("c")
            .where_fn(is('c'))
            .not_followed_by("b")
            .where_fn(is('b'))
            .within(5);
        assert_eq!(run(pattern, &events), vec![vec![('a', 1), ('a', 2), ('a', 3), ('c', 4)]]);
    }
}
