//! Prints what checkpoint writes and reads cost on the local file system and on an S3 server:
//! small parts (a keyed part of a few keys), 1 MiB parts, a 32 MiB part (a multipart upload on
//! S3) and create-only manifests, each written then read back, with the time per object and
//! the throughput. A program that prints figures, not a test.
//!
//! `cargo run --release -p eddy-objectstore --example storage_bench -- ENDPOINT [DIR]`, where
//! ENDPOINT is an S3 API server that takes unsigned bucket creation (`scripts/moto.sh start`
//! prints one) and DIR a directory on the local disk to compare with (default: a temporary one).

use eddy_core::checkpoint::storage::{LocalStorage, Storage};
use eddy_core::time::{Clock, SystemClock};
use eddy_objectstore::{configured, S3Storage};
use eddy_testkit::s3;

fn measure(name: &str, storage: &dyn Storage, prefix: &str) {
    for (what, count, size) in
        [("4 KiB parts", 200, 4 << 10), ("1 MiB parts", 32, 1 << 20), ("32 MiB part", 2, 32 << 20)]
    {
        let bytes: Vec<u8> = (0..size).map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let start = SystemClock.now_ms();
        for n in 0..count {
            storage.put(&format!("{prefix}/{what}/{n}.part"), &bytes).unwrap();
        }
        let written = SystemClock.now_ms() - start;
        let start = SystemClock.now_ms();
        for n in 0..count {
            assert_eq!(storage.get(&format!("{prefix}/{what}/{n}.part")).unwrap().unwrap().len(), size);
        }
        let read = SystemClock.now_ms() - start;
        let megabytes = (count * size) as f64 / (1 << 20) as f64;
        let rate = |ms: u64| megabytes / (ms.max(1) as f64 / 1000.0);
        println!(
            "{name:5} {what:12} put {:7.2} ms each ({:7.1} MiB/s)   get {:7.2} ms each ({:7.1} MiB/s)",
            written as f64 / count as f64,
            rate(written),
            read as f64 / count as f64,
            rate(read)
        );
    }
    let start = SystemClock.now_ms();
    for n in 0..100 {
        storage
            .put_new(&format!("{prefix}/manifests/{n}/_manifest.json"), b"{\"format\":\"eddy-checkpoint\"}")
            .unwrap();
    }
    println!(
        "{name:5} {:12} put_new {:5.2} ms each",
        "manifests",
        (SystemClock.now_ms() - start) as f64 / 100.0
    );
    storage.delete_all(prefix).unwrap();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().expect("usage: storage_bench ENDPOINT [DIR]");
    let local = match args.next() {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("eddy-storage-bench-{}", std::process::id())),
    };
    measure("local", &LocalStorage, local.to_str().unwrap());
    let bucket = s3::new_bucket(&endpoint, "bench");
    let config: Vec<(String, String)> =
        s3::environment(&endpoint).into_iter().map(|(key, value)| (key.to_owned(), value)).collect();
    let storage = S3Storage::open_with(configured(&config).unwrap(), &bucket).unwrap();
    measure("s3", &storage, "bench");
}
