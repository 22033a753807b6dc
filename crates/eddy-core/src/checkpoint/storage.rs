//! Where checkpoints are kept: the storage seam every checkpoint, savepoint, restore, inspect
//! and retention read or write goes through.
//!
//! A [`Storage`] is a flat namespace of objects named by `/`-separated keys: the local file
//! system ([`LocalStorage`], keys are paths) or an object store (the `eddy-objectstore` crate
//! registers `s3://` with [`register_scheme`]). A [`Location`] is a storage and a key in it;
//! [`Location::open`] turns a checkpoint path into one: `s3://bucket/prefix` goes to the
//! storage registered for `s3`, `file:///dir` and plain paths to the local file system.
//!
//! The contract every implementation keeps:
//! * [`Storage::put`] returns only once the object is durable (local: the file and its
//!   directory entry are fsynced).
//! * [`Storage::put_new`] is create-only and atomic: readers see the whole object or none, and
//!   it fails with [`Error::Checkpoint`] naming the key when the object already exists (local:
//!   a fsynced temporary file hard-linked into place; S3: a conditional put,
//!   `If-None-Match: *`). Manifests are written with it, last.
//! * Transient errors are retried (with back-off) inside the implementation; what reaches the
//!   caller is final and names the object.
//!
//! Keys name objects, not directories: on an object store a "directory" exists once an object
//! under it does, so [`Storage::create_dir`] may do nothing, and [`Storage::list`] returns the
//! names one level below a prefix (files and "directories" alike).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::error::{Error, Result};
use crate::hash::HashMap;

/// A place objects are kept in: the local file system or an object store. See the module
/// docs for the contract.
pub trait Storage: Send + Sync {
    /// How `key` is shown to the user (a path, or a URL such as `s3://bucket/key`).
    fn describe(&self, key: &str) -> String;
    /// Writes `bytes` at `key`, replacing what is there; durable when it returns.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// Writes `bytes` at `key` atomically if nothing is there; fails naming the key if
    /// something is.
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// The object at `key`, or `None` if there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Whether an object exists at `key`.
    fn exists(&self, key: &str) -> Result<bool>;
    /// The names one level below `prefix` (objects and prefixes of objects), unsorted; empty
    /// when there is nothing under it.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes `key` and everything under `key/`; nothing there is not an error.
    fn delete_all(&self, prefix: &str) -> Result<()>;
    /// Makes `key` usable as a directory (local: creates it). Object stores have none.
    fn create_dir(&self, _key: &str) -> Result<()> {
        Ok(())
    }
    /// Whether this is the local file system (which has advisory locks and Unix sockets).
    fn is_local(&self) -> bool {
        false
    }
}

/// Opens the storage of one authority (an S3 bucket) of a URL scheme.
pub type SchemeOpener = Arc<dyn Fn(&str) -> Result<Arc<dyn Storage>> + Send + Sync>;

fn schemes() -> &'static RwLock<HashMap<String, SchemeOpener>> {
    static SCHEMES: OnceLock<RwLock<HashMap<String, SchemeOpener>>> = OnceLock::new();
    SCHEMES.get_or_init(Default::default)
}

/// Storages opened so far, by `scheme://authority`: one client per bucket per process.
fn opened() -> &'static Mutex<HashMap<String, Arc<dyn Storage>>> {
    static OPENED: OnceLock<Mutex<HashMap<String, Arc<dyn Storage>>>> = OnceLock::new();
    OPENED.get_or_init(Default::default)
}

/// Makes `scheme://authority/key` locations open with `opener(authority)` (the `eddy-objectstore`
/// crate registers `s3`). Registering a scheme again replaces its opener.
pub fn register_scheme(scheme: &str, opener: SchemeOpener) {
    schemes().write().unwrap_or_else(|poison| poison.into_inner()).insert(scheme.to_owned(), opener);
    opened()
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .retain(|url, _| !url.starts_with(&format!("{scheme}://")));
}

/// Whether `path` is a URL of a storage other than the local file system (`s3://...`).
pub fn is_remote(path: &Path) -> bool {
    local_path(path).is_none()
}

/// The local path `path` names (itself, or the path of a `file://` URL), or `None` for a URL
/// of another storage.
pub fn local_path(path: &Path) -> Option<PathBuf> {
    match path.to_str().and_then(split_url) {
        Some(("file", local)) => Some(PathBuf::from(local)),
        Some(_) => None,
        None => Some(path.to_owned()),
    }
}

