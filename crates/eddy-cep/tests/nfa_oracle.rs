//! The NFA against a brute-force reference matcher: for random small patterns (stages with
//! `x == v` conditions, the quantifiers `one`, `one_or_more`, `times(n)`, `times(a, b)`,
//! `times_or_more(n)`, `optional`, and strict / relaxed / non-deterministic relaxed contiguity
//! between and inside stages) and random inputs, the NFA's matches must be exactly the
//! reference's, as a multiset of stage assignments.
//!
//! The reference enumerates every assignment of increasing event positions to the stages and
//! keeps those that the contiguity rules allow: between two taken events, the skipped events
//! are limited by the stage's inner contiguity inside a loop, else by the contiguity of the
//! stage being entered (strict: none may be skipped; relaxed: none that satisfies the entered
//! stage; non-deterministic: any). Each assignment is one match. With a window (`within(w)`,
//! events at their positions as timestamps) a match must end less than `w` after it began.

use eddy_cep::{Nfa, Pattern};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Contiguity {
    Strict,
    Relaxed,
    Any,
}

#[derive(Clone, Debug)]
struct StageShape {
    value: u8,
    min: u32,
    max: Option<u32>,
    optional: bool,
    contiguity: Contiguity,
    inner: Contiguity,
    /// How the quantifier is written: 0 one, 1 one_or_more, 2 times(n), 3 times(a, b), 4 times_or_more(n).
    form: u8,
}

#[derive(Clone, Copy, Debug)]
struct Ev {
    position: usize,
    value: u8,
}

fn random_shape(rng: &mut SmallRng) -> Vec<StageShape> {
    let stages = rng.gen_range(1..=3);
    (0..stages)
        .map(|i| {
            let form = rng.gen_range(0..5u8);
            let (min, max) = match form {
                0 => (1, Some(1)),
                1 => (1, None),
                2 => {
                    let n = rng.gen_range(1..=3);
                    (n, Some(n))
                }
                3 => {
                    let a = rng.gen_range(1..=2);
                    (a, Some(a + rng.gen_range(1..=2)))
                }
                _ => (2, None),
            };
            let pick = |rng: &mut SmallRng| match rng.gen_range(0..3) {
                0 => Contiguity::Strict,
                1 => Contiguity::Relaxed,
                _ => Contiguity::Any,
            };
            StageShape {
                value: rng.gen_range(0..3),
                min,
                max,
                // An optional first stage alone would match nothing; keep it for longer patterns.
                optional: stages > 1 && rng.gen_bool(0.3),
                contiguity: if i == 0 { Contiguity::Relaxed } else { pick(rng) },
                inner: if form == 0 { Contiguity::Relaxed } else { pick(rng) },
                form,
            }
        })
        .collect()
}

fn build(shape: &[StageShape], window: Option<i64>) -> Pattern<Ev> {
    let mut pattern: Option<Pattern<Ev>> = None;
    for (i, stage) in shape.iter().enumerate() {
        let name = format!("s{i}");
        let mut p = match (pattern, stage.contiguity) {
            (None, _) => Pattern::begin(name),
            (Some(p), Contiguity::Strict) => p.next(name),
            (Some(p), Contiguity::Relaxed) => p.followed_by(name),
            (Some(p), Contiguity::Any) => p.followed_by_any(name),
        };
        let value = stage.value;
        p = p.where_fn(move |e: &Ev| e.value == value);
        p = match stage.form {
            0 => p,
            1 => p.one_or_more(),
            2 => p.times(stage.min),
            3 => p.times_range(stage.min, stage.max.expect("bounded")),
            _ => p.times_or_more(stage.min),
        };
        if stage.optional {
            p = p.optional();
        }
        p = match (stage.form, stage.inner) {
            (0, _) | (_, Contiguity::Relaxed) => p,
            (_, Contiguity::Strict) => p.consecutive(),
            (_, Contiguity::Any) => p.allow_combinations(),
        };
        pattern = Some(p);
    }
    let pattern = pattern.expect("at least one stage");
    match window {
        Some(window) => pattern.within(window),
        None => pattern,
    }
}

/// A match as `stage index -> positions`, stages without events left out.
type Assignment = Vec<(usize, Vec<usize>)>;

fn skipped_ok(input: &[Ev], from: usize, to: usize, contiguity: Contiguity, value: u8) -> bool {
    let between = &input[from + 1..to];
    match contiguity {
        Contiguity::Strict => between.is_empty(),
        Contiguity::Relaxed => between.iter().all(|e| e.value != value),
        Contiguity::Any => true,
    }
}

