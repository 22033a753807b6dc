//! The split readers of the file source: one per file, CSV or JSON lines. Each reports its
//! position with the identity of the consumed part (`identity.rs`) and resumes at it.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use eddy_core::error::{Error, Result};
use eddy_core::source::{ReadStatus, SplitOutput, SplitReader};
use serde::de::DeserializeOwned;

use super::identity::{FilePosition, IdentityCache};
use super::{reject, BadRecords};

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|error| Error::io(format!("opening {}", path.display()), error))
}

/// The checkpointed position of a reader of `file` at `offset`, `line` (and CSV `record`).
fn snapshot(
    path: &Path,
    file: &File,
    identities: &RefCell<IdentityCache>,
    offset: u64,
    line: u64,
    record: Option<u64>,
) -> Result<Option<serde_json::Value>> {
    let identity = identities
        .borrow_mut()
        .identity(file, offset)
        .map_err(|error| Error::io(format!("checkpointing the position in {}", path.display()), error))?;
    let position = FilePosition { offset, line, record, identity: Some(identity) };
    serde_json::to_value(position).map(Some).map_err(|error| Error::Internal(error.to_string()))
}

/// Reads one CSV file.
pub(crate) struct CsvReader<T> {
    id: String,
    path: PathBuf,
    reader: csv::Reader<File>,
    has_header: bool,
    /// The header row once read (`None` before, and always without a header).
    headers: Option<csv::StringRecord>,
    record: csv::StringRecord,
    bad_records: BadRecords,
    identities: RefCell<IdentityCache>,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> CsvReader<T> {
    pub(crate) fn open(path: PathBuf, has_header: bool, bad_records: BadRecords) -> Result<Self> {
        let file = open(&path)?;
        Ok(CsvReader {
            id: path.display().to_string(),
            reader: csv::ReaderBuilder::new().has_headers(has_header).from_reader(file),
            path,
            has_header,
            headers: None,
            record: csv::StringRecord::new(),
            bad_records,
            identities: RefCell::default(),
            _type: PhantomData,
        })
    }

    /// Reads the header row (once), and checks that it names a field of `T`.
    fn read_header(&mut self) -> Result<()> {
        if !self.has_header || self.headers.is_some() {
            return Ok(());
        }
        let headers = self.reader.headers().map_err(|error| Error::BadRecord {
            path: self.path.clone(),
            line: 1,
            reason: error.to_string(),
        })?;
        if let Some(fields) = struct_fields::<T>() {
            let names_a_field = headers.iter().any(|name| fields.contains(&name.trim()));
            if !headers.is_empty() && !fields.is_empty() && !names_a_field {
                return Err(Error::BadRecord {
                    path: self.path.clone(),
                    line: 1,
                    reason: format!(
                        "the header row `{}` names none of the fields ({}); if the file has no header, \
                         read it with `FileSource::csv(..).has_header(false)`",
                        headers.iter().collect::<Vec<_>>().join(","),
                        fields.join(", ")
                    ),
                });
            }
        }
        self.headers = Some(headers.clone());
        Ok(())
    }
}

impl<T: DeserializeOwned> SplitReader<T> for CsvReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        let position = self.reader.position();
        let file = self.reader.get_ref();
        snapshot(
            &self.path,
            file,
            &self.identities,
            position.byte(),
            position.line(),
            Some(position.record()),
        )
    }

    /// Seeks to `position`. Whether the file still matches it was checked by
    /// `FileSource::reconcile_restored`, which knows the checkpoint and every file.
    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        let position = FilePosition::parse(&self.path, &position)?;
        // Read the header row first: seeking turns off csv's skipping of it.
        self.read_header()?;
        let mut target = csv::Position::new();
        target.set_byte(position.offset).set_line(position.line).set_record(position.record.unwrap_or(0));
        self.reader.seek(target).map_err(|error| {
            Error::io(format!("seeking in {}", self.path.display()), std::io::Error::other(error.to_string()))
        })
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        self.read_header()?;
        for _ in 0..max_records {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(ReadStatus::Finished),
                Ok(true) => {
                    let line = self.record.position().map_or(0, |position| position.line());
                    match self.record.deserialize::<T>(self.headers.as_ref()) {
                        Ok(value) => output.push(line, value),
                        Err(error) => {
                            let raw = self.record.iter().collect::<Vec<_>>().join(",");
                            reject(
                                self.bad_records,
                                output,
                                &self.path,
                                line,
                                deserialize_reason(&error),
                                raw,
                            )?
                        }
                    }
                }
                Err(error) => {
                    let line = error.position().map_or(0, |position| position.line());
                    match error.kind() {
                        csv::ErrorKind::Io(_) => {
                            return Err(Error::io(
                                format!("reading {}", self.path.display()),
                                std::io::Error::other(error.to_string()),
                            ))
                        }
                        _ => reject(
                            self.bad_records,
                            output,
                            &self.path,
                            line,
                            csv_reason(&error),
                            String::new(),
                        )?,
                    }
                }
            }
        }
        Ok(ReadStatus::More)
    }
}