/// The local directory of the job whose checkpoints are at `root`, for what only a local file
/// system has: the control socket and the lock. `root` itself when it is local; for an object
/// store a directory in the temporary directory named by a hash of the URL, so that
/// `eddy savepoint --checkpoint-dir s3://...` on the machine of process 0 finds the job.
pub fn local_dir(root: &Path) -> PathBuf {
    local_path(root).unwrap_or_else(|| {
        let text = root.to_string_lossy();
        let hash = xxhash_rust::xxh3::xxh3_64(text.trim_end_matches('/').as_bytes());
        std::env::temp_dir().join(format!("eddy-{hash:016x}"))
    })
}

fn split_url(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.');
    valid.then_some((scheme, rest))
}

/// A storage and a key in it: a checkpoint root, one checkpoint, or one part.
#[derive(Clone)]
pub struct Location {
    storage: Arc<dyn Storage>,
    key: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.storage.describe(&self.key))
    }
}

impl Location {
    /// The location `path` names: `scheme://authority/key` through the storage registered for
    /// `scheme`, `file:///dir` and plain paths on the local file system.
    pub fn open(path: &Path) -> Result<Location> {
        let Some(text) = path.to_str() else {
            return Err(Error::Config(format!("checkpoint path {} is not UTF-8", path.display())));
        };
        let Some((scheme, rest)) = split_url(text) else {
            return Ok(Location::local(text));
        };
        if scheme == "file" {
            return Ok(Location::local(rest));
        }
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(Error::Config(format!(
                "{text}: the URL names no bucket (use {scheme}://BUCKET/PREFIX)"
            )));
        }
        let url = format!("{scheme}://{authority}");
        let cached = opened().lock().unwrap_or_else(|poison| poison.into_inner()).get(&url).cloned();
        let storage = match cached {
            Some(storage) => storage,
            None => {
                let opener =
                    schemes().read().unwrap_or_else(|poison| poison.into_inner()).get(scheme).cloned();
                let Some(opener) = opener else {
                    return Err(Error::Config(format!(
                        "{text}: no storage for `{scheme}://` in this program (the `eddy` binary \
                         supports s3:// with its default feature `s3`; a library user calls \
                         eddy_objectstore::register())"
                    )));
                };
                let storage = opener(authority)?;
                opened().lock().unwrap_or_else(|poison| poison.into_inner()).insert(url, storage.clone());
                storage
            }
        };
        Ok(Location { storage, key: key.trim_matches('/').to_owned() })
    }

    fn local(path: &str) -> Location {
        static LOCAL: OnceLock<Arc<dyn Storage>> = OnceLock::new();
        let storage = LOCAL.get_or_init(|| Arc::new(LocalStorage)).clone();
        let key = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        Location { storage, key: key.to_owned() }
    }

    /// The location of `name` (which may hold `/`) below this one.
    pub fn join(&self, name: &str) -> Location {
        let key = match (self.key.as_str(), name) {
            ("", name) => name.to_owned(),
            (key, name) if key.ends_with('/') => format!("{key}{name}"),
            (key, name) => format!("{key}/{name}"),
        };
        Location { storage: self.storage.clone(), key }
    }

    /// The key in its storage.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether this is on the local file system.
    pub fn is_local(&self) -> bool {
        self.storage.is_local()
    }

    /// See [`Storage::put`].
    pub fn put(&self, bytes: &[u8]) -> Result<()> {
        self.storage.put(&self.key, bytes)
    }

    /// See [`Storage::put_new`].
    pub fn put_new(&self, bytes: &[u8]) -> Result<()> {
        self.storage.put_new(&self.key, bytes)
    }

    /// See [`Storage::get`].
    pub fn get(&self) -> Result<Option<Vec<u8>>> {
        self.storage.get(&self.key)
    }

    /// The object here; a missing one is an error naming it.
    pub fn read(&self) -> Result<Vec<u8>> {
        self.get()?.ok_or_else(|| {
            Error::io(format!("reading {self}"), std::io::Error::from(std::io::ErrorKind::NotFound))
        })
    }

    /// See [`Storage::exists`].
    pub fn exists(&self) -> Result<bool> {
        self.storage.exists(&self.key)
    }

    /// See [`Storage::list`].
    pub fn list(&self) -> Result<Vec<String>> {
        self.storage.list(&self.key)
    }

    /// See [`Storage::delete_all`].
    pub fn delete_all(&self) -> Result<()> {
        self.storage.delete_all(&self.key)
    }

    /// See [`Storage::create_dir`].
    pub fn create_dir(&self) -> Result<()> {
        self.storage.create_dir(&self.key)
    }
}

