//! Compiles a [`Pattern`] into the NFA's state graph, as Flink's `NFACompiler` does: the graph is
//! built backwards from the final state; each stage becomes one or more states with `take`,
//! `ignore` and `proceed` (epsilon) transitions; negative stages become `stop` states and edge
//! conditions; optional stages get a copy of the following states without the negative edges
//! that taking an event invalidates; greedy stages only proceed when they cannot take.

use crate::condition::Condition;
use crate::pattern::{Contiguity, Pattern, QuantifierKind, Stage, WithinType, ENDING_STATE_NAME};
use crate::PatternError;
use eddy_core::hash::HashMap;

/// What a transition does with the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Take the event into the partial match and move to the target.
    Take,
    /// Skip the event and stay (or move to the target) without taking it.
    Ignore,
    /// Move to the target without consuming the event (an epsilon transition).
    Proceed,
}

/// The role of a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Start,
    Normal,
    Final,
    Stop,
    /// The end of a pattern that ends with `not_followed_by` under a window: the partial match
    /// completes when its window passes without a forbidden event.
    Pending,
}

pub(crate) struct Transition<T> {
    pub(crate) action: Action,
    pub(crate) target: usize,
    pub(crate) condition: Condition<T>,
}

impl<T> Clone for Transition<T> {
    fn clone(&self) -> Self {
        Transition { action: self.action, target: self.target, condition: self.condition.clone() }
    }
}

/// A state of the compiled graph.
pub(crate) struct State<T> {
    /// Unique internal name (`name`, `name:1`, ...), for debugging.
    pub(crate) name: String,
    /// The index of the stage name the state takes events for (in `Compiled::stage_names`).
    pub(crate) stage: u32,
    pub(crate) kind: Kind,
    pub(crate) transitions: Vec<Transition<T>>,
    /// A `within(.., PreviousAndCurrent)` window: a partial match waiting here times out once
    /// `now - ts(previous event) >= window`.
    pub(crate) window: Option<i64>,
}

/// The state graph of a pattern.
pub(crate) struct Compiled<T> {
    pub(crate) states: Vec<State<T>>,
    pub(crate) start: usize,
    /// The `FirstAndLast` window (the minimum over the stages that set one).
    pub(crate) window: Option<i64>,
    pub(crate) stage_names: Vec<String>,
}

pub(crate) fn compile<T: 'static>(pattern: &Pattern<T>) -> Result<Compiled<T>, PatternError> {
    pattern.validate()?;
    let mut compiler = Compiler {
        states: Vec::new(),
        stage_names: Vec::new(),
        name_counts: HashMap::default(),
        stop_states: HashMap::default(),
        window: None,
        chain: &pattern.stages,
        idx: pattern.stages.len() - 1,
        following: None,
        group: None,
        first_of_loop: HashMap::default(),
        following_take: None,
        greedy_has_following: false,
    };
    let end = compiler.create_state(ENDING_STATE_NAME, Kind::Final);
    compiler.note_window(compiler.current());
    let sink = compiler.create_middle_states(end);
    let start = compiler.convert_stage(sink);
    compiler.states[start].kind = Kind::Start;
    Ok(Compiled {
        states: compiler.states,
        start,
        window: compiler.window,
        stage_names: compiler.stage_names,
    })
}

struct Compiler<'p, T> {
    states: Vec<State<T>>,
    stage_names: Vec<String>,
    name_counts: HashMap<String, u32>,
    stop_states: HashMap<String, usize>,
    window: Option<i64>,
    /// The chain of stages being compiled (the pattern, or a group's stages) and the index of
    /// the current stage in it; the stage before it is its "previous".
    chain: &'p [Stage<T>],
    idx: usize,
    following: Option<&'p Stage<T>>,
    group: Option<&'p Stage<T>>,
    /// For groups with a quantifier: whether the head of the group is compiled as the first
    /// repetition (keyed by the group's address, stable while compiling).
    first_of_loop: HashMap<usize, bool>,
    following_take: Option<Condition<T>>,
    /// Whether anything follows the stage being converted (a take condition after it). A
    /// greedy stage with nothing after it has nothing to be greedy against: it proceeds to the
    /// end as a reluctant one would, so every prefix is a match (Flink's `GreedyITCase`
    /// `testEndWithZeroOrMoreGreedy`, `testEndWithGreedyTimesRange`).
    greedy_has_following: bool,
}

