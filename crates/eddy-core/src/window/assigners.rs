//! Window assigners: which windows an element belongs to.
//!
//! # Event time
//! Event-time assigners use the element's timestamp; processing-time assigners use the
//! processing time of the injected clock when the element is applied. Time windows are
//! half-open, `[start, end)`, aligned to `offset` (Flink's arithmetic; times are unsigned
//! milliseconds in eddy).
//!
//! Times are in [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE), `0..=i64::MAX`.
//! Window sizes and slides are at most [`MAX_EVENT_TIME`], so a window starts no earlier than
//! `-(size - 1)` and its start always fits `Window::start`'s `i64`. A window that would end
//! after the end of event time is cut there: it ends at [`MAX_WINDOW_END`] (`i64::MAX + 1`),
//! so its max timestamp is `i64::MAX`, like the global window's, and it fires only when the
//! input ends. A time past [`MAX_EVENT_TIME`] belongs to no window of these assigners (the
//! window operator fails the job on such a time before asking them).

use std::rc::Rc;

use super::triggers::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger};
use super::{Window, MAX_WINDOW_END};
use crate::record::MAX_EVENT_TIME;

/// Assigns elements to windows.
pub trait WindowAssigner<T> {
    /// The windows of an element with event time `timestamp`, applied at `processing_time`.
    fn assign_windows(&self, value: &T, timestamp: u64, processing_time: u64) -> Vec<Window>;
    /// Whether windows are in event time (subject to watermarks and allowed lateness).
    fn is_event_time(&self) -> bool;
    /// Whether windows merge when they intersect (sessions). Intersection is inclusive:
    /// `[a, b)` and `[b, c)` merge into `[a, c)`.
    fn is_merging(&self) -> bool {
        false
    }
    /// The trigger used when the user sets none.
    fn default_trigger(&self) -> Box<dyn Trigger<T>>;
}

/// Start of the window of `size` (aligned to `offset`) containing `timestamp`; negative when
/// the window begins before time 0.
pub fn window_start(timestamp: u64, offset: u64, size: u64) -> i128 {
    let offset = (offset % size) as i128;
    let (timestamp, size) = (timestamp as i128, size as i128);
    timestamp - (timestamp - offset + size).rem_euclid(size)
}

/// The window `[start, start + size)`, cut at the end of event time; `None` for a start that
/// no supported time can be in (or that does not fit the window's `i64`).
fn sized(start: i128, size: u64) -> Option<Window> {
    if start > i128::from(MAX_EVENT_TIME) {
        return None;
    }
    let end = (start + i128::from(size)).min(i128::from(MAX_WINDOW_END));
    Some(Window::new(i64::try_from(start).ok()?, u64::try_from(end).ok()?))
}

fn default_time_trigger<T: 'static>(event_time: bool) -> Box<dyn Trigger<T>> {
    if event_time {
        Box::new(EventTimeTrigger::create())
    } else {
        Box::new(ProcessingTimeTrigger::create())
    }
}

/// How a family of time windows places them: the windows containing a time.
pub trait WindowShape {
    /// The windows containing `time`.
    fn windows_at(&self, time: u64) -> Vec<Window>;
}

/// Fixed-size, non-overlapping windows.
#[derive(Clone, Copy, Debug)]
pub struct Tumbling {
    size: u64,
    offset: u64,
}

impl WindowShape for Tumbling {
    fn windows_at(&self, time: u64) -> Vec<Window> {
        if time > MAX_EVENT_TIME {
            return Vec::new();
        }
        sized(window_start(time, self.offset, self.size), self.size).into_iter().collect()
    }
}

/// Fixed-size windows every `slide`; a time belongs to `size / slide` windows.
#[derive(Clone, Copy, Debug)]
pub struct Sliding {
    size: u64,
    slide: u64,
    offset: u64,
}

impl WindowShape for Sliding {
    fn windows_at(&self, time: u64) -> Vec<Window> {
        if time > MAX_EVENT_TIME {
            return Vec::new();
        }
        let capacity = (self.size / self.slide).saturating_add(1).min(1024) as usize;
        let mut windows = Vec::with_capacity(capacity);
        let mut start = window_start(time, self.offset, self.slide);
        while start > i128::from(time) - i128::from(self.size) {
            windows.extend(sized(start, self.size));
            start -= i128::from(self.slide);
        }
        windows
    }
}

