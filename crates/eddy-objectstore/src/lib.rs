//! Checkpoints on object stores: an S3 implementation of eddy's checkpoint [`Storage`], with the
//! `object_store` crate. [`register`] makes `s3://bucket/prefix` checkpoint directories work
//! everywhere a checkpoint path is accepted (`--checkpoint-dir`, `--restore`, savepoint
//! targets, `eddy inspect`); the `eddy` binary and `eddy::cli` call it.
//!
//! The client is configured from the environment as the AWS tools are: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or `AWS_DEFAULT_REGION`),
//! `AWS_ENDPOINT_URL` for an S3-compatible server (MinIO, moto, Ceph; requests are path-style
//! unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`, and an `http://` endpoint is allowed as given)
//! and the other `AWS_*` keys `object_store` reads.
//!
//! How the storage contract maps onto S3:
//! * [`Storage::put`] is a PUT, or a multipart upload in [`PART_SIZE`] chunks for larger
//!   objects; S3 makes an object visible whole once the request completes.
//! * [`Storage::put_new`] (manifests) is a conditional PUT with `If-None-Match: *`: atomic, and
//!   refused when the object exists.
//! * Transient failures (5xx, throttling, timeouts, dropped connections) are retried with
//!   exponential back-off (100 ms doubling to 15 s, up to 10 retries within 2 minutes, or
//!   `EDDY_S3_RETRY_TIMEOUT_MS`). A missing bucket and refused credentials are not transient and
//!   fail at once with an [`Error::Config`] saying so.
//! * A process opens one client per bucket, on a small runtime of its own: every call blocks the
//!   calling thread (the checkpoint coordinator, or restore before the workers start).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use eddy_core::checkpoint::storage::{register_scheme, Storage};
use eddy_core::error::{Error, Result};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, WriteMultipart,
};

pub use object_store::aws::AmazonS3Builder as S3Builder;

/// Objects larger than this are uploaded in parts of this size (S3's minimum part is 5 MiB).
pub const PART_SIZE: usize = 8 << 20;

/// Makes `s3://` locations open on S3 (configured from the environment, see the crate docs).
/// Idempotent (and does not replace a [`register_with`]); call it before a job or tool reads
/// a checkpoint path.
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        register_scheme(
            "s3",
            Arc::new(|bucket: &str| Ok(Arc::new(S3Storage::open(bucket)?) as Arc<dyn Storage>)),
        );
    });
}

/// Makes `s3://` locations open on S3 configured by `config` instead of the environment: the
/// same `AWS_*` names and values (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...). Replaces an
/// earlier registration; an unknown name is an error.
pub fn register_with(config: &[(&str, String)]) -> Result<()> {
    let config: Vec<(String, String)> =
        config.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect();
    configured(&config)?;
    register_scheme(
        "s3",
        Arc::new(move |bucket: &str| {
            Ok(Arc::new(S3Storage::open_with(configured(&config)?, bucket)?) as Arc<dyn Storage>)
        }),
    );
    Ok(())
}

/// A client configuration from `AWS_*` names and values, as `AmazonS3Builder::from_env` reads
/// them from the environment.
pub fn configured(config: &[(String, String)]) -> Result<AmazonS3Builder> {
    let mut builder = AmazonS3Builder::new();
    for (key, value) in config {
        let parsed = key.to_ascii_lowercase().parse().map_err(|_| {
            Error::Config(format!("`{key}` is not an S3 client setting (such as AWS_ENDPOINT_URL)"))
        })?;
        builder = builder.with_config(parsed, value);
    }
    Ok(builder)
}

/// Installs the process's TLS provider for https endpoints: ring (see the crate docs), unless
/// another part of the program chose one already, which is kept.
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Deprecated only because ring has no post-quantum key exchange; aws-lc-rs has, but its
        // C build costs minutes.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One S3 bucket.
pub struct S3Storage {
    bucket: String,
    endpoint: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    part_size: usize,
}

impl S3Storage {
    /// Opens `bucket` with the client configuration of the environment, and checks that the
    /// bucket exists and the credentials are accepted.
    pub fn open(bucket: &str) -> Result<S3Storage> {
        S3Storage::open_with(AmazonS3Builder::from_env(), bucket)
    }

