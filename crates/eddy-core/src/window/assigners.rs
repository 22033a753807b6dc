//! Window assigners: which windows an element belongs to.
//!
//! # Event time
//! Event-time assigners use the element's timestamp; processing-time assigners use the
//! processing time of the injected clock when the element is applied. Time windows are
//! half-open, `[start, end)`, aligned to `offset` (Flink's arithmetic; times are unsigned
//! milliseconds in eddy).

use std::rc::Rc;

use super::triggers::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger};
use super::Window;

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

/// The window `[start, start + size)`.
fn sized(start: i128, size: u64) -> Window {
    Window::new(start as i64, (start + size as i128) as u64)
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
        vec![sized(window_start(time, self.offset, self.size), self.size)]
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
        let mut windows = Vec::with_capacity((self.size / self.slide) as usize + 1);
        let mut start = window_start(time, self.offset, self.slide);
        while start > time as i128 - self.size as i128 {
            windows.push(sized(start, self.size));
            start -= self.slide as i128;
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

fn tumbling(size_ms: u64, event_time: bool) -> TimeWindows<Tumbling> {
    assert!(size_ms > 0, "window size must be positive");
    TimeWindows { shape: Tumbling { size: size_ms, offset: 0 }, event_time }
}

fn sliding(size_ms: u64, slide_ms: u64, event_time: bool) -> TimeWindows<Sliding> {
    assert!(size_ms > 0 && slide_ms > 0, "window size and slide must be positive");
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
    pub fn of(size_ms: u64) -> TimeWindows<Tumbling> {
        tumbling(size_ms, true)
    }
}

impl TumblingProcessingTimeWindows {
    /// Windows of `size_ms` of processing time.
    pub fn of(size_ms: u64) -> TimeWindows<Tumbling> {
        tumbling(size_ms, false)
    }
}

impl SlidingEventTimeWindows {
    /// Windows of `size_ms` starting every `slide_ms`.
    pub fn of(size_ms: u64, slide_ms: u64) -> TimeWindows<Sliding> {
        sliding(size_ms, slide_ms, true)
    }
}

impl SlidingProcessingTimeWindows {
    /// Windows of `size_ms` of processing time starting every `slide_ms`.
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
        vec![Window::new(start as i64, start.saturating_add((self.gap)(value)))]
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

    proptest! {
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