/// Time windows of a [`WindowShape`] on event time or processing time.
#[derive(Clone, Copy, Debug)]
pub struct TimeWindows<S> {
    shape: S,
    event_time: bool,
}

impl TimeWindows<Tumbling> {
    /// Shifts window starts by `offset_ms` (e.g. for time zones).
    pub fn with_offset(mut self, offset_ms: u64) -> Self {
        self.shape.offset = offset_ms % self.shape.size;
        self
    }
}

impl TimeWindows<Sliding> {
    /// Shifts window starts by `offset_ms`.
    pub fn with_offset(mut self, offset_ms: u64) -> Self {
        self.shape.offset = offset_ms % self.shape.slide;
        self
    }
}

impl<T: 'static, S: WindowShape> WindowAssigner<T> for TimeWindows<S> {
    fn assign_windows(&self, _value: &T, timestamp: u64, processing_time: u64) -> Vec<Window> {
        self.shape.windows_at(if self.event_time { timestamp } else { processing_time })
    }
    fn is_event_time(&self) -> bool {
        self.event_time
    }
    fn default_trigger(&self) -> Box<dyn Trigger<T>> {
        default_time_trigger(self.event_time)
    }
}

/// Window sizes and slides must lie in `1..=MAX_EVENT_TIME`, so that window starts fit `i64`.
fn check_span(size_ms: u64, slide_ms: u64) {
    assert!(size_ms > 0 && slide_ms > 0, "window size and slide must be positive");
    assert!(
        size_ms <= MAX_EVENT_TIME && slide_ms <= MAX_EVENT_TIME,
        "window size and slide must be at most {MAX_EVENT_TIME} ms (the end of event time), got {size_ms} and {slide_ms}"
    );
}

fn tumbling(size_ms: u64, event_time: bool) -> TimeWindows<Tumbling> {
    check_span(size_ms, size_ms);
    TimeWindows { shape: Tumbling { size: size_ms, offset: 0 }, event_time }
}

fn sliding(size_ms: u64, slide_ms: u64, event_time: bool) -> TimeWindows<Sliding> {
    check_span(size_ms, slide_ms);
    TimeWindows { shape: Sliding { size: size_ms, slide: slide_ms, offset: 0 }, event_time }
}

/// Tumbling windows on event time.
#[derive(Clone, Copy, Debug)]
pub struct TumblingEventTimeWindows;
/// Tumbling windows on processing time.
#[derive(Clone, Copy, Debug)]
pub struct TumblingProcessingTimeWindows;
/// Sliding windows on event time.
#[derive(Clone, Copy, Debug)]
pub struct SlidingEventTimeWindows;
/// Sliding windows on processing time.
#[derive(Clone, Copy, Debug)]
pub struct SlidingProcessingTimeWindows;

impl TumblingEventTimeWindows {
    /// Windows of `size_ms`, aligned to the epoch.
    ///
    /// # Panics
    /// When a size or slide is 0 or larger than [`MAX_EVENT_TIME`].
    pub fn of(size_ms: u64) -> TimeWindows<Tumbling> {
        tumbling(size_ms, true)
    }
}

impl TumblingProcessingTimeWindows {
    /// Windows of `size_ms` of processing time.
    ///
    /// # Panics
    /// When a size or slide is 0 or larger than [`MAX_EVENT_TIME`].
    pub fn of(size_ms: u64) -> TimeWindows<Tumbling> {
        tumbling(size_ms, false)
    }
}

impl SlidingEventTimeWindows {
    /// Windows of `size_ms` starting every `slide_ms`.
    ///
    /// # Panics
    /// When a size or slide is 0 or larger than [`MAX_EVENT_TIME`].
    pub fn of(size_ms: u64, slide_ms: u64) -> TimeWindows<Sliding> {
        sliding(size_ms, slide_ms, true)
    }
}

impl SlidingProcessingTimeWindows {
    /// Windows of `size_ms` of processing time starting every `slide_ms`.
    ///
    /// # Panics
    /// When a size or slide is 0 or larger than [`MAX_EVENT_TIME`].
    pub fn of(size_ms: u64, slide_ms: u64) -> TimeWindows<Sliding> {
        sliding(size_ms, slide_ms, false)
    }
}