fn key_of<T>(stage: &Stage<T>) -> usize {
    stage as *const Stage<T> as usize
}

impl<'p, T: 'static> Compiler<'p, T> {
    fn current(&self) -> &'p Stage<T> {
        &self.chain[self.idx]
    }

    fn note_window(&mut self, stage: &Stage<T>) {
        if let Some((ms, WithinType::FirstAndLast)) = stage.within {
            self.window = Some(self.window.map_or(ms, |old| old.min(ms)));
        }
    }

    fn stage_id(&mut self, name: &str) -> u32 {
        match self.stage_names.iter().position(|n| n == name) {
            Some(i) => i as u32,
            None => {
                self.stage_names.push(name.to_string());
                (self.stage_names.len() - 1) as u32
            }
        }
    }

    fn create_state(&mut self, name: &str, kind: Kind) -> usize {
        let count = self.name_counts.entry(name.to_string()).or_insert(0);
        let unique = if *count == 0 { name.to_string() } else { format!("{name}:{count}") };
        *count += 1;
        let stage = self.stage_id(name);
        self.states.push(State { name: unique, stage, kind, transitions: Vec::new(), window: None });
        self.states.len() - 1
    }

    fn add(&mut self, from: usize, action: Action, to: usize, condition: Condition<T>) {
        self.states[from].transitions.push(Transition { action, target: to, condition });
    }

    fn create_stop_state(&mut self, condition: Condition<T>, name: &str) -> usize {
        if let Some(&stop) = self.stop_states.get(name) {
            return stop;
        }
        let stop = self.create_state(name, Kind::Stop);
        self.add(stop, Action::Take, stop, condition);
        self.stop_states.insert(name.to_string(), stop);
        stop
    }

    fn create_middle_states(&mut self, sink: usize) -> usize {
        let mut last_sink = sink;
        while self.idx > 0 {
            let current = self.current();
            match current.contiguity {
                // At the end of a windowed pattern, a negative "followed by" stage becomes a
                // pending state that ignores other events and stops at a forbidden one.
                Contiguity::NotFollow
                    if self.states[last_sink].kind == Kind::Final
                        && (self.window.is_some()
                            || matches!(current.within, Some((_, WithinType::PreviousAndCurrent)))) =>
                {
                    let pending = self.create_state(&current.name, Kind::Pending);
                    let not_condition = self.take_condition(current);
                    let stop = self.create_stop_state(not_condition.clone(), &current.name);
                    self.add(pending, Action::Proceed, stop, not_condition.clone());
                    self.add(pending, Action::Ignore, pending, not_condition.not());
                    if let Some((ms, WithinType::PreviousAndCurrent)) = current.within {
                        self.states[pending].window = Some(ms);
                    }
                    last_sink = pending;
                }
                // Otherwise negative "followed by" stages become edge conditions of the states
                // around them.
                Contiguity::NotFollow => {}
                Contiguity::NotNext => {
                    let not_next = self.create_state(&current.name, Kind::Normal);
                    let not_condition = self.take_condition(current);
                    let stop = self.create_stop_state(not_condition.clone(), &current.name);
                    if self.states[last_sink].kind == Kind::Final {
                        // An ignore, so the match only completes with a following event.
                        self.add(not_next, Action::Ignore, last_sink, not_condition.clone().not());
                    } else {
                        self.add(not_next, Action::Proceed, last_sink, not_condition.clone().not());
                    }
                    self.add(not_next, Action::Proceed, stop, not_condition);
                    last_sink = not_next;
                }
                _ => last_sink = self.convert_stage(last_sink),
            }
            self.following = Some(current);
            self.idx -= 1;
            self.note_window(self.current());
        }
        last_sink
    }

    fn convert_stage(&mut self, sink: usize) -> usize {
        let current = self.current();
        let first_new = self.states.len();
        let outer_has_following = self.greedy_has_following;
        self.greedy_has_following = self.following_take.is_some();
        let last_sink = match current.kind {
            QuantifierKind::Looping => {
                self.set_first_of_loop(false);
                let sink_copy = self.copy_without_transitive_nots(sink);
                let looping = self.create_looping(sink_copy);
                self.set_first_of_loop(true);
                self.create_times_state(looping, sink, current.from, current.to)
            }
            QuantifierKind::Times => self.create_times_state(sink, sink, current.from, current.to),
            QuantifierKind::One => {
                let take = self.take_condition(current);
                let ignore = self.ignore_condition(current);
                let optional = self.is_optional(current);
                self.create_singleton_state(sink, Some(sink), take, ignore, optional)
            }
        };
        self.greedy_has_following = outer_has_following;
        self.add_stop_states(last_sink);
        if let (None, Some((ms, WithinType::PreviousAndCurrent))) = (&current.group, current.within) {
            for state in &mut self.states[first_new..] {
                if state.kind == Kind::Normal {
                    state.window = Some(ms);
                }
            }
        }
        last_sink
    }

    /// The negative conditions that still apply to the current stage: those of the
    /// `not_followed_by` stages reachable backwards through optional stages.
    fn current_not_conditions(&self) -> Vec<(Condition<T>, String)> {
        let mut out = Vec::new();
        let mut i = self.idx;
        while i > 0 && (self.chain[i - 1].optional || self.chain[i - 1].contiguity == Contiguity::NotFollow) {
            i -= 1;
            if self.chain[i].contiguity == Contiguity::NotFollow {
                out.push((self.take_condition(&self.chain[i]), self.chain[i].name.clone()));
            }
        }
        out
    }

    /// A copy of `sink` (and of the states it proceeds to) without the proceed edges to the stop
    /// states of earlier negative stages: once an optional stage takes an event, the
    /// `not_followed_by` before it no longer applies.
    fn copy_without_transitive_nots(&mut self, sink: usize) -> usize {
        let nots = self.current_not_conditions();
        if nots.is_empty() || !self.current().optional {
            return sink;
        }
        let name = self.stage_names[self.states[sink].stage as usize].clone();
        let copy = self.create_state(&name, self.states[sink].kind);
        self.states[copy].window = self.states[sink].window;
        for transition in self.states[sink].transitions.clone() {
            if transition.action == Action::Proceed {
                let target = transition.target;
                if self.states[target].kind == Kind::Stop {
                    let stop_name = &self.stage_names[self.states[target].stage as usize];
                    if nots.iter().any(|(_, name)| name == stop_name) {
                        continue;
                    }
                    self.add(copy, Action::Proceed, target, transition.condition);
                } else {
                    let target = self.copy_without_transitive_nots(target);
                    self.add(copy, Action::Proceed, target, transition.condition);
                }
            } else {
                let target = if transition.target == sink { copy } else { transition.target };
                self.add(copy, transition.action, target, transition.condition);
            }
        }
        copy
    }

    fn add_stop_states(&mut self, state: usize) {
        for (condition, name) in self.current_not_conditions() {
            let stop = self.create_stop_state(condition.clone(), &name);
            self.add(state, Action::Proceed, stop, condition);
        }
    }

    fn add_stop_state_to_looping(&mut self, state: usize) {
        if let Some(following) = self.following {
            if following.contiguity == Contiguity::NotFollow {
                let condition = self.take_condition(following);
                let stop = self.create_stop_state(condition.clone(), &following.name);
                self.add(state, Action::Proceed, stop, condition);
            }
        }
    }

    fn create_times_state(&mut self, sink: usize, proceed: usize, from: u32, to: u32) -> usize {
        let current = self.current();
        let mut last_sink = sink;
        self.set_first_of_loop(false);
        let until = current.until.clone();
        let inner_ignore = extend_with_until(self.inner_ignore_condition(current), until.clone(), false);
        let take = extend_with_until(Some(self.take_condition(current)), until, true)
            .expect("a take condition is never empty");
        for _ in from..to {
            last_sink = self.create_singleton_state(
                last_sink,
                Some(proceed),
                take.clone(),
                inner_ignore.clone(),
                true,
            );
            self.add_stop_state_to_looping(last_sink);
        }
        for _ in 1..from {
            last_sink =
                self.create_singleton_state(last_sink, None, take.clone(), inner_ignore.clone(), false);
            self.add_stop_state_to_looping(last_sink);
        }
        self.set_first_of_loop(true);
        let ignore = self.ignore_condition(current);
        self.create_singleton_state(last_sink, Some(proceed), take, ignore, current.optional)
    }

    fn set_first_of_loop(&mut self, first: bool) {
        let current = self.current();
        if current.group.is_some() {
            self.first_of_loop.insert(key_of(current), first);
        }
    }

    fn is_group_first_of_loop(&self) -> bool {
        match self.group {
            Some(group) => self.first_of_loop.get(&key_of(group)).copied().unwrap_or(true),
            None => true,
        }
    }

    /// Whether the current stage is the first stage of the group being compiled.
    fn head_of_group(&self) -> bool {
        self.group.is_some() && self.idx == 0
    }

    fn is_optional(&self, stage: &Stage<T>) -> bool {
        if self.head_of_group() && std::ptr::eq(stage, self.current()) {
            let group = self.group.expect("head of a group");
            self.is_group_first_of_loop() && group.optional
        } else {
            stage.optional
        }
    }

    fn create_singleton_state(
        &mut self,
        sink: usize,
        proceed: Option<usize>,
        take: Condition<T>,
        ignore: Option<Condition<T>>,
        optional: bool,
    ) -> usize {
        let current = self.current();
        if current.group.is_some() {
            return self.create_group_state(current, sink, proceed, optional);
        }
        let greedy = current.greedy;
        let state = self.create_state(&current.name, Kind::Normal);
        let sink = self.copy_without_transitive_nots(sink);
        self.add(state, Action::Take, sink, take.clone());
        let mut proceed_condition = self.true_condition();
        if optional && !self.head_of_group() {
            if greedy && self.greedy_has_following {
                proceed_condition =
                    greedy_condition(proceed_condition, &take, ignore.as_ref(), self.following_take.as_ref());
            }
            let proceed = proceed.expect("an optional state has a proceed target");
            self.add(state, Action::Proceed, proceed, proceed_condition.clone());
        }
        if let Some(ignore) = ignore {
            let ignore_state = if optional {
                let ignore_state = self.create_state(&current.name, Kind::Normal);
                self.add(ignore_state, Action::Take, sink, take.clone());
                self.add(ignore_state, Action::Ignore, ignore_state, ignore.clone());
                self.add_stop_states(ignore_state);
                if greedy && self.greedy_has_following {
                    if let Some(proceed) = proceed {
                        self.add(ignore_state, Action::Proceed, proceed, proceed_condition);
                    }
                }
                ignore_state
            } else {
                state
            };
            self.add(state, Action::Ignore, ignore_state, ignore);
        }
        self.following_take = following_take_condition(self.following_take.take(), Some(take), optional);
        state
    }

    fn enter_group(&mut self, group: &'p Stage<T>) -> Saved<'p, T> {
        let saved = Saved {
            chain: self.chain,
            idx: self.idx,
            following: self.following,
            group: self.group,
            following_take: self.following_take.take(),
        };
        let inner = group.group.as_deref().expect("a group stage");
        self.group = Some(group);
        self.chain = inner;
        self.idx = inner.len() - 1;
        saved
    }

    fn leave_group(&mut self, saved: Saved<'p, T>, optional: bool) {
        self.chain = saved.chain;
        self.idx = saved.idx;
        self.following = saved.following;
        self.group = saved.group;
        let inner_take = self.following_take.take();
        self.following_take = following_take_condition(saved.following_take, inner_take, optional);
    }

    fn create_group_state(
        &mut self,
        group: &'p Stage<T>,
        sink: usize,
        proceed: Option<usize>,
        optional: bool,
    ) -> usize {
        let proceed_condition = self.true_condition();
        let saved = self.enter_group(group);
        let mut last_sink = self.create_middle_states(sink);
        last_sink = self.convert_stage(last_sink);
        if optional {
            let proceed = proceed.expect("an optional group has a proceed target");
            self.add(last_sink, Action::Proceed, proceed, proceed_condition);
        }
        self.leave_group(saved, optional);
        last_sink
    }

    fn create_looping_group_state(&mut self, group: &'p Stage<T>, sink: usize) -> usize {
        let proceed_condition = self.true_condition();
        let dummy = self.create_state(&group.name, Kind::Normal);
        let saved = self.enter_group(group);
        let mut last_sink = self.create_middle_states(dummy);
        last_sink = self.convert_stage(last_sink);
        self.add(last_sink, Action::Proceed, sink, proceed_condition.clone());
        self.add(dummy, Action::Proceed, last_sink, proceed_condition);
        self.leave_group(saved, true);
        last_sink
    }

    fn create_looping(&mut self, sink: usize) -> usize {
        let current = self.current();
        if current.group.is_some() {
            return self.create_looping_group_state(current, sink);
        }
        let until = current.until.clone();
        let ignore = extend_with_until(self.inner_ignore_condition(current), until.clone(), false);
        let take = extend_with_until(Some(self.take_condition(current)), until, true)
            .expect("a take condition is never empty");
        let mut proceed_condition = self.true_condition();
        if current.greedy && self.greedy_has_following {
            proceed_condition =
                greedy_condition(proceed_condition, &take, ignore.as_ref(), self.following_take.as_ref());
        }
        let looping = self.create_state(&current.name, Kind::Normal);
        self.add(looping, Action::Proceed, sink, proceed_condition.clone());
        self.add(looping, Action::Take, looping, take.clone());
        self.add_stop_state_to_looping(looping);
        if let Some(ignore) = ignore {
            let ignore_state = self.create_state(&current.name, Kind::Normal);
            self.add(ignore_state, Action::Take, looping, take.clone());
            self.add(ignore_state, Action::Ignore, ignore_state, ignore.clone());
            self.add(looping, Action::Ignore, ignore_state, ignore);
            if current.greedy && self.greedy_has_following {
                self.add(ignore_state, Action::Proceed, sink, proceed_condition);
            }
            self.add_stop_state_to_looping(ignore_state);
        }
        self.following_take = following_take_condition(self.following_take.take(), Some(take), true);
        looping
    }

    fn group_until(&self) -> Option<Condition<T>> {
        self.group.and_then(|group| group.until.clone())
    }

    fn ignore_for(&self, contiguity: Contiguity, stage: &Stage<T>) -> Option<Condition<T>> {
        let ignore = match contiguity {
            Contiguity::Strict | Contiguity::NotNext | Contiguity::NotFollow => None,
            Contiguity::Relaxed => Some(stage.condition().not()),
            Contiguity::NonDeterministicRelaxed => Some(Condition::always()),
        };
        match self.group_until() {
            Some(until) => extend_with_until(ignore, Some(until), false),
            None => ignore,
        }
    }

    fn inner_ignore_condition(&self, stage: &Stage<T>) -> Option<Condition<T>> {
        let contiguity = if self.head_of_group() && std::ptr::eq(stage, self.current()) {
            self.group.expect("head of a group").inner
        } else {
            stage.inner
        };
        self.ignore_for(contiguity, stage)
    }

    fn ignore_condition(&self, stage: &Stage<T>) -> Option<Condition<T>> {
        let contiguity = if self.head_of_group() && std::ptr::eq(stage, self.current()) {
            let group = self.group.expect("head of a group");
            if self.is_group_first_of_loop() {
                group.contiguity
            } else {
                group.inner
            }
        } else {
            stage.contiguity
        };
        self.ignore_for(contiguity, stage)
    }

    fn take_condition(&self, stage: &Stage<T>) -> Condition<T> {
        let take = stage.condition();
        match self.group_until() {
            Some(until) => extend_with_until(Some(take), Some(until), true).expect("a condition"),
            None => take,
        }
    }

    fn true_condition(&self) -> Condition<T> {
        match self.group_until() {
            Some(until) => {
                extend_with_until(Some(Condition::always()), Some(until), true).expect("a condition")
            }
            None => Condition::always(),
        }
    }
}