    /// Opens `bucket` with `builder` (for tests and programs configured otherwise).
    pub fn open_with(builder: AmazonS3Builder, bucket: &str) -> Result<S3Storage> {
        install_crypto();
        let retry_timeout = std::env::var("EDDY_S3_RETRY_TIMEOUT_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(120), Duration::from_millis);
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: 10,
            retry_timeout,
        };
        let mut builder = builder.with_bucket_name(bucket).with_retry(retry);
        let endpoint = builder
            .get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint)
            .unwrap_or_else(|| "AWS".into());
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        if builder.get_config_value(&object_store::aws::AmazonS3ConfigKey::Region).is_none() {
            builder = builder.with_region("us-east-1");
        }
        let url = format!("s3://{bucket}");
        let store = builder.build().map_err(|error| Error::Config(format!("{url}: {error}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("eddy-s3")
            .enable_all()
            .build()
            .map_err(|error| Error::io("starting the S3 client's runtime", error))?;
        let storage = S3Storage {
            bucket: bucket.to_owned(),
            endpoint,
            store: Arc::new(store),
            runtime,
            part_size: PART_SIZE,
        };
        // A missing bucket or bad credentials fail here, with a message saying which.
        let probe = Path::from("_eddy_probe_");
        storage
            .block_on(storage.store.list_with_delimiter(Some(&probe)))
            .map_err(|error| storage.error("opening", "", error))?;
        Ok(storage)
    }

    /// Uploads objects larger than `bytes` in parts of that size (at least 5 MiB on S3; tests
    /// use it to exercise multipart uploads).
    pub fn with_part_size(mut self, bytes: usize) -> S3Storage {
        self.part_size = bytes;
        self
    }

    fn path(&self, key: &str) -> Result<Path> {
        Path::parse(key)
            .map_err(|error| Error::Checkpoint(format!("{}: not a valid key: {error}", self.describe(key))))
    }

    /// An eddy error for a failed request about `key`.
    fn error(&self, what: &str, key: &str, error: object_store::Error) -> Error {
        let text = error.to_string();
        let url = self.describe(key);
        if text.contains("NoSuchBucket") {
            return Error::Config(format!(
                "{what} {url}: the bucket `{}` does not exist at {} (create it, or check \
                 --checkpoint-dir and AWS_ENDPOINT_URL)",
                self.bucket, self.endpoint
            ));
        }
        let denied = matches!(
            error,
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
        ) || [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "ExpiredToken",
            "InvalidToken",
        ]
        .iter()
        .any(|code| text.contains(code));
        if denied {
            return Error::Config(format!(
                "{what} {url}: access denied by {}: check the credentials (AWS_ACCESS_KEY_ID, \
                 AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the bucket's permissions ({text})",
                self.endpoint
            ));
        }
        Error::io(format!("{what} {url}"), std::io::Error::other(text))
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn put_multipart(&self, path: &Path, key: &str, bytes: &[u8]) -> Result<()> {
        self.block_on(async {
            let upload = self.store.put_multipart(path).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
            writer.write(bytes);
            writer.finish().await.map(drop)
        })
        .map_err(|error| self.error("uploading", key, error))
    }
}

impl Storage for S3Storage {
    fn describe(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        if bytes.len() > self.part_size {
            return self.put_multipart(&path, key, bytes);
        }
        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
        self.block_on(self.store.put(&path, payload))
            .map(drop)
            .map_err(|error| self.error("writing", key, error))
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
        let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.block_on(self.store.put_opts(&path, payload, options)) {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(Error::Checkpoint(format!(
                "{} already exists; another job may be writing here",
                self.describe(key)
            ))),
            Err(error) => Err(self.error("writing", key, error)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        let result = self.block_on(async { self.store.get(&path).await?.bytes().await });
        match result {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.error("reading", key, error)),
        }
    }

    fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        match self.block_on(self.store.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.error("checking", key, error)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let path = self.path(prefix)?;
        let prefix_path = (!prefix.is_empty()).then_some(&path);
        let listed = self
            .block_on(self.store.list_with_delimiter(prefix_path))
            .map_err(|error| self.error("listing", prefix, error))?;
        let names = listed
            .common_prefixes
            .iter()
            .chain(listed.objects.iter().map(|object| &object.location))
            .filter_map(|path| path.filename().map(str::to_owned))
            .collect();
        Ok(names)
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        let path = self.path(prefix)?;
        self.block_on(async {
            let under = self.store.list(Some(&path)).map_ok(|object| object.location).boxed();
            self.store.delete_stream(under).try_collect::<Vec<_>>().await?;
            match self.store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            }
        })
        .map_err(|error| self.error("deleting", prefix, error))
    }
}