/// Session windows: each element opens `[t, t + gap)`, and intersecting windows merge.
pub struct SessionWindows<T> {
    gap: Rc<dyn Fn(&T) -> u64>,
    event_time: bool,
}

impl<T> Clone for SessionWindows<T> {
    fn clone(&self) -> Self {
        SessionWindows { gap: Rc::clone(&self.gap), event_time: self.event_time }
    }
}

/// Session windows on event time.
pub struct EventTimeSessionWindows;
/// Session windows on processing time.
pub struct ProcessingTimeSessionWindows;

impl EventTimeSessionWindows {
    /// Sessions closed by `gap_ms` of event time without elements.
    pub fn with_gap<T>(gap_ms: u64) -> SessionWindows<T> {
        SessionWindows { gap: Rc::new(move |_| gap_ms), event_time: true }
    }
    /// Sessions whose gap each element chooses (a gap of 0 gives the point window `[t, t)`).
    pub fn with_dynamic_gap<T>(gap: impl Fn(&T) -> u64 + 'static) -> SessionWindows<T> {
        SessionWindows { gap: Rc::new(gap), event_time: true }
    }
}

impl ProcessingTimeSessionWindows {
    /// Sessions closed by `gap_ms` of processing time without elements.
    pub fn with_gap<T>(gap_ms: u64) -> SessionWindows<T> {
        SessionWindows { gap: Rc::new(move |_| gap_ms), event_time: false }
    }
    /// Sessions whose gap each element chooses.
    pub fn with_dynamic_gap<T>(gap: impl Fn(&T) -> u64 + 'static) -> SessionWindows<T> {
        SessionWindows { gap: Rc::new(gap), event_time: false }
    }
}

impl<T: 'static> WindowAssigner<T> for SessionWindows<T> {
    fn assign_windows(&self, value: &T, timestamp: u64, processing_time: u64) -> Vec<Window> {
        let start = if self.event_time { timestamp } else { processing_time };
        // Past `MAX_EVENT_TIME` (`i64::MAX`), no window.
        let Ok(signed_start) = i64::try_from(start) else { return Vec::new() };
        vec![Window::new(signed_start, start.saturating_add((self.gap)(value)).min(MAX_WINDOW_END))]
    }
    fn is_event_time(&self) -> bool {
        self.event_time
    }
    fn is_merging(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<T>> {
        default_time_trigger(self.event_time)
    }
}

/// One window per key that never ends; it needs a trigger (count windows use this).
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalWindows;

impl GlobalWindows {
    /// The global window assigner. Its default trigger never fires.
    pub fn create() -> Self {
        GlobalWindows
    }
}

impl<T: 'static> WindowAssigner<T> for GlobalWindows {
    fn assign_windows(&self, _value: &T, _timestamp: u64, _processing_time: u64) -> Vec<Window> {
        vec![Window::global()]
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> Box<dyn Trigger<T>> {
        Box::new(NeverTrigger)
    }
}

