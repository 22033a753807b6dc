//! `nexmark-gen-bench`: how fast the Nexmark generator alone computes events, on one thread.
//! Prints events per second and bytes per second (Beam's size accounting, and the bytes of all
//! string fields including bid channels and URLs). It prints figures and asserts nothing.
//!
//! This program measures real time, so it reads the wall clock directly (the ban on that in
//! `clippy.toml` is for operators).
//!
//! ```text
//! cargo run --release -p eddy-nexmark --bin nexmark-gen-bench -- [events, default 10000000]
//! ```

#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use eddy_nexmark::{Event, NexmarkConfig, NexmarkGenerator};

/// Bytes of all string fields plus 8 per number or time.
fn heap_bytes(event: &Event) -> u64 {
    let strings = match event {
        Event::Person(p) => {
            p.name.len()
                + p.email_address.len()
                + p.credit_card.len()
                + p.city.len()
                + p.state.len()
                + p.extra.len()
        }
        Event::Auction(a) => a.item_name.len() + a.description.len() + a.extra.len(),
        Event::Bid(b) => b.channel.len() + b.url.len() + b.extra.len(),
    };
    let numbers = match event {
        Event::Person(_) => 2,
        Event::Auction(_) => 7,
        Event::Bid(_) => 4,
    };
    strings as u64 + numbers * 8
}

fn main() {
    let events: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().unwrap_or_else(|_| {
            eprintln!("usage: nexmark-gen-bench [events]");
            std::process::exit(2)
        }),
        None => 10_000_000,
    };
    let generator = NexmarkGenerator::new(NexmarkConfig::default());
    // Build the channel table outside the timed loop.
    black_box(generator.event(4));

    let start = Instant::now();
    let mut model_bytes = 0u64;
    let mut all_bytes = 0u64;
    for n in 0..events {
        let event = black_box(generator.event(n));
        model_bytes += event.size_in_bytes();
        all_bytes += heap_bytes(&event);
    }
    let seconds = start.elapsed().as_secs_f64();

    let per_second = events as f64 / seconds;
    println!("nexmark generator, 1 thread: {events} events in {seconds:.3} s");
    println!("  {:.2} M events/s", per_second / 1e6);
    println!(
        "  {:.1} MB/s in Beam's size accounting ({:.1} bytes/event)",
        model_bytes as f64 / seconds / 1e6,
        model_bytes as f64 / events as f64
    );
    println!(
        "  {:.1} MB/s of fields incl. bid channel and url ({:.1} bytes/event)",
        all_bytes as f64 / seconds / 1e6,
        all_bytes as f64 / events as f64
    );
}
