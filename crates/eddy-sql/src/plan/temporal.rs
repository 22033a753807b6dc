//! Which version of the right side a [`Plan::TemporalJoin`](super::Plan::TemporalJoin) row
//! meets (`FOR SYSTEM_TIME AS OF`).

/// The time a temporal join's left rows look up the right side at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TemporalTime {
    /// `AS OF` a processing-time attribute (`PROCTIME()`): a lookup join. A left row meets
    /// the right side's rows as they are at the row's logical time (every right update at or
    /// before it, none after); later changes of the right side do not change results already
    /// given. In eddy the logical time stands for the wall clock, so the result depends on
    /// the inputs' logical times only.
    Processing,
    /// `AS OF` an event-time attribute: the right side is a versioned table (a primary key and
    /// a rowtime), and a left row meets, per primary key, the version whose rowtime is the
    /// latest at or before the left row's time. Results are final once the frontier passes the
    /// left row's time; versions that no later left row can meet are dropped.
    Event {
        /// The left column holding the row's time (`TIMESTAMP`).
        probe: usize,
        /// The right column holding a version's rowtime (`TIMESTAMP`).
        version: usize,
        /// The right side's primary key columns.
        key: Vec<usize>,
    },
}

impl TemporalTime {
    /// The mode's columns with the left ones mapped by `left` and the right ones by `right`.
    pub fn remapped(&self, left: impl Fn(usize) -> usize, right: impl Fn(usize) -> usize) -> TemporalTime {
        match self {
            TemporalTime::Processing => TemporalTime::Processing,
            TemporalTime::Event { probe, version, key } => TemporalTime::Event {
                probe: left(*probe),
                version: right(*version),
                key: key.iter().map(|c| right(*c)).collect(),
            },
        }
    }
}
