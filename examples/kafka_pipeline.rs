//! The Kafka pipeline example; see `eddy_examples::kafka` (examples/kafka.rs).
//!
//! ```text
//! BROKERS=$(scripts/kafka.sh start | tail -1)
//! cargo run --release --example kafka_pipeline -- --brokers $BROKERS --input-topic events \
//!     --output-topic windows --checkpoint-dir chk --checkpoint-interval 1s --workers 2
//! ```

fn main() -> std::process::ExitCode {
    eddy_examples::kafka::main()
}