fn reference(shape: &[StageShape], input: &[Ev]) -> Vec<Assignment> {
    fn stage(
        shape: &[StageShape],
        input: &[Ev],
        i: usize,
        last: Option<usize>,
        so_far: &mut Assignment,
        out: &mut Vec<Assignment>,
    ) {
        if i == shape.len() {
            if !so_far.is_empty() {
                out.push(so_far.clone());
            }
            return;
        }
        let s = &shape[i];
        if s.optional {
            stage(shape, input, i + 1, last, so_far, out);
        }
        let max = s.max.map_or(input.len(), |m| m as usize);
        // Choose the positions of this stage's events one by one.
        fn take(
            shape: &[StageShape],
            input: &[Ev],
            i: usize,
            last: Option<usize>,
            taken: &mut Vec<usize>,
            max: usize,
            so_far: &mut Assignment,
            out: &mut Vec<Assignment>,
        ) {
            let s = &shape[i];
            if taken.len() >= s.min as usize {
                so_far.push((i, taken.clone()));
                stage(shape, input, i + 1, taken.last().copied(), so_far, out);
                so_far.pop();
            }
            if taken.len() == max {
                return;
            }
            let start = taken.last().or(last.as_ref()).map_or(0, |p| p + 1);
            for position in start..input.len() {
                if input[position].value != s.value {
                    continue;
                }
                let allowed = match (taken.last(), last) {
                    (Some(&previous), _) => skipped_ok(input, previous, position, s.inner, s.value),
                    (None, Some(previous)) => skipped_ok(input, previous, position, s.contiguity, s.value),
                    (None, None) => true,
                };
                if allowed {
                    taken.push(position);
                    take(shape, input, i, last, taken, max, so_far, out);
                    taken.pop();
                }
            }
        }
        take(shape, input, i, last, &mut Vec::new(), max, so_far, out);
    }
    let mut out = Vec::new();
    stage(shape, input, 0, None, &mut Vec::new(), &mut out);
    out
}

fn run_nfa(shape: &[StageShape], window: Option<i64>, input: &[Ev]) -> Vec<Assignment> {
    let nfa = Nfa::compile(&build(shape, window), false).expect("valid pattern");
    let mut state = nfa.initial_state();
    let mut out = Vec::new();
    for event in input {
        nfa.advance_time(&mut state, event.position as i64).expect("no skip errors");
        for found in nfa.process(&mut state, *event, event.position as i64, 0).expect("no skip errors") {
            let assignment: Assignment = found
                .stages
                .iter()
                .filter(|(_, events)| !events.is_empty())
                .map(|(name, events)| {
                    (
                        name[1..].parse().expect("stage names are s<i>"),
                        events.iter().map(|e| e.position).collect(),
                    )
                })
                .collect();
            out.push(assignment);
        }
    }
    out
}

#[test]
fn nfa_agrees_with_brute_force_on_random_patterns_and_inputs() {
    let mut rng = SmallRng::seed_from_u64(21);
    let mut compared_matches = 0;
    for round in 0..1500 {
        let shape = random_shape(&mut rng);
        let len = rng.gen_range(0..=8);
        let input: Vec<Ev> = (0..len).map(|position| Ev { position, value: rng.gen_range(0..3) }).collect();
        let window = if rng.gen_bool(0.4) { Some(rng.gen_range(1..=5i64)) } else { None };
        let mut expected = reference(&shape, &input);
        if let Some(window) = window {
            expected.retain(|assignment| {
                let first = assignment.first().and_then(|(_, p)| p.first()).copied().unwrap_or(0);
                let last = assignment.last().and_then(|(_, p)| p.last()).copied().unwrap_or(0);
                ((last - first) as i64) < window
            });
        }
        let mut actual = run_nfa(&shape, window, &input);
        expected.sort();
        actual.sort();
        let values: Vec<u8> = input.iter().map(|e| e.value).collect();
        assert_eq!(actual, expected, "round {round}: shape {shape:#?} window {window:?} input {values:?}");
        compared_matches += expected.len();
    }
    assert!(compared_matches > 1000, "the rounds found matches to compare ({compared_matches})");
}

#[test]
fn shared_buffer_is_empty_once_nothing_can_complete() {
    // Every partial match of `a+ b` (all strict) ends at the first non-a, non-b event: after
    // it, the buffer must hold nothing.
    let pattern = Pattern::<Ev>::begin("a")
        .where_fn(|e: &Ev| e.value == 0)
        .one_or_more()
        .consecutive()
        .next("b")
        .where_fn(|e: &Ev| e.value == 1);
    let nfa = Nfa::compile(&pattern, false).unwrap();
    let mut state = nfa.initial_state();
    for (position, value) in [0u8, 0, 0, 2].into_iter().enumerate() {
        nfa.process(&mut state, Ev { position, value }, position as i64, 0).unwrap();
    }
    assert!(state.buffer().is_empty(), "{} events left", state.buffer().event_count());
    assert!(state.is_idle());
}
