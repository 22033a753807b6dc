//! End-to-end checks of the DataStream API on small inputs.

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;

#[test]
fn rolling_sum_per_key() {
    for workers in [1, 2, 4] {
        let (sink, handle) = CollectSink::new();
        Job::new(JobConfig::with_workers(workers))
            .run(move |env| {
                let source =
                    CollectionSource::new(vec![('a', 1u64, 10u64), ('b', 2, 20), ('a', 3, 30), ('a', 4, 40)]);
                let stream = env.from_source(
                    source,
                    WatermarkStrategy::monotonous_timestamps().with_timestamps(|(_, ts, _)| *ts),
                );
                let summed = stream.key_by(|(key, _, _)| *key).sum(|(_, _, value)| *value);
                summed.sink(sink.clone());
                Ok(())
            })
            .unwrap();
        let mut values = handle.values();
        values.sort();
        assert_eq!(values, vec![('a', 10), ('a', 40), ('a', 80), ('b', 20)], "workers = {workers}");
    }
}