/// The local file system; keys are paths. Writes are fsynced with their directory.
pub struct LocalStorage;

fn io_error(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), error)
}

/// Fsyncs a directory so a rename or new file in it is durable.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|error| io_error("syncing directory", path, error))
}

/// Writes and fsyncs `path`, creating its directory.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|error| io_error("creating", parent, error))?;
    }
    let mut file = File::create(path).map_err(|error| io_error("creating", path, error))?;
    file.write_all(bytes).map_err(|error| io_error("writing", path, error))?;
    file.sync_all().map_err(|error| io_error("syncing", path, error))
}

fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

impl Storage for LocalStorage {
    fn describe(&self, key: &str) -> String {
        key.to_owned()
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = Path::new(key);
        write_synced(path, bytes)?;
        sync_dir(parent_dir(path))
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        // Write a temporary file, make it durable, then hard-link it into place: the link is
        // atomic and fails if the target exists (a rename would replace it).
        let path = Path::new(key);
        let temporary = PathBuf::from(format!("{key}.tmp"));
        write_synced(&temporary, bytes)?;
        let linked = fs::hard_link(&temporary, path);
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => sync_dir(parent_dir(path)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Checkpoint(format!("{key} already exists; another job may be writing here")))
            }
            Err(error) => Err(io_error("linking", path, error)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match fs::read(key) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("reading", Path::new(key), error)),
        }
    }

    fn exists(&self, key: &str) -> Result<bool> {
        Ok(Path::new(key).exists())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let path = Path::new(prefix);
        let entries = match fs::read_dir(path) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io_error("listing", path, error)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| io_error("listing", path, error))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn delete_all(&self, prefix: &str) -> Result<()> {
        let path = Path::new(prefix);
        let removed = if path.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
        match removed {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(io_error("deleting", path, error))
            }
            _ => Ok(()),
        }
    }

    fn create_dir(&self, key: &str) -> Result<()> {
        fs::create_dir_all(key).map_err(|error| io_error("creating", Path::new(key), error))
    }

    fn is_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_locations_keep_paths_and_put_new_is_create_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = Location::open(dir.path()).unwrap();
        assert!(root.is_local());
        assert_eq!(root.to_string(), dir.path().display().to_string());
        let file = root.join("a/b.part");
        assert_eq!(file.to_string(), dir.path().join("a/b.part").display().to_string());
        file.put(b"one").unwrap();
        assert_eq!(file.get().unwrap().as_deref(), Some(&b"one"[..]));
        let manifest = root.join("a/_manifest.json");
        manifest.put_new(b"first").unwrap();
        let error = manifest.put_new(b"second").unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
        assert_eq!(manifest.read().unwrap(), b"first");
        assert!(!dir.path().join("a/_manifest.json.tmp").exists());
        let mut names = root.join("a").list().unwrap();
        names.sort();
        assert_eq!(names, ["_manifest.json", "b.part"]);
        root.join("a").delete_all().unwrap();
        assert!(root.list().unwrap().is_empty());
        assert!(root.join("missing").get().unwrap().is_none());
        assert!(root.join("missing").read().unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn urls_pick_the_storage() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let location = Location::open(Path::new(&url)).unwrap();
        assert!(location.is_local() && location.to_string() == dir.path().display().to_string());
        assert!(is_remote(Path::new("s3://bucket/prefix")) && !is_remote(Path::new(&url)));
        assert_eq!(local_path(Path::new(&url)).as_deref(), Some(dir.path()));
        assert_eq!(local_dir(Path::new(&url)), dir.path());
        let remote = local_dir(Path::new("s3://bucket/prefix"));
        assert!(
            remote.starts_with(std::env::temp_dir()) && remote != local_dir(Path::new("s3://bucket/other"))
        );
        let error = Location::open(Path::new("nowhere://bucket/x")).unwrap_err().to_string();
        assert!(error.contains("no storage for `nowhere://`"), "{error}");
        let error = Location::open(Path::new("nowhere:///x")).unwrap_err().to_string();
        assert!(error.contains("names no bucket"), "{error}");
    }
}
