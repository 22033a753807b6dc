//! Random input for oracle tests, and the logical times a source gives it.
//!
//! An oracle test runs random, out-of-order input through the real job at several worker counts
//! and compares with a single-threaded reference computation. The reference needs each record's
//! logical time: for bounded out-of-orderness that is the record's split's watermark *before*
//! the record, advanced every `emit_every` records ([`logical_times`]). The same seed gives the
//! same input.

use rand::seq::SliceRandom;
use rand::Rng;

/// `splits` partitions of `per_split` timestamps each: the unique timestamps `1, 1 + step,
/// 1 + 2 * step, ...` dealt to the partitions at random, each partition sorted.
pub fn unique_timestamps(rng: &mut impl Rng, splits: usize, per_split: usize, step: u64) -> Vec<Vec<u64>> {
    let mut timestamps: Vec<u64> = (0..(splits * per_split) as u64).map(|index| index * step + 1).collect();
    timestamps.shuffle(rng);
    (0..splits)
        .map(|split| {
            let mut mine = timestamps[split * per_split..(split + 1) * per_split].to_vec();
            mine.sort();
            mine
        })
        .collect()
}

/// How far [`disorder`] moves records: each one swaps with one of the next `near` (including
/// itself), or with probability `far_probability` one of the next `far` (a late record).
#[derive(Clone, Copy, Debug)]
pub struct Disorder {
    /// The usual reach of a swap.
    pub near: usize,
    /// The reach of a far swap.
    pub far: usize,
    /// How often a swap reaches far.
    pub far_probability: f64,
}

impl Default for Disorder {
    /// Reach 4, and 40 for one record in twenty.
    fn default() -> Self {
        Disorder { near: 4, far: 40, far_probability: 0.05 }
    }
}

/// Puts sorted `items` out of order locally, sometimes far (late data), in place.
pub fn disorder<T>(rng: &mut impl Rng, items: &mut [T], how: Disorder) {
    for index in 0..items.len() {
        let reach = if rng.gen_bool(how.far_probability) { how.far } else { how.near };
        let other = (index + rng.gen_range(0..reach)).min(items.len() - 1);
        items.swap(index, other);
    }
}

/// The logical time of each record of one split with these event times: the split's watermark
/// before the record, under bounded out-of-orderness `delay` advanced every `emit_every`
/// records (`WatermarkStrategy::bounded_out_of_orderness(delay).with_emit_every(emit_every)`).
pub fn logical_times(timestamps: impl IntoIterator<Item = u64>, delay: u64, emit_every: u64) -> Vec<u64> {
    let (mut watermark, mut max, mut since) = (0u64, 0u64, 0u64);
    timestamps
        .into_iter()
        .map(|ts| {
            let carried = watermark;
            max = max.max(ts);
            since += 1;
            if since >= emit_every {
                since = 0;
                watermark = watermark.max(max.saturating_sub(delay));
            }
            carried
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn timestamps_are_unique_and_disorder_keeps_them() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut partitions = unique_timestamps(&mut rng, 3, 50, 3);
        for partition in &mut partitions {
            assert!(partition.is_sorted());
            disorder(&mut rng, partition, Disorder::default());
        }
        let mut all: Vec<u64> = partitions.concat();
        all.sort();
        assert_eq!(all, (0..150).map(|index| index * 3 + 1).collect::<Vec<_>>());
    }

    #[test]
    fn a_record_is_carried_at_the_watermark_before_it() {
        assert_eq!(logical_times([10, 30, 20, 50, 40], 5, 2), [0, 0, 25, 25, 45]);
    }
}
