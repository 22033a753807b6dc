//! The Kafka pipeline as a binary target, so tests can start it as a child process
//! (`cargo run --example kafka_pipeline` runs the same code).

fn main() -> std::process::ExitCode {
    eddy_examples::kafka::main()
}
