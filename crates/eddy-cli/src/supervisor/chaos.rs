//! Fault injection: [`Chaos`] kills random processes of the job, with seeded, reproducible
//! choices.

use std::time::Duration;

/// Fault injection: kills random processes of the job (SIGKILL), one per attempt at most, to
/// exercise recovery.
///
/// A chaos kill ends the attempt like a failure, and the job restarts after the usual back-off,
/// but the kill does not use up the restart budget: `restart_attempts` limits genuine failures.
#[derive(Clone, Debug)]
pub struct Chaos {
    /// How many processes to kill, in total over all attempts.
    pub kills: u32,
    /// The earliest a kill happens after an attempt starts.
    pub min_interval: Duration,
    /// The latest a kill happens after an attempt starts.
    pub max_interval: Duration,
    /// The seed of the random delays and victims: the same seed makes the same choices.
    pub seed: u64,
}

/// A small seeded random number generator (SplitMix64): chaos needs reproducible choices, not
/// good randomness.
#[derive(Clone, Debug)]
pub(super) struct SplitMix64(pub(super) u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0); the modulo bias is irrelevant here.
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// Chaos as it goes: the kills left and the random choices.
pub(super) struct ChaosState {
    pub(super) random: SplitMix64,
    pub(super) kills_left: u32,
    pub(super) config: Chaos,
}

impl ChaosState {
    /// When to kill a process of an attempt started at `started_ms`, if kills are left.
    pub(super) fn deadline(&mut self, started_ms: u64) -> Option<u64> {
        if self.kills_left == 0 {
            return None;
        }
        let min = self.config.min_interval.as_millis() as u64;
        let max = self.config.max_interval.as_millis() as u64;
        Some(started_ms + min + self.random.below(max - min + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_choices_are_seeded() {
        let config = Chaos {
            kills: 3,
            min_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(20),
            seed: 42,
        };
        let deadlines = |seed| {
            let mut chaos = ChaosState {
                random: SplitMix64(seed),
                kills_left: 3,
                config: Chaos { seed, ..config.clone() },
            };
            (0..50).map(|_| chaos.deadline(1000).unwrap()).collect::<Vec<_>>()
        };
        let first = deadlines(42);
        assert_eq!(first, deadlines(42));
        assert_ne!(first, deadlines(43));
        assert!(first.iter().all(|deadline| (1010..=1020).contains(deadline)));
        assert!(first.contains(&1010) && first.contains(&1020));
    }
}