struct Saved<'p, T> {
    chain: &'p [Stage<T>],
    idx: usize,
    following: Option<&'p Stage<T>>,
    group: Option<&'p Stage<T>>,
    following_take: Option<Condition<T>>,
}

fn extend_with_until<T>(
    condition: Option<Condition<T>>,
    until: Option<Condition<T>>,
    is_take: bool,
) -> Option<Condition<T>> {
    match (condition, until) {
        (Some(condition), Some(until)) => Some(until.not().and(condition)),
        (None, Some(until)) if is_take => Some(until.not()),
        (condition, _) => condition,
    }
}

/// A greedy stage proceeds only if it cannot take the event (and the following stage can), or
/// if it could neither take nor ignore it.
fn greedy_condition<T>(
    condition: Condition<T>,
    take: &Condition<T>,
    ignore: Option<&Condition<T>>,
    following_take: Option<&Condition<T>>,
) -> Condition<T> {
    let mut greedy = condition.and(take.clone().not());
    if let Some(following) = following_take {
        greedy = greedy.and(following.clone());
    }
    match ignore {
        Some(ignore) => greedy.or(take.clone().or(ignore.clone()).not()),
        None => greedy.or(take.clone().not()),
    }
}

fn following_take_condition<T>(
    following: Option<Condition<T>>,
    current: Option<Condition<T>>,
    optional: bool,
) -> Option<Condition<T>> {
    match (current, following) {
        (Some(current), Some(following)) if optional => Some(current.or(following)),
        (current, _) => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(compiled: &Compiled<i32>) -> Vec<String> {
        compiled
            .states
            .iter()
            .map(|s| {
                let edges: Vec<String> = s
                    .transitions
                    .iter()
                    .map(|t| format!("{:?}->{}", t.action, compiled.states[t.target].name))
                    .collect();
                format!("{}({:?}): {}", s.name, s.kind, edges.join(" "))
            })
            .collect()
    }

    #[test]
    fn a_followed_by_b_has_start_take_ignore_and_final() {
        let pattern = Pattern::<i32>::begin("a").where_fn(|x| *x == 1).followed_by("b").where_fn(|x| *x == 2);
        let compiled = compile(&pattern).unwrap();
        assert_eq!(
            shape(&compiled),
            vec![
                "$endState$(Final): ".to_string(),
                "b(Normal): Take->$endState$ Ignore->b".to_string(),
                // The begin stage is relaxed too; the NFA never ignores from the start state.
                "a(Start): Take->b Ignore->a".to_string(),
            ]
        );
        assert_eq!(compiled.states[compiled.start].name, "a");
    }

    #[test]
    fn one_or_more_has_a_looping_state_and_its_ignore_twin() {
        let pattern = Pattern::<i32>::begin("a").one_or_more().followed_by("b");
        let compiled = compile(&pattern).unwrap();
        let names: Vec<&str> = compiled.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["$endState$", "b", "a", "a:1", "a:2"]);
        let looping = &compiled.states[2];
        assert!(looping.transitions.iter().any(|t| t.action == Action::Take && t.target == 2));
        assert!(looping.transitions.iter().any(|t| t.action == Action::Proceed && t.target == 1));
    }

    #[test]
    fn not_next_creates_a_stop_state() {
        let pattern = Pattern::<i32>::begin("a").not_next("b").followed_by("c");
        let compiled = compile(&pattern).unwrap();
        assert!(compiled.states.iter().any(|s| s.kind == Kind::Stop && s.name == "b:1"));
    }

    #[test]
    fn invalid_patterns_do_not_compile() {
        assert!(compile(&Pattern::<i32>::begin("a").not_followed_by("b")).is_err());
    }
}
