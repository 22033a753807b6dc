//! The Pattern API (Flink's `Pattern`): a sequence of named stages, each with a condition, a
//! quantifier and the contiguity that links it to the stage before; groups of stages; a time
//! window; an after-match skip strategy. Building never panics: the first misuse is recorded
//! and returned, naming the stage, by [`Pattern::validate`] and the compiler.

use std::fmt;

use crate::condition::{Condition, MatchView};
use crate::PatternError;

/// The name of the NFA's final state, which no stage may use.
pub(crate) const ENDING_STATE_NAME: &str = "$endState$";

/// How the events of a stage relate to the event before them (Flink's `ConsumingStrategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contiguity {
    /// `next`: the event must directly follow the previous matched event.
    Strict,
    /// `followed_by`: skip events until the first one that satisfies the stage.
    Relaxed,
    /// `followed_by_any`: any later event that satisfies the stage, each in its own branch.
    NonDeterministicRelaxed,
    /// `not_next`: the event right after must not satisfy the stage.
    NotNext,
    /// `not_followed_by`: no satisfying event before the next stage's event.
    NotFollow,
}

/// Which events a time window (`within`) spans (Flink's `WithinType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithinType {
    /// From the first event of the match to the last (the whole match).
    FirstAndLast,
    /// From the previous event of the match to the event entering the stage.
    PreviousAndCurrent,
}

/// What happens to other partial matches once a match is emitted (Flink's
/// `AfterMatchSkipStrategy`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AfterMatchSkipStrategy {
    /// Every possible match is emitted.
    #[default]
    NoSkip,
    /// Discard every partial match that started with the same event as the emitted match.
    SkipToNext,
    /// Discard every partial match that started before the emitted match ended.
    SkipPastLastEvent,
    /// Discard every partial match that started before the first event of `stage`.
    SkipToFirst {
        /// The stage to skip to.
        stage: String,
        /// Fail when the match has no event of `stage` (Flink's `throwExceptionOnMiss`).
        throw_on_miss: bool,
    },
    /// Discard every partial match that started before the last event of `stage`.
    SkipToLast {
        /// The stage to skip to.
        stage: String,
        /// Fail when the match has no event of `stage` (Flink's `throwExceptionOnMiss`).
        throw_on_miss: bool,
    },
}

