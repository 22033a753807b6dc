//! The checkpointed pipeline example; see `eddy_examples::checkpointed` (examples/checkpointed.rs).
//!
//! ```text
//! cargo run --release --example checkpointed_pipeline -- --input in/ --output out/ \
//!     --checkpoint-dir chk/ --checkpoint-interval 1s --workers 2 [--restore latest]
//! ```

fn main() -> std::process::ExitCode {
    eddy_examples::checkpointed::main()
}