/// Merges intersecting windows as Flink's `TimeWindow.mergeWindows` does: sorted by start,
/// each window merges into the running cover when they intersect (inclusively). Returns the
/// merged covers with the windows each absorbed.
pub fn merge_windows(mut windows: Vec<Window>) -> Vec<(Window, Vec<Window>)> {
    windows.sort();
    let mut merged: Vec<(Window, Vec<Window>)> = Vec::new();
    for window in windows {
        match merged.last_mut() {
            Some((cover, members)) if cover.intersects(&window) => {
                *cover = cover.cover(&window);
                members.push(window);
            }
            _ => merged.push((window, vec![window])),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tumbling_and_sliding() {
        let tumbling = TumblingEventTimeWindows::of(3000);
        assert_eq!(WindowAssigner::<()>::assign_windows(&tumbling, &(), 2999, 0), vec![Window::new(0, 3000)]);
        assert_eq!(
            WindowAssigner::<()>::assign_windows(&tumbling, &(), 3000, 0),
            vec![Window::new(3000, 6000)]
        );
        let offset = TumblingEventTimeWindows::of(1000).with_offset(200);
        assert_eq!(WindowAssigner::<()>::assign_windows(&offset, &(), 150, 0), vec![Window::new(-800, 200)]);
        assert_eq!(
            WindowAssigner::<()>::assign_windows(&offset, &(), 1250, 0),
            vec![Window::new(1200, 2200)]
        );
        let sliding = SlidingEventTimeWindows::of(3000, 1000);
        let mut windows = WindowAssigner::<()>::assign_windows(&sliding, &(), 2500, 0);
        windows.sort();
        assert_eq!(windows, vec![Window::new(0, 3000), Window::new(1000, 4000), Window::new(2000, 5000)]);
        // Near zero, windows may start before time 0, as in Flink.
        let mut windows = WindowAssigner::<()>::assign_windows(&sliding, &(), 500, 0);
        windows.sort();
        assert_eq!(windows, vec![Window::new(-2000, 1000), Window::new(-1000, 2000), Window::new(0, 3000)]);
    }

    #[test]
    fn session_merging() {
        let merged =
            merge_windows(vec![Window::new(5, 8), Window::new(0, 3), Window::new(2, 6), Window::new(8, 10)]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].0, Window::new(0, 10));
        let separate = merge_windows(vec![Window::new(0, 3), Window::new(4, 6)]);
        assert_eq!(separate.len(), 2);
        // A point window touching a session merges without extending it.
        let point = merge_windows(vec![Window::new(0, 3000), Window::new(3000, 3000)]);
        assert_eq!(point, vec![(Window::new(0, 3000), vec![Window::new(0, 3000), Window::new(3000, 3000)])]);
    }

    fn assign(assigner: &impl WindowAssigner<()>, timestamp: u64) -> Vec<Window> {
        let mut windows = assigner.assign_windows(&(), timestamp, 0);
        windows.sort();
        windows
    }

    #[test]
    fn windows_end_at_the_end_of_event_time() {
        let top = MAX_EVENT_TIME - MAX_EVENT_TIME % 1000;
        let end_of_time = MAX_EVENT_TIME + 1;
        let tumbling = TumblingEventTimeWindows::of(1000);
        // The last window is cut at the end of event time; its max timestamp is `i64::MAX`.
        assert_eq!(assign(&tumbling, MAX_EVENT_TIME), vec![Window::new(top as i64, end_of_time)]);
        assert_eq!(assign(&tumbling, top - 1), vec![Window::new(top as i64 - 1000, top)]);
        let sliding = SlidingEventTimeWindows::of(3000, 1000);
        assert_eq!(
            assign(&sliding, MAX_EVENT_TIME),
            vec![
                Window::new(top as i64 - 2000, end_of_time),
                Window::new(top as i64 - 1000, end_of_time),
                Window::new(top as i64, end_of_time)
            ]
        );
        let sessions = EventTimeSessionWindows::with_gap(10);
        assert_eq!(assign(&sessions, MAX_EVENT_TIME - 5), vec![Window::new(i64::MAX - 5, end_of_time)]);
        // The largest window size: windows may start far before 0 without wrapping.
        let huge = TumblingEventTimeWindows::of(MAX_EVENT_TIME).with_offset(MAX_EVENT_TIME - 1);
        assert_eq!(assign(&huge, 0), vec![Window::new(-1, MAX_EVENT_TIME - 1)]);
        assert_eq!(assign(&huge, MAX_EVENT_TIME), vec![Window::new(i64::MAX - 1, end_of_time)]);
    }

    #[test]
    fn no_window_past_the_end_of_event_time() {
        // Before, `start as i64` wrapped these into windows that began at negative times.
        for timestamp in [MAX_EVENT_TIME + 1, MAX_EVENT_TIME + 501, u64::MAX] {
            assert_eq!(assign(&TumblingEventTimeWindows::of(1000), timestamp), vec![]);
            assert_eq!(assign(&SlidingEventTimeWindows::of(3000, 1000), timestamp), vec![]);
            assert_eq!(assign(&EventTimeSessionWindows::with_gap(10), timestamp), vec![]);
        }
    }

    #[test]
    #[should_panic(expected = "window size and slide must be at most")]
    fn window_sizes_beyond_event_time_are_rejected() {
        let _ = TumblingEventTimeWindows::of(MAX_EVENT_TIME + 1);
    }

    proptest! {
        /// Near both ends of event time, with sizes up to the largest: every window contains the
        /// element, is aligned, has its size unless cut at the end of event time, and every
        /// aligned start in `(timestamp - size, timestamp]` is present.
        #[test]
        fn assignment_near_the_limits(
            near_end in any::<bool>(),
            distance in 0u64..5_000,
            size in prop_oneof![1u64..5_000, MAX_EVENT_TIME - 5_000..=MAX_EVENT_TIME],
            windows_per_size in 1u64..4,
            offset in any::<u64>(),
        ) {
            let timestamp = if near_end { MAX_EVENT_TIME - distance } else { distance };
            let slide = (size / windows_per_size).max(1);
            let end_of_time = i128::from(MAX_EVENT_TIME) + 1;
            let assigner = SlidingEventTimeWindows::of(size, slide).with_offset(offset);
            let windows = assign(&assigner, timestamp);
            for window in &windows {
                let (start, end) = (i128::from(window.start), i128::from(window.end));
                prop_assert!(start <= i128::from(timestamp) && i128::from(timestamp) < end);
                prop_assert!(end <= end_of_time);
                prop_assert_eq!(end, (start + i128::from(size)).min(end_of_time));
                prop_assert_eq!((start - i128::from(offset % slide)).rem_euclid(i128::from(slide)), 0);
            }
            let first = i128::from(timestamp) - i128::from(size) + 1;
            let (shift, slide_wide) = (i128::from(offset % slide), i128::from(slide));
            let aligned = (i128::from(timestamp) - shift).div_euclid(slide_wide)
                - (first - 1 - shift).div_euclid(slide_wide);
            prop_assert_eq!(windows.len() as i128, aligned);
            let tumbling = TumblingEventTimeWindows::of(size).with_offset(offset);
            let tumbled = assign(&tumbling, timestamp);
            prop_assert_eq!(tumbled.len(), 1);
            prop_assert_eq!(
                i128::from(tumbled[0].start),
                window_start(timestamp, offset, size)
            );
        }

        /// An element belongs exactly to the sliding windows whose range contains it.
        #[test]
        fn sliding_membership(timestamp in 0u64..1_000_000, size in 1u64..5_000, slide in 1u64..5_000, offset in 0u64..5_000) {
            let assigner = SlidingEventTimeWindows::of(size, slide).with_offset(offset);
            let windows = WindowAssigner::<()>::assign_windows(&assigner, &(), timestamp, 0);
            for window in &windows {
                prop_assert!(i128::from(window.start) <= i128::from(timestamp) && timestamp < window.end);
                prop_assert_eq!(i128::from(window.end) - i128::from(window.start), i128::from(size));
                prop_assert_eq!((i128::from(window.start) - offset as i128).rem_euclid(slide as i128), 0);
            }
            // Every aligned start in (timestamp - size, timestamp] is present.
            let expected = (timestamp as i128 - size as i128 + 1..=timestamp as i128)
                .filter(|start| (start - offset as i128).rem_euclid(slide as i128) == 0)
                .count();
            prop_assert_eq!(windows.len(), expected);
        }

        /// Merged sessions are disjoint (not even touching), cover every input window, and each
        /// input window lies in exactly one cover.
        #[test]
        fn session_merge_is_a_partition(spans in proptest::collection::vec((0u64..1_000, 0u64..50), 1..40)) {
            let windows: Vec<Window> = spans.iter().map(|&(start, gap)| Window::new(start as i64, start + gap)).collect();
            let merged = merge_windows(windows.clone());
            for pair in merged.windows(2) {
                prop_assert!(i128::from(pair[0].0.end) < i128::from(pair[1].0.start));
            }
            for window in &windows {
                let covers: Vec<_> = merged.iter().filter(|(cover, _)| cover.start <= window.start && window.end <= cover.end).collect();
                prop_assert_eq!(covers.len(), 1);
                prop_assert!(covers[0].1.contains(window));
            }
            prop_assert_eq!(merged.iter().map(|(_, members)| members.len()).sum::<usize>(), windows.len());
        }
    }
}