impl AfterMatchSkipStrategy {
    /// `skipToFirst(stage)`.
    pub fn skip_to_first(stage: impl Into<String>) -> Self {
        AfterMatchSkipStrategy::SkipToFirst { stage: stage.into(), throw_on_miss: false }
    }
    /// `skipToLast(stage)`.
    pub fn skip_to_last(stage: impl Into<String>) -> Self {
        AfterMatchSkipStrategy::SkipToLast { stage: stage.into(), throw_on_miss: false }
    }
    /// `throwExceptionOnMiss()`: only for the skip-to-stage strategies.
    pub fn throw_exception_on_miss(self) -> Self {
        match self {
            AfterMatchSkipStrategy::SkipToFirst { stage, .. } => {
                AfterMatchSkipStrategy::SkipToFirst { stage, throw_on_miss: true }
            }
            AfterMatchSkipStrategy::SkipToLast { stage, .. } => {
                AfterMatchSkipStrategy::SkipToLast { stage, throw_on_miss: true }
            }
            other => other,
        }
    }
    /// The stage a skip-to strategy names.
    pub fn target_stage(&self) -> Option<&str> {
        match self {
            AfterMatchSkipStrategy::SkipToFirst { stage, .. }
            | AfterMatchSkipStrategy::SkipToLast { stage, .. } => Some(stage),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuantifierKind {
    One,
    Looping,
    Times,
}

/// One stage (or group) of a pattern.
pub(crate) struct Stage<T> {
    pub(crate) name: String,
    pub(crate) condition: Option<Condition<T>>,
    pub(crate) group: Option<Vec<Stage<T>>>,
    pub(crate) contiguity: Contiguity,
    pub(crate) inner: Contiguity,
    pub(crate) kind: QuantifierKind,
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) optional: bool,
    pub(crate) greedy: bool,
    pub(crate) until: Option<Condition<T>>,
    pub(crate) within: Option<(i64, WithinType)>,
}

impl<T> Clone for Stage<T> {
    fn clone(&self) -> Self {
        Stage {
            name: self.name.clone(),
            condition: self.condition.clone(),
            group: self.group.clone(),
            contiguity: self.contiguity,
            inner: self.inner,
            kind: self.kind,
            from: self.from,
            to: self.to,
            optional: self.optional,
            greedy: self.greedy,
            until: self.until.clone(),
            within: self.within,
        }
    }
}

impl<T> Stage<T> {
    fn new(name: String, contiguity: Contiguity, group: Option<Vec<Stage<T>>>) -> Self {
        Stage {
            name,
            condition: None,
            group,
            contiguity,
            inner: Contiguity::Relaxed,
            kind: QuantifierKind::One,
            from: 1,
            to: 1,
            optional: false,
            greedy: false,
            until: None,
            within: None,
        }
    }

    /// The stage's condition (`true` without a `where`).
    pub(crate) fn condition(&self) -> Condition<T> {
        self.condition.clone().unwrap_or_else(Condition::always)
    }

    pub(crate) fn is_not(&self) -> bool {
        matches!(self.contiguity, Contiguity::NotNext | Contiguity::NotFollow)
    }

    fn describe(&self) -> String {
        match &self.group {
            Some(inner) => format!("group starting with `{}`", inner.first().map_or("", |s| s.name.as_str())),
            None => format!("stage `{}`", self.name),
        }
    }
}

/// A pattern: stages in order, with Flink CEP's builder methods. Methods that configure a stage
/// (`where_`, `times`, `optional`, ...) apply to the last stage added.
///
/// ```
/// use eddy_cep::{Condition, Pattern};
///
/// // A small charge followed by a large one within ten minutes.
/// let pattern = Pattern::<(String, f64)>::begin("small")
///     .where_(Condition::simple(|t: &(String, f64)| t.1 < 1.0))
///     .followed_by("large")
///     .where_(Condition::simple(|t: &(String, f64)| t.1 > 500.0))
///     .within(10 * 60 * 1000);
/// assert!(pattern.validate().is_ok());
/// ```
pub struct Pattern<T> {
    pub(crate) stages: Vec<Stage<T>>,
    pub(crate) skip: AfterMatchSkipStrategy,
    pub(crate) error: Option<PatternError>,
}

impl<T> Clone for Pattern<T> {
    fn clone(&self) -> Self {
        Pattern { stages: self.stages.clone(), skip: self.skip.clone(), error: self.error.clone() }
    }
}

impl<T> fmt::Debug for Pattern<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.stages.iter().map(Stage::describe).collect();
        f.debug_struct("Pattern").field("stages", &names).field("skip", &self.skip).finish()
    }
}

