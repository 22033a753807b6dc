//! The S3 storage against a real S3 API server (moto, started by `scripts/moto.sh`): the storage
//! contract (durable puts, create-only manifests, listing one level, deleting a prefix,
//! multipart uploads) and the errors for a missing bucket and for refused credentials.

use eddy_core::checkpoint::storage::Storage;
use eddy_objectstore::{configured, S3Builder, S3Storage};
use eddy_testkit::s3;

fn builder(endpoint: &str) -> S3Builder {
    let config: Vec<(String, String)> =
        s3::environment(endpoint).into_iter().map(|(key, value)| (key.to_owned(), value)).collect();
    configured(&config).unwrap()
}

#[test]
fn the_storage_contract_holds_on_s3() {
    let Some(endpoint) = s3::endpoint() else { return };
    let bucket = s3::new_bucket(&endpoint, "contract");
    let storage = S3Storage::open_with(builder(&endpoint), &bucket).unwrap();
    assert_eq!(storage.describe("a/b"), format!("s3://{bucket}/a/b"));

    storage.put("root/chk-1/op/worker-0.part", b"zero").unwrap();
    storage.put("root/chk-1/op/worker-1.part", b"one").unwrap();
    storage.put("root/chk-2/op/worker-0.part", b"two").unwrap();
    storage.put("root/chk-10/x", b"").unwrap();
    assert_eq!(storage.get("root/chk-1/op/worker-1.part").unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(storage.get("root/chk-1/op/missing").unwrap(), None);
    assert!(storage.exists("root/chk-10/x").unwrap() && !storage.exists("root/chk-1").unwrap());

    let mut names = storage.list("root").unwrap();
    names.sort();
    assert_eq!(names, ["chk-1", "chk-10", "chk-2"], "one level, directories by name");
    let mut names = storage.list("root/chk-1/op").unwrap();
    names.sort();
    assert_eq!(names, ["worker-0.part", "worker-1.part"]);
    assert!(storage.list("nothing/here").unwrap().is_empty());

    // Manifests: create-only and atomic.
    storage.put_new("root/chk-1/_manifest.json", b"{\"first\":1}").unwrap();
    let error = storage.put_new("root/chk-1/_manifest.json", b"{\"second\":2}").unwrap_err().to_string();
    assert!(error.contains("already exists") && error.contains("chk-1/_manifest.json"), "{error}");
    assert_eq!(storage.get("root/chk-1/_manifest.json").unwrap().unwrap(), b"{\"first\":1}");

    // Deleting a checkpoint deletes everything under it and nothing beside it (chk-10 shares
    // the prefix `chk-1` as a string).
    storage.delete_all("root/chk-1").unwrap();
    let mut names = storage.list("root").unwrap();
    names.sort();
    assert_eq!(names, ["chk-10", "chk-2"]);
    storage.delete_all("root/chk-1").unwrap();
}

#[test]
fn large_objects_go_up_in_parts() {
    let Some(endpoint) = s3::endpoint() else { return };
    let bucket = s3::new_bucket(&endpoint, "multipart");
    let storage = S3Storage::open_with(builder(&endpoint), &bucket).unwrap().with_part_size(5 << 20);
    let bytes: Vec<u8> = (0..(11u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    storage.put("big/worker-0.part", &bytes).unwrap();
    assert!(storage.get("big/worker-0.part").unwrap().unwrap() == bytes, "the object reads back whole");
}

#[test]
fn a_missing_bucket_is_named() {
    let Some(endpoint) = s3::endpoint() else { return };
    let error = S3Storage::open_with(builder(&endpoint), "no-such-bucket-eddy").err().unwrap().to_string();
    assert!(
        error.contains("the bucket `no-such-bucket-eddy` does not exist") && error.contains(&endpoint),
        "{error}"
    );
}

#[test]
fn unknown_settings_are_refused() {
    let error = configured(&[("AWS_NO_SUCH_SETTING".into(), "1".into())]).err().unwrap().to_string();
    assert!(error.contains("`AWS_NO_SUCH_SETTING` is not an S3 client setting"), "{error}");
}

#[test]
fn refused_credentials_are_named() {
    let Some(endpoint) = s3::refusing_endpoint() else { return };
    let error = S3Storage::open_with(builder(&endpoint), "any-bucket").err().unwrap().to_string();
    assert!(error.contains("access denied") && error.contains("AWS_ACCESS_KEY_ID"), "{error}");
}
