//! Typed side outputs: an operator emits records of other types under an [`OutputTag`], and
//! the consumer picks them out with `DataStream::side_output`.
//!
//! An operator has one extra timely output carrying all its side records, type-erased. Side
//! records never cross a worker boundary in erased form: `side_output` recovers the typed
//! stream on the producing worker, and only the typed stream may then be exchanged.

use std::any::Any;
use std::marker::PhantomData;

use crate::hash::{key_hash, mix};

/// Names a side output of type `T`.
///
/// ```
/// use eddy_core::side_output::OutputTag;
/// let late: OutputTag<String> = OutputTag::new("late-clicks");
/// assert_eq!(late.name(), "late-clicks");
/// ```
pub struct OutputTag<T> {
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for OutputTag<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for OutputTag<T> {}

impl<T: 'static> OutputTag<T> {
    /// A tag with the given name. Tags with the same name and type are the same tag.
    pub const fn new(name: &'static str) -> Self {
        OutputTag { name, _type: PhantomData }
    }

    /// The tag's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The identity of the tag: its name and value type. Two tags of one name but different
    /// types never match.
    pub(crate) fn id(&self) -> u64 {
        mix(key_hash(self.name), key_hash(std::any::type_name::<T>()))
    }
}

/// A side record's value, type-erased but cloneable (streams may be consumed more than once).
pub(crate) trait SideValue: Any {
    fn clone_box(&self) -> Box<dyn SideValue>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Clone + 'static> SideValue for T {
    fn clone_box(&self) -> Box<dyn SideValue> {
        Box::new(self.clone())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// One side record: the tag it was emitted under and its erased value.
pub(crate) struct SideRecord {
    pub(crate) tag_id: u64,
    pub(crate) value: Box<dyn SideValue>,
}

impl Clone for SideRecord {
    fn clone(&self) -> Self {
        SideRecord { tag_id: self.tag_id, value: self.value.clone_box() }
    }
}

impl SideRecord {
    pub(crate) fn new<T: Clone + 'static>(tag: &OutputTag<T>, value: T) -> Self {
        SideRecord { tag_id: tag.id(), value: Box::new(value) }
    }

    /// The typed value, if this record was emitted under a tag of type `T`.
    pub(crate) fn downcast<T: 'static>(self) -> Option<T> {
        self.value.into_any().downcast::<T>().ok().map(|boxed| *boxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_typed() {
        let a: OutputTag<u64> = OutputTag::new("x");
        let b: OutputTag<String> = OutputTag::new("x");
        assert_ne!(a.id(), b.id());
        let record = SideRecord::new(&a, 5u64);
        assert_eq!(record.tag_id, a.id());
        assert_eq!(record.clone().downcast::<u64>(), Some(5));
        assert_eq!(record.downcast::<String>(), None);
    }
}
