//! The checkpointed pipeline with its checkpoints on S3 (`--checkpoint-dir s3://bucket/job`,
//! against moto's server, started by `scripts/moto.sh`): `kill -9` at random moments and aborts
//! at steps of the checkpoint protocol, restored from S3 at other worker counts, must leave
//! exactly the committed output of a run without failures; a missing bucket and refused
//! credentials fail the job at start with a message saying so.

mod common;

use common::{assert_exactly_once, command, committed, finish, kill_at_random_moments, run, setup, setup_s3};
use eddy::core::checkpoint::store::{is_complete, list_checkpoints, read_manifest};
use eddy_testkit::s3;

#[test]
fn kill_9_with_checkpoints_on_s3_loses_and_duplicates_nothing() {
    let Some(endpoint) = s3::endpoint() else { return };
    let setup = setup_s3(&endpoint);
    kill_at_random_moments(&setup, &[2, 3, 1, 4]);
    finish(&setup, &[3, 1]);
    assert_exactly_once(&committed(&setup.output));
    // The checkpoints are in the bucket, not on the local disk.
    assert!(!setup.dir.path().join("job").exists());
    eddy_objectstore_in_this_process(&endpoint);
    let checkpoints = list_checkpoints(&setup.checkpoints).unwrap();
    let newest =
        checkpoints.iter().find(|(_, path)| is_complete(path).unwrap()).expect("a complete checkpoint");
    let manifest = read_manifest(&newest.1).unwrap();
    assert!(manifest.finished, "the last checkpoint is the final one: {manifest:?}");
}

#[test]
fn crashes_around_the_manifest_on_s3_restore_at_other_worker_counts() {
    let Some(endpoint) = s3::endpoint() else { return };
    common::crash_at(&setup_s3(&endpoint), "before-manifest:2", 4, &[2]);
    common::crash_at(&setup_s3(&endpoint), "after-manifest:2", 2, &[3]);
}

#[test]
fn a_missing_bucket_or_refused_credentials_fail_at_start_saying_so() {
    let Some(endpoint) = s3::endpoint() else { return };
    let mut missing = setup();
    missing.checkpoints = "s3://no-such-bucket-eddy/job".into();
    missing.s3 = Some(endpoint.clone());
    let (status, stderr) = run(command(&missing, 1, true, None));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("the bucket `no-such-bucket-eddy` does not exist"), "{stderr}");

    let Some(refusing) = s3::refusing_endpoint() else { return };
    let mut refused = setup();
    refused.checkpoints = "s3://some-bucket/job".into();
    refused.s3 = Some(refusing);
    let (status, stderr) = run(command(&refused, 1, true, None));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("access denied") && stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(!refused.output.exists() || committed(&refused.output).is_empty(), "nothing ran");
}

/// Lets this test process read `s3://` checkpoints of the server at `endpoint`.
fn eddy_objectstore_in_this_process(endpoint: &str) {
    eddy::objectstore::register_with(&s3::environment(endpoint)).unwrap();
}
