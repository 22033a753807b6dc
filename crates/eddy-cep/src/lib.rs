//! Complex event processing for eddy, with Flink CEP's semantics.
//!
//! * [`Pattern`]: the Pattern API (stages, conditions, quantifiers, contiguity, groups,
//!   `within`, after-match skip strategies).
//! * [`Nfa`]: the pattern compiled into an automaton over a [`SharedBuffer`] of partial
//!   matches; [`NfaState`] is everything it changes, so it can be kept per key and checkpointed.
//! * [`CepStream`] (via [`PatternStreamExt::pattern`]): the operator on keyed and non-keyed
//!   streams: input buffered and processed in event-time order by watermark, late events and
//!   timed-out partial matches to side outputs, select / flat_select / process over matches.
//!
//! # A programmatic front end
//! The SQL layer's `MATCH_RECOGNIZE` compiles onto the same engine: conditions are closures
//! over the event and a [`MatchView`] of the partial match (`PREV`, `FIRST`, aggregates), a
//! pattern is built stage by stage over any row type, and measures are computed from a
//! [`Match`].

pub mod buffer;
pub mod compiler;
pub mod condition;
pub mod nfa;
pub mod operator;
pub mod pattern;

pub use buffer::{DeweyNumber, EventId, SharedBuffer};
pub use condition::{Condition, MatchView};
pub use nfa::{Advanced, Match, Nfa, NfaState, TimedOut};
pub use operator::{CepStream, PatternStreamExt};
pub use pattern::{AfterMatchSkipStrategy, Contiguity, Pattern, WithinType};

/// A pattern the builder or compiler refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A misuse of the builder, at a stage.
    #[error("malformed pattern at {stage}: {reason}")]
    Malformed {
        /// The stage (or group) where it happened.
        stage: String,
        /// Why.
        reason: String,
    },
    /// Two stages have one name (stage names identify a match's events).
    #[error("duplicate stage name `{0}`: every stage of a pattern needs a unique name")]
    DuplicateName(String),
    /// A skip-to strategy names a stage the pattern does not have.
    #[error("the after-match skip strategy names stage `{0}`, which is not in the pattern")]
    UnknownSkipTarget(String),
}

/// A failure while matching.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// `skip_to_first/last(stage).throw_exception_on_miss()` and a match without that stage.
    #[error("could not skip to stage `{stage}`: the match has no event for it")]
    SkipTargetNotInMatch {
        /// The target stage.
        stage: String,
    },
    /// `throw_exception_on_miss()` and the skip target is the match's first event (skipping to
    /// it would find the same match again forever).
    #[error("could not skip to the first element of a match (skip target `{stage}`)")]
    SkipToFirstElementOfMatch {
        /// The target stage.
        stage: String,
    },
}

impl From<MatchError> for eddy_core::Error {
    fn from(error: MatchError) -> Self {
        eddy_core::Error::User(error.to_string())
    }
}
