//! Evictors: remove elements from a window's contents before or after its function runs.
//! Evicted elements are gone for good. Windows with an evictor keep all their elements
//! (no incremental aggregation).

use std::rc::Rc;

use super::Window;

/// Removes elements, given as (event time, value) in insertion order.
pub trait Evictor<T> {
    /// Runs before the window function.
    fn evict_before(&self, _elements: &mut Vec<(u64, T)>, _window: &Window) {}
    /// Runs after the window function.
    fn evict_after(&self, _elements: &mut Vec<(u64, T)>, _window: &Window) {}
}

/// A built-in evictor: what it removes, and whether it runs before or after the function.
trait Eviction<T> {
    fn after(&self) -> bool;
    fn evict(&self, elements: &mut Vec<(u64, T)>);
}

impl<T, E: Eviction<T>> Evictor<T> for E {
    fn evict_before(&self, elements: &mut Vec<(u64, T)>, _window: &Window) {
        if !self.after() {
            self.evict(elements)
        }
    }
    fn evict_after(&self, elements: &mut Vec<(u64, T)>, _window: &Window) {
        if self.after() {
            self.evict(elements)
        }
    }
}

/// Keeps the `count` most recently added elements.
#[derive(Clone, Copy, Debug)]
pub struct CountEvictor {
    count: usize,
    after: bool,
}

impl CountEvictor {
    /// Evicts before the window function.
    pub fn of(count: u64) -> Self {
        CountEvictor { count: count as usize, after: false }
    }
    /// Evicts after the window function.
    pub fn of_after(count: u64) -> Self {
        CountEvictor { count: count as usize, after: true }
    }
}

impl<T> Eviction<T> for CountEvictor {
    fn after(&self) -> bool {
        self.after
    }
    fn evict(&self, elements: &mut Vec<(u64, T)>) {
        if elements.len() > self.count {
            let excess = elements.len() - self.count;
            elements.drain(..excess);
        }
    }
}

/// Keeps the elements within `window_ms` of the newest element's event time: with `max` the
/// largest event time present, drops elements with `timestamp <= max - window_ms`.
#[derive(Clone, Copy, Debug)]
pub struct TimeEvictor {
    window_ms: u64,
    after: bool,
}

impl TimeEvictor {
    /// Evicts before the window function.
    pub fn of(window_ms: u64) -> Self {
        TimeEvictor { window_ms, after: false }
    }
    /// Evicts after the window function.
    pub fn of_after(window_ms: u64) -> Self {
        TimeEvictor { window_ms, after: true }
    }
}

impl<T> Eviction<T> for TimeEvictor {
    fn after(&self) -> bool {
        self.after
    }
    fn evict(&self, elements: &mut Vec<(u64, T)>) {
        let Some(max) = elements.iter().map(|(timestamp, _)| *timestamp).max() else { return };
        let cutoff = max as i128 - self.window_ms as i128;
        elements.retain(|(timestamp, _)| *timestamp as i128 > cutoff);
    }
}

/// Drops every element whose distance to the most recently added one reaches `threshold`:
/// `distance(element, last) >= threshold`.
pub struct DeltaEvictor<T> {
    threshold: f64,
    distance: Rc<dyn Fn(&T, &T) -> f64>,
    after: bool,
}

impl<T> DeltaEvictor<T> {
    /// Evicts before the window function; `distance(element, last)`.
    pub fn of(threshold: f64, distance: impl Fn(&T, &T) -> f64 + 'static) -> Self {
        DeltaEvictor { threshold, distance: Rc::new(distance), after: false }
    }
    /// Evicts after the window function.
    pub fn of_after(threshold: f64, distance: impl Fn(&T, &T) -> f64 + 'static) -> Self {
        DeltaEvictor { threshold, distance: Rc::new(distance), after: true }
    }
}

impl<T: Clone> Eviction<T> for DeltaEvictor<T> {
    fn after(&self) -> bool {
        self.after
    }
    fn evict(&self, elements: &mut Vec<(u64, T)>) {
        let Some((_, last)) = elements.last().cloned() else { return };
        elements.retain(|(_, element)| (self.distance)(element, &last) < self.threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(values: &[(u64, i64)]) -> Vec<(u64, i64)> {
        values.to_vec()
    }

    #[test]
    fn evictors() {
        let window = Window::global();
        let mut list = elements(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
        CountEvictor::of(3).evict_before(&mut list, &window);
        assert_eq!(list, elements(&[(3, 3), (4, 4), (5, 5)]));
        CountEvictor::of(1).evict_after(&mut list, &window);
        assert_eq!(list.len(), 3, "an evict-before evictor does nothing after");

        let mut list = elements(&[(1000, 1), (2500, 2), (3000, 3), (4000, 4)]);
        TimeEvictor::of(2000).evict_before(&mut list, &window);
        assert_eq!(list, elements(&[(2500, 2), (3000, 3), (4000, 4)]), "drops ts <= 4000 - 2000");

        let mut list = elements(&[(1, 1), (2, 5), (3, 3), (4, 6)]);
        DeltaEvictor::of(3.0, |element: &i64, last: &i64| (*last - *element) as f64)
            .evict_before(&mut list, &window);
        assert_eq!(list, elements(&[(2, 5), (4, 6)]));
    }
}