impl<T: 'static> Pattern<T> {
    /// `Pattern.begin(name)`: the first stage.
    pub fn begin(name: impl Into<String>) -> Self {
        Self::begin_with_skip(name, AfterMatchSkipStrategy::NoSkip)
    }

    /// `Pattern.begin(name, skipStrategy)`.
    pub fn begin_with_skip(name: impl Into<String>, skip: AfterMatchSkipStrategy) -> Self {
        Pattern { stages: vec![Stage::new(name.into(), Contiguity::Relaxed, None)], skip, error: None }
    }

    /// `Pattern.begin(group)`: a pattern starting with a group of stages.
    pub fn begin_group(group: Pattern<T>) -> Self {
        Self::begin_group_with_skip(group, AfterMatchSkipStrategy::NoSkip)
    }

    /// `Pattern.begin(group, skipStrategy)`.
    pub fn begin_group_with_skip(group: Pattern<T>, skip: AfterMatchSkipStrategy) -> Self {
        let error = group.error.clone();
        Pattern {
            stages: vec![Stage::new(String::new(), Contiguity::Relaxed, Some(group.stages))],
            skip,
            error,
        }
    }

    /// Sets the after-match skip strategy (the same as giving it to `begin`).
    pub fn with_skip_strategy(mut self, skip: AfterMatchSkipStrategy) -> Self {
        self.skip = skip;
        self
    }

    fn fail(&mut self, reason: String) {
        if self.error.is_none() {
            let stage = self.stages.last().map(Stage::describe).unwrap_or_default();
            self.error = Some(PatternError::Malformed { stage, reason });
        }
    }

    fn last(&mut self) -> &mut Stage<T> {
        self.stages.last_mut().expect("a pattern has at least one stage")
    }

    fn push(mut self, name: String, contiguity: Contiguity) -> Self {
        let negative = contiguity == Contiguity::NotNext || contiguity == Contiguity::NotFollow;
        if negative && self.last().optional {
            self.fail(
                "an optional stage cannot be followed by a not_next/not_followed_by stage (Flink: \
                 \"Specifying a pattern with an optional path to NOT condition is not supported yet\")"
                    .into(),
            );
        }
        self.stages.push(Stage::new(name, contiguity, None));
        self
    }

    fn push_group(mut self, group: Pattern<T>, contiguity: Contiguity) -> Self {
        if let Some(error) = group.error {
            if self.error.is_none() {
                self.error = Some(error);
            }
        }
        self.stages.push(Stage::new(String::new(), contiguity, Some(group.stages)));
        self
    }

    /// `next(name)`: strict contiguity.
    pub fn next(self, name: impl Into<String>) -> Self {
        self.push(name.into(), Contiguity::Strict)
    }
    /// `followedBy(name)`: relaxed contiguity.
    pub fn followed_by(self, name: impl Into<String>) -> Self {
        self.push(name.into(), Contiguity::Relaxed)
    }
    /// `followedByAny(name)`: non-deterministic relaxed contiguity.
    pub fn followed_by_any(self, name: impl Into<String>) -> Self {
        self.push(name.into(), Contiguity::NonDeterministicRelaxed)
    }
    /// `notNext(name)`: the next event must not satisfy this stage.
    pub fn not_next(self, name: impl Into<String>) -> Self {
        self.push(name.into(), Contiguity::NotNext)
    }
    /// `notFollowedBy(name)`: no event satisfying this stage before the next stage's event.
    pub fn not_followed_by(self, name: impl Into<String>) -> Self {
        self.push(name.into(), Contiguity::NotFollow)
    }
    /// Adds a stage with the contiguity given as a value (for front ends that build patterns
    /// programmatically, such as SQL's `MATCH_RECOGNIZE`).
    pub fn then(self, name: impl Into<String>, contiguity: Contiguity) -> Self {
        self.push(name.into(), contiguity)
    }

    /// Adds a group with the contiguity given as a value; a negative contiguity is refused.
    pub fn then_group(mut self, group: Pattern<T>, contiguity: Contiguity) -> Self {
        if matches!(contiguity, Contiguity::NotNext | Contiguity::NotFollow) {
            self.fail("a group cannot be negative (not_next / not_followed_by)".into());
            return self;
        }
        self.push_group(group, contiguity)
    }

    /// `next(group)`.
    pub fn next_group(self, group: Pattern<T>) -> Self {
        self.push_group(group, Contiguity::Strict)
    }
    /// `followedBy(group)`.
    pub fn followed_by_group(self, group: Pattern<T>) -> Self {
        self.push_group(group, Contiguity::Relaxed)
    }
    /// `followedByAny(group)`.
    pub fn followed_by_any_group(self, group: Pattern<T>) -> Self {
        self.push_group(group, Contiguity::NonDeterministicRelaxed)
    }

    /// `where(condition)`: AND-ed with the stage's condition so far.
    pub fn where_(mut self, condition: Condition<T>) -> Self {
        if self.last().group.is_some() {
            self.fail("a group has no condition of its own".into());
            return self;
        }
        let stage = self.last();
        stage.condition = Some(match stage.condition.take() {
            None => condition,
            Some(old) => old.and(condition),
        });
        self
    }

    /// `where(condition)` with a closure over the event alone.
    pub fn where_fn(self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.where_(Condition::simple(f))
    }

    /// `where(condition)` with an iterative closure that sees the partial match.
    pub fn where_iterative(self, f: impl Fn(&T, &dyn MatchView<T>) -> bool + Send + Sync + 'static) -> Self {
        self.where_(Condition::iterative(f))
    }

    /// `or(condition)`: OR-ed with the stage's condition so far.
    pub fn or(mut self, condition: Condition<T>) -> Self {
        if self.last().group.is_some() {
            self.fail("a group has no condition of its own".into());
            return self;
        }
        let stage = self.last();
        stage.condition = Some(match stage.condition.take() {
            None => condition,
            Some(old) => old.or(condition),
        });
        self
    }

    /// `subtype(SubEvent.class)`: keeps only events of a kind (a test on the event, AND-ed).
    pub fn subtype(self, is_kind: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.where_(Condition::simple(is_kind))
    }

    /// `until(condition)`: a looping stage stops taking events at one that satisfies it.
    pub fn until(mut self, condition: Condition<T>) -> Self {
        if self.last().kind != QuantifierKind::Looping {
            self.fail("until is only applicable to looping stages (one_or_more, times_or_more)".into());
        } else if self.last().until.is_some() {
            self.fail("only one until condition can be applied".into());
        } else {
            self.last().until = Some(condition);
        }
        self
    }

    /// `within(ms)`: the whole match must span less than `ms` of event time.
    pub fn within(self, ms: i64) -> Self {
        self.within_type(ms, WithinType::FirstAndLast)
    }

    /// `within(ms, type)`.
    pub fn within_type(mut self, ms: i64, within: WithinType) -> Self {
        if ms <= 0 {
            self.fail(format!("within needs a positive duration, got {ms} ms"));
        } else {
            self.last().within = Some((ms, within));
        }
        self
    }

    fn quantify(&mut self, kind: QuantifierKind, from: u32, to: u32) {
        if self.last().is_not() {
            self.fail("a quantifier is not applicable to a not_next/not_followed_by stage".into());
        } else if self.last().kind != QuantifierKind::One {
            self.fail("a quantifier was already applied to this stage".into());
        } else {
            let stage = self.last();
            stage.kind = kind;
            stage.from = from;
            stage.to = to;
        }
    }

    /// `oneOrMore()`.
    pub fn one_or_more(mut self) -> Self {
        self.quantify(QuantifierKind::Looping, 1, 1);
        self
    }

    /// `timesOrMore(n)`.
    pub fn times_or_more(mut self, n: u32) -> Self {
        if n == 0 {
            self.fail("times_or_more needs at least 1 (use one_or_more().optional())".into());
        } else {
            self.quantify(QuantifierKind::Looping, n, n);
        }
        self
    }

    /// `times(n)`.
    pub fn times(mut self, n: u32) -> Self {
        if n == 0 {
            self.fail("times needs a positive number".into());
        } else {
            self.quantify(QuantifierKind::Times, n, n);
        }
        self
    }

    /// `times(from, to)`; `times(0, to)` is an optional `times(1, to)`, as in Flink.
    pub fn times_range(mut self, from: u32, to: u32) -> Self {
        if to == 0 || from > to {
            self.fail(format!("times({from}, {to}) needs 0 <= from <= to and to > 0"));
            return self;
        }
        if from == 0 {
            self.quantify(QuantifierKind::Times, 1, to);
            self.last().optional = true;
        } else {
            self.quantify(QuantifierKind::Times, from, to);
        }
        self
    }

    /// `optional()`.
    pub fn optional(mut self) -> Self {
        if self.last().is_not() {
            self.fail("optional is not applicable to a not_next/not_followed_by stage".into());
        } else {
            self.last().optional = true;
        }
        self
    }

    /// `greedy()`: a looping or times stage takes as many events as it can.
    pub fn greedy(mut self) -> Self {
        if self.last().is_not() {
            self.fail("greedy is not applicable to a not_next/not_followed_by stage".into());
        } else if self.last().group.is_some() {
            self.fail("greedy is not applicable to a group".into());
        } else if self.last().kind == QuantifierKind::One {
            self.fail("greedy is only applicable to looping or times stages".into());
        } else {
            self.last().greedy = true;
        }
        self
    }

    /// `consecutive()`: strict contiguity between the events a looping/times stage takes.
    pub fn consecutive(mut self) -> Self {
        if self.last().kind == QuantifierKind::One {
            self.fail("consecutive is only applicable to looping or times stages".into());
        } else {
            self.last().inner = Contiguity::Strict;
        }
        self
    }

    /// `allowCombinations()`: non-deterministic relaxed contiguity inside the loop.
    pub fn allow_combinations(mut self) -> Self {
        if self.last().kind == QuantifierKind::One {
            self.fail("allow_combinations is only applicable to looping or times stages".into());
        } else {
            self.last().inner = Contiguity::NonDeterministicRelaxed;
        }
        self
    }

    /// The after-match skip strategy.
    pub fn skip_strategy(&self) -> &AfterMatchSkipStrategy {
        &self.skip
    }

    /// The names of the stages that take events, in pattern order (groups flattened).
    pub fn stage_names(&self) -> Vec<String> {
        fn walk<T>(stages: &[Stage<T>], out: &mut Vec<String>) {
            for stage in stages {
                match &stage.group {
                    Some(inner) => walk(inner, out),
                    None if !stage.is_not() => out.push(stage.name.clone()),
                    None => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.stages, &mut out);
        out
    }

    /// Checks the pattern as the compiler will: the first misuse of the builder, duplicate
    /// names, a negative stage at the end, a skip target that is no stage.
    pub fn validate(&self) -> Result<(), PatternError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let mut seen = Vec::new();
        fn names<T>(stages: &[Stage<T>], seen: &mut Vec<String>) -> Result<(), PatternError> {
            for stage in stages {
                match &stage.group {
                    Some(inner) => {
                        if inner.is_empty() {
                            return Err(PatternError::Malformed {
                                stage: "group".into(),
                                reason: "a group needs at least one stage".into(),
                            });
                        }
                        names(inner, seen)?;
                    }
                    None => {
                        if stage.name == ENDING_STATE_NAME || seen.contains(&stage.name) {
                            return Err(PatternError::DuplicateName(stage.name.clone()));
                        }
                        seen.push(stage.name.clone());
                    }
                }
            }
            Ok(())
        }
        names(&self.stages, &mut seen)?;
        let last = self.stages.last().expect("at least one stage");
        if last.contiguity == Contiguity::NotFollow && last.within.is_none() {
            return Err(PatternError::Malformed {
                stage: last.describe(),
                reason: "not_followed_by cannot be the last stage of a pattern without a time window \
                         (Flink refuses it: nothing would ever complete the match); add within(..) \
                         to it or a stage after it"
                    .into(),
            });
        }
        if let Some(target) = self.skip.target_stage() {
            if !seen.iter().any(|name| name == target) {
                return Err(PatternError::UnknownSkipTarget(target.to_string()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misuse_is_reported_with_the_stage() {
        let err =
            Pattern::<i32>::begin("a").followed_by("b").until(Condition::always()).validate().unwrap_err();
        assert!(err.to_string().contains("stage `b`") && err.to_string().contains("looping"), "{err}");
        let err = Pattern::<i32>::begin("a").not_followed_by("b").validate().unwrap_err();
        assert!(err.to_string().contains("not_followed_by cannot be the last"), "{err}");
        assert!(Pattern::<i32>::begin("a").not_followed_by("b").within(10).validate().is_ok());
        let err = Pattern::<i32>::begin("a").followed_by("a").validate().unwrap_err();
        assert_eq!(err, PatternError::DuplicateName("a".into()));
        let err =
            Pattern::<i32>::begin("a").optional().not_next("b").followed_by("c").validate().unwrap_err();
        assert!(err.to_string().contains("optional"), "{err}");
        let err = Pattern::<i32>::begin("a").times(2).one_or_more().validate().unwrap_err();
        assert!(err.to_string().contains("already applied"), "{err}");
        let err = Pattern::<i32>::begin_with_skip("a", AfterMatchSkipStrategy::skip_to_first("zz"))
            .validate()
            .unwrap_err();
        assert_eq!(err, PatternError::UnknownSkipTarget("zz".into()));
        assert!(Pattern::<i32>::begin("a").followed_by("b").within(0).validate().is_err());
    }

    #[test]
    fn times_zero_to_n_is_optional() {
        let pattern = Pattern::<i32>::begin("a").times_range(0, 3);
        let stage = &pattern.stages[0];
        assert!(stage.optional && stage.from == 1 && stage.to == 3);
        assert_eq!(pattern.stage_names(), vec!["a".to_string()]);
    }
}