/// The reason of a CSV error without the position csv already prints (eddy prints its own).
fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 in field {}", err.field() + 1),
        _ => error.to_string(),
    }
}

fn deserialize_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("field {}: {}", field + 1, err.kind()),
            None => err.kind().to_string(),
        },
        _ => error.to_string(),
    }
}

/// Reads one JSON-lines file.
pub(crate) struct JsonLinesReader<T> {
    id: String,
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    /// Byte offset of the next line.
    offset: u64,
    buffer: Vec<u8>,
    bad_records: BadRecords,
    identities: RefCell<IdentityCache>,
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonLinesReader<T> {
    pub(crate) fn open(path: PathBuf, bad_records: BadRecords) -> Result<Self> {
        Ok(JsonLinesReader {
            id: path.display().to_string(),
            reader: BufReader::new(open(&path)?),
            path,
            line: 0,
            offset: 0,
            buffer: Vec::new(),
            bad_records,
            identities: RefCell::default(),
            _type: PhantomData,
        })
    }
}

impl<T: DeserializeOwned> SplitReader<T> for JsonLinesReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        snapshot(&self.path, self.reader.get_ref(), &self.identities, self.offset, self.line, None)
    }

    /// Seeks to `position` (checked by `FileSource::reconcile_restored`).
    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        let FilePosition { offset, line, .. } = FilePosition::parse(&self.path, &position)?;
        self.reader
            .seek(std::io::SeekFrom::Start(offset))
            .map_err(|error| Error::io(format!("seeking in {}", self.path.display()), error))?;
        self.offset = offset;
        self.line = line;
        Ok(())
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        for _ in 0..max_records {
            self.buffer.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|error| Error::io(format!("reading {}", self.path.display()), error))?;
            if read == 0 {
                return Ok(ReadStatus::Finished);
            }
            self.line += 1;
            let first = self.offset == 0;
            self.offset += read as u64;
            let mut text = self.buffer.trim_ascii();
            if first {
                // A UTF-8 byte order mark (as some editors write) is not part of the first
                // record. (The CSV reader skips it too.)
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text).trim_ascii();
            }
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<T>(text) {
                Ok(value) => output.push(self.line, value),
                Err(error) => {
                    let raw = String::from_utf8_lossy(text).into_owned();
                    reject(self.bad_records, output, &self.path, self.line, error.to_string(), raw)?
                }
            }
        }
        Ok(ReadStatus::More)
    }
}

/// The field names of `T` when it deserializes as a struct (`None` for maps, sequences and
/// other types, and for structs with flattened fields, which deserialize as maps).
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    let _ = T::deserialize(FieldProbe { fields: &mut fields });
    fields
}

/// A deserializer that only records the field names a struct asks for, then stops.
struct FieldProbe<'a> {
    fields: &'a mut Option<&'static [&'static str]>,
}

#[derive(Debug)]
struct ProbeDone;

impl std::fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field probe done")
    }
}

impl std::error::Error for ProbeDone {}

impl serde::de::Error for ProbeDone {
    fn custom<M: std::fmt::Display>(_message: M) -> Self {
        ProbeDone
    }
}

impl<'de> serde::Deserializer<'de> for FieldProbe<'_> {
    type Error = ProbeDone;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        _visitor: V,
    ) -> std::result::Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, ProbeDone> {
        *self.fields = Some(fields);
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Reading {
        sensor: String,
        #[serde(rename = "time")]
        ts: u64,
    }

    #[test]
    fn a_byte_order_mark_is_skipped_in_json_lines_and_csv() {
        use eddy_core::source::{SplitOutput, SplitReader};
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("with-bom.jsonl");
        std::fs::write(&json, b"\xEF\xBB\xBF{\"sensor\":\"a\",\"time\":1}\n{\"sensor\":\"b\",\"time\":2}\n")
            .unwrap();
        let csv = dir.path().join("with-bom.csv");
        std::fs::write(&csv, b"\xEF\xBB\xBFsensor,time\na,1\nb,2\n").unwrap();
        let readers: Vec<Box<dyn SplitReader<Reading>>> = vec![
            Box::new(JsonLinesReader::open(json, BadRecords::Fail).unwrap()),
            Box::new(CsvReader::open(csv, true, BadRecords::Fail).unwrap()),
        ];
        for mut reader in readers {
            let mut output = SplitOutput::default();
            reader.read(&mut output, 10).unwrap();
            let (records, dead_letters) = output.take();
            assert!(dead_letters.is_empty());
            let sensors: Vec<String> = records.into_iter().map(|(_, reading)| reading.sensor).collect();
            assert_eq!(sensors, ["a", "b"], "{}", reader.split_id());
        }
    }

    #[test]
    fn struct_fields_are_probed_and_other_types_have_none() {
        assert_eq!(struct_fields::<Reading>(), Some(&["sensor", "time"][..]));
        assert_eq!(struct_fields::<BTreeMap<String, String>>(), None);
        assert_eq!(struct_fields::<(String, u64)>(), None);
        assert_eq!(struct_fields::<Vec<String>>(), None);
    }
}
