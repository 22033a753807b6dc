//! Conditions of a pattern stage: closures over the event under test and a view of the partial
//! match it would extend (Flink's `SimpleCondition` / `IterativeCondition`), combined with
//! `and`, `or` and `not`.

use std::fmt;
use std::sync::Arc;

/// What a condition sees besides the event: the partial match being extended and time.
pub trait MatchView<T> {
    /// The events the partial match has already assigned to `stage`, in order (Flink's
    /// `ctx.getEventsForPattern(stage)`). Empty when the stage has none.
    fn events(&self, stage: &str) -> Vec<&T>;
    /// Every event of the partial match with its stage, in order (stages in the order they were
    /// entered, which is time order): what SQL's `PREV`, `FIRST`, `LAST` without a variable
    /// read.
    fn all_events(&self) -> Vec<(&str, &T)>;
    /// The event time of the event under test (Flink's `ctx.timestamp()`).
    fn timestamp(&self) -> i64;
    /// The processing time when the event is processed (Flink's `ctx.currentProcessingTime()`).
    fn current_processing_time(&self) -> i64;
}

type Predicate<T> = dyn Fn(&T, &dyn MatchView<T>) -> bool + Send + Sync;

/// A condition over an event and the partial match it would extend. Cheap to clone.
pub struct Condition<T> {
    node: Arc<Node<T>>,
}

enum Node<T> {
    True,
    Fn(Box<Predicate<T>>),
    Not(Condition<T>),
    And(Condition<T>, Condition<T>),
    Or(Condition<T>, Condition<T>),
}

impl<T> Clone for Condition<T> {
    fn clone(&self) -> Self {
        Condition { node: Arc::clone(&self.node) }
    }
}

impl<T> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.node {
            Node::True => write!(f, "true"),
            Node::Fn(_) => write!(f, "fn"),
            Node::Not(c) => write!(f, "!({c:?})"),
            Node::And(a, b) => write!(f, "({a:?} && {b:?})"),
            Node::Or(a, b) => write!(f, "({a:?} || {b:?})"),
        }
    }
}

impl<T> Condition<T> {
    /// A condition every event satisfies.
    pub fn always() -> Self {
        Condition { node: Arc::new(Node::True) }
    }

    /// A simple condition over the event alone (Flink's `SimpleCondition`).
    pub fn simple(f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        Condition { node: Arc::new(Node::Fn(Box::new(move |event, _| f(event)))) }
    }

    /// An iterative condition that also sees the partial match (Flink's `IterativeCondition`).
    pub fn iterative(f: impl Fn(&T, &dyn MatchView<T>) -> bool + Send + Sync + 'static) -> Self {
        Condition { node: Arc::new(Node::Fn(Box::new(f))) }
    }

    /// Both conditions, the left one first (short-circuit).
    pub fn and(self, other: Condition<T>) -> Self {
        Condition { node: Arc::new(Node::And(self, other)) }
    }

    /// Either condition, the left one first (short-circuit).
    pub fn or(self, other: Condition<T>) -> Self {
        Condition { node: Arc::new(Node::Or(self, other)) }
    }

    /// The negation.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Condition { node: Arc::new(Node::Not(self)) }
    }

    /// Evaluates the condition.
    pub fn test(&self, event: &T, view: &dyn MatchView<T>) -> bool {
        match &*self.node {
            Node::True => true,
            Node::Fn(f) => f(event, view),
            Node::Not(c) => !c.test(event, view),
            Node::And(a, b) => a.test(event, view) && b.test(event, view),
            Node::Or(a, b) => a.test(event, view) || b.test(event, view),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoMatch;
    impl MatchView<i32> for NoMatch {
        fn events(&self, _: &str) -> Vec<&i32> {
            Vec::new()
        }
        fn all_events(&self) -> Vec<(&str, &i32)> {
            Vec::new()
        }
        fn timestamp(&self) -> i64 {
            7
        }
        fn current_processing_time(&self) -> i64 {
            0
        }
    }

    #[test]
    fn combinators_evaluate_like_boolean_logic() {
        let even = Condition::simple(|x: &i32| x % 2 == 0);
        let big = Condition::simple(|x: &i32| *x > 10);
        let both = even.clone().and(big.clone());
        let either = even.clone().or(big.clone());
        let odd = even.clone().not();
        assert!(both.test(&12, &NoMatch) && !both.test(&4, &NoMatch));
        assert!(either.test(&4, &NoMatch) && either.test(&11, &NoMatch) && !either.test(&3, &NoMatch));
        assert!(odd.test(&3, &NoMatch) && !odd.test(&2, &NoMatch));
        assert!(Condition::<i32>::always().test(&0, &NoMatch));
        let at_seven = Condition::iterative(|_: &i32, view: &dyn MatchView<i32>| view.timestamp() == 7);
        assert!(at_seven.test(&0, &NoMatch));
    }
}
