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
        if position.offset == 0 {
            // Nothing consumed: this new reader is where the position says. Seeking to byte 0
            // would read the header row again as a record.
            return Ok(());
        }
        if position.line == 0 {
            return Err(position.impossible(&self.path, "a CSV position's line starts at 1"));
        }
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

/// Fuzz targets of the file decoders (issue 15): arbitrary and near-valid file contents go
/// through the split readers exactly as the source drives them, and arbitrary checkpointed
/// positions through a restore. Each runs 256 cases (a few seconds in a debug build); set
/// `PROPTEST_CASES=100000` for a longer run. Failing inputs are kept in
/// `crates/eddy-connectors/proptest-regressions/file/readers.txt` and replayed first.
#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use crate::file::identity::FilePosition;
    use eddy_core::source::DeadLetter;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
    struct Row {
        name: String,
        value: i64,
    }

    fn config() -> ProptestConfig {
        // 256 cases unless `PROPTEST_CASES` asks for more (or fewer).
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256);
        ProptestConfig { cases, ..ProptestConfig::default() }
    }

    /// A file's bytes, shown as a byte string (with runs of a repeated byte shortened) when a
    /// case fails.
    #[derive(Clone)]
    struct Contents(Vec<u8>);

    impl std::fmt::Debug for Contents {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("b\"")?;
            for run in self.0.chunk_by(|a, b| a == b) {
                write!(f, "{}", run[..run.len().min(8)].escape_ascii())?;
                if run.len() > 8 {
                    write!(f, "<{} more>", run.len() - 8)?;
                }
            }
            f.write_str("\"")
        }
    }

    /// How a fuzzed file is read.
    #[derive(Clone, Copy, Debug)]
    enum Format {
        Csv { has_header: bool },
        JsonLines,
    }

    fn open(format: Format, path: &Path, bad_records: BadRecords) -> Box<dyn SplitReader<Row>> {
        match format {
            Format::Csv { has_header } => {
                Box::new(CsvReader::open(path.to_owned(), has_header, bad_records).unwrap())
            }
            Format::JsonLines => Box::new(JsonLinesReader::open(path.to_owned(), bad_records).unwrap()),
        }
    }

    /// What one reader produced: records and dead letters per `read` call, the position after
    /// each call (the first one before any), and the error that ended it, if any.
    #[derive(Debug, Default)]
    struct Run {
        batches: Vec<(Vec<(u64, Row)>, Vec<DeadLetter>)>,
        positions: Vec<serde_json::Value>,
        error: Option<Error>,
    }

    impl Run {
        fn records(&self, from_batch: usize) -> Vec<(u64, Row)> {
            self.batches[from_batch..].iter().flat_map(|(records, _)| records.clone()).collect()
        }
        fn dead_letters(&self, from_batch: usize) -> Vec<(u64, String, String)> {
            self.batches[from_batch..]
                .iter()
                .flat_map(|(_, dead)| {
                    dead.iter().map(|letter| (letter.line, letter.reason.clone(), letter.raw.clone()))
                })
                .collect()
        }
    }

    /// Reads to the end (or the first error) in batches of `batch` records, checking after
    /// every call that the position stays within the file and never moves back, and that
    /// every call that does not finish consumes input.
    fn run(reader: &mut dyn SplitReader<Row>, path: &Path, size: u64, batch: usize) -> Run {
        let mut run = Run::default();
        let mut last = FilePosition::parse(path, &reader.snapshot_position().unwrap().unwrap()).unwrap();
        run.positions.push(reader.snapshot_position().unwrap().unwrap());
        for _ in 0..size + 2 {
            let mut output = SplitOutput::default();
            let status = reader.read(&mut output, batch);
            run.batches.push(output.take());
            let status = match status {
                Ok(status) => status,
                Err(error) => {
                    run.error = Some(error);
                    return run;
                }
            };
            let value = reader.snapshot_position().unwrap().unwrap();
            let position = FilePosition::parse(path, &value).unwrap();
            assert!(position.offset <= size, "offset {} beyond the file's {size} bytes", position.offset);
            assert!(
                position.offset >= last.offset && position.line >= last.line,
                "{last:?} then {position:?}"
            );
            let identity = position.identity.as_ref().expect("an identity");
            assert!(identity.head_len + identity.tail_len <= position.offset && identity.size == size);
            run.positions.push(value);
            if status == ReadStatus::Finished {
                return run;
            }
            assert!(
                position.offset > last.offset,
                "a read that did not finish consumed nothing: {position:?}"
            );
            last = position;
        }
        panic!("the reader did not finish a {size}-byte file");
    }

    /// The properties every file must have, whatever its bytes.
    fn check_file(format: Format, contents: &[u8], batch: usize, restore_at: prop::sample::Index) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        std::fs::write(&path, contents).unwrap();
        let size = contents.len() as u64;
        let last_line = contents.iter().filter(|&&byte| byte == b'\n').count() as u64 + 1;
        let names_the_line = |error: &Error| match error {
            Error::BadRecord { path: named, line, reason } => {
                assert_eq!(named, &path);
                assert!((1..=last_line).contains(line) && !reason.is_empty(), "{error}");
            }
            other => panic!("not a bad record error: {other}"),
        };

        let dead_letter = run(&mut *open(format, &path, BadRecords::DeadLetter), &path, size, batch);
        if let Some(error) = &dead_letter.error {
            // Only a CSV header fails the job whatever the policy.
            assert!(matches!(format, Format::Csv { has_header: true }), "{error}");
            names_the_line(error);
        }
        let records = dead_letter.records(0);
        let dead_letters = dead_letter.dead_letters(0);
        for letter in dead_letter.batches.iter().flat_map(|(_, dead)| dead) {
            assert_eq!(letter.split, path.display().to_string());
            assert!((1..=last_line).contains(&letter.line) && !letter.reason.is_empty(), "{letter:?}");
        }
        // csv counts the LF of a CRLF only when it reads the next record, so with CR in a CSV
        // file two records can share a line (see `csv_lines_after_crlf_are_one_behind`).
        let csv_with_cr = matches!(format, Format::Csv { .. }) && contents.contains(&b'\r');
        assert!(
            records.windows(2).all(|pair| pair[0].0 < pair[1].0 || (csv_with_cr && pair[0].0 == pair[1].0)),
            "record positions must be unique"
        );
        assert!(records.iter().all(|(line, _)| (1..=last_line).contains(line)));
        if let Format::JsonLines = format {
            // Every non-blank line is exactly one record or one dead letter (a byte order mark
            // opening the file is not part of its first line).
            let mut expected = Vec::new();
            for (index, line) in contents.split(|&byte| byte == b'\n').enumerate() {
                let line = if index == 0 {
                    line.trim_ascii().strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
                } else {
                    line
                };
                if !line.trim_ascii().is_empty() {
                    expected.push(index as u64 + 1);
                }
            }
            let mut seen: Vec<u64> =
                records.iter().map(|(line, _)| *line).chain(dead_letters.iter().map(|d| d.0)).collect();
            seen.sort_unstable();
            assert_eq!(seen, expected);
        }

        // Failing on bad records fails at the first dead letter, after the same records.
        let fail = run(&mut *open(format, &path, BadRecords::Fail), &path, size, batch);
        match (&fail.error, dead_letters.first(), &dead_letter.error) {
            (None, None, None) => assert_eq!(fail.records(0), records),
            (Some(error), Some((line, ..)), _) => {
                names_the_line(error);
                assert!(matches!(error, Error::BadRecord { line: failed, .. } if failed == line), "{error}");
                // The records before it (with CRLF in CSV, one more may share its line).
                let read = fail.records(0);
                assert_eq!(read[..], records[..read.len()]);
                assert!(read.len() >= records.iter().filter(|(at, _)| at < line).count());
            }
            (Some(error), None, Some(header)) => assert_eq!(error.to_string(), header.to_string()),
            other => panic!("the policies disagree: {other:?}"),
        }

        // Restoring at any checkpointed position reads exactly what followed it.
        let at = restore_at.index(dead_letter.positions.len());
        let mut restored = open(format, &path, BadRecords::DeadLetter);
        let restoring = restored.restore_position(dead_letter.positions[at].clone());
        if let Some(error) = &dead_letter.error {
            // A bad header fails a restore too.
            assert_eq!(restoring.unwrap_err().to_string(), error.to_string());
            return;
        }
        restoring.unwrap();
        let rest = run(&mut *restored, &path, size, batch);
        assert!(rest.error.is_none(), "{:?}", rest.error);
        let offset = FilePosition::parse(&path, &dead_letter.positions[at]).unwrap().offset as usize;
        if matches!(format, Format::Csv { .. })
            && offset > 0
            && contents[offset..].starts_with(b"\xef\xbb\xbf")
        {
            return; // See `csv_restores_before_a_byte_order_mark_mid_file_skip_it`.
        }
        assert_eq!(rest.records(0), dead_letter.records(at));
        assert_eq!(rest.dead_letters(0), dead_letter.dead_letters(at));
    }

    /// A valid line of `format` for `Row`.
    fn valid_line(format: Format) -> BoxedStrategy<Vec<u8>> {
        let name = prop_oneof!["[a-z]{0,8}", "[ -~]{0,12}", "\\PC{0,6}"];
        (name, any::<i64>())
            .prop_map(move |(name, value)| match format {
                Format::JsonLines => {
                    serde_json::json!({"name": name, "value": value}).to_string().into_bytes()
                }
                Format::Csv { .. } => {
                    let mut writer = csv::WriterBuilder::new()
                        .terminator(csv::Terminator::Any(b'\n'))
                        .from_writer(Vec::new());
                    writer.write_record([name, value.to_string()]).unwrap();
                    let mut line = writer.into_inner().unwrap();
                    line.pop();
                    line
                }
            })
            .boxed()
    }

    /// A line that is valid, mutated (bytes flipped, inserted or removed), or something else:
    /// empty, blanks, invalid UTF-8, a byte-order mark, very long.
    fn line(format: Format) -> impl Strategy<Value = Vec<u8>> {
        let mutation = (any::<prop::sample::Index>(), any::<u8>(), 0..3u8);
        prop_oneof![
            4 => valid_line(format),
            3 => (valid_line(format), prop::collection::vec(mutation, 1..4)).prop_map(|(mut line, mutations)| {
                for (index, byte, kind) in mutations {
                    match kind {
                        0 if !line.is_empty() => {
                            let at = index.index(line.len());
                            line[at] ^= byte | 1;
                        }
                        1 => line.insert(index.index(line.len() + 1), byte),
                        _ if !line.is_empty() => {
                            line.remove(index.index(line.len()));
                        }
                        _ => {}
                    }
                }
                line
            }),
            1 => prop::collection::vec(any::<u8>(), 0..40),
            1 => Just(Vec::new()),
            1 => Just(b" \t ".to_vec()),
            1 => Just(b"\xef\xbb\xbf".to_vec()),
            1 => Just(b"\xff\xfe\xc3\x28".to_vec()),
            1 => Just(b"name,value".to_vec()),
            1 => Just(b"\"unterminated,\"\"quote".to_vec()),
            // Longer than the readers' buffers and the hashed head of the identity.
            1 => (1..3usize, valid_line(format)).prop_map(|(copies, line)| {
                let mut long = vec![b' '; 70_000 * copies];
                long.extend_from_slice(&line);
                long
            }),
        ]
    }

    /// A file of such lines, ended by LF, CRLF or CR, maybe with a byte-order mark.
    fn near_valid_file(format: Format) -> impl Strategy<Value = Vec<u8>> {
        let header = match format {
            Format::Csv { has_header: true } => prop_oneof![
                8 => Just(b"name,value".to_vec()),
                1 => Just(b"value,name".to_vec()),
                1 => Just(b"other".to_vec()),
                1 => line(format),
            ]
            .boxed(),
            _ => Just(Vec::new()).boxed(),
        };
        let ending = prop_oneof![6 => Just(&b"\n"[..]), 2 => Just(&b"\r\n"[..]), 1 => Just(&b"\r"[..])];
        (any::<bool>(), header, prop::collection::vec((line(format), ending), 0..12), any::<bool>()).prop_map(
            move |(bom, header, lines, trailing_newline)| {
                let mut file = if bom { b"\xef\xbb\xbf".to_vec() } else { Vec::new() };
                if let Format::Csv { has_header: true } = format {
                    file.extend_from_slice(&header);
                    file.push(b'\n');
                }
                for (line, ending) in &lines {
                    file.extend_from_slice(line);
                    file.extend_from_slice(ending);
                }
                if !trailing_newline && !lines.is_empty() {
                    let ending = lines.last().unwrap().1.len();
                    file.truncate(file.len() - ending);
                }
                file
            },
        )
    }

    fn format() -> impl Strategy<Value = Format> {
        prop_oneof![
            Just(Format::JsonLines),
            Just(Format::Csv { has_header: true }),
            Just(Format::Csv { has_header: false })
        ]
    }

    /// Arbitrary JSON, and objects that look like positions with odd numbers.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let number = prop_oneof![
            any::<u64>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            prop::sample::select(vec![
                0u64,
                1,
                2,
                3,
                9,
                10,
                11,
                64 * 1024,
                i64::MAX as u64,
                u64::MAX - 1,
                u64::MAX
            ])
            .prop_map(serde_json::Value::from),
        ];
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            number.clone(),
            "\\PC{0,10}".prop_map(serde_json::Value::from),
        ];
        let any_json = leaf.clone().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{0,8}", inner, 0..4)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        });
        let field = prop_oneof![3 => number.prop_map(Some), 1 => leaf.prop_map(Some), 1 => Just(None)];
        let position = (
            field.clone(),
            field.clone(),
            field.clone(),
            field.clone(),
            field.clone(),
            prop::option::of("[0-9a-f]{16}"),
        )
            .prop_map(|(offset, line, record, head_len, tail_len, hash)| {
                let mut object = serde_json::Map::new();
                let put = |map: &mut serde_json::Map<String, serde_json::Value>,
                           name: &str,
                           value: Option<serde_json::Value>| {
                    if let Some(value) = value {
                        map.insert(name.to_owned(), value);
                    }
                };
                put(&mut object, "offset", offset);
                put(&mut object, "line", line);
                put(&mut object, "record", record);
                if let Some(hash) = hash {
                    let mut identity = serde_json::Map::new();
                    put(&mut identity, "head_len", head_len);
                    put(&mut identity, "tail_len", tail_len);
                    identity.insert("size".into(), 10.into());
                    identity.insert("head_xxh3".into(), hash.clone().into());
                    identity.insert("tail_xxh3".into(), hash.into());
                    object.insert("identity".into(), identity.into());
                }
                serde_json::Value::Object(object)
            });
        prop_oneof![1 => any_json, 3 => position]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_file_readers_on_arbitrary_bytes(
            format in format(),
            contents in prop::collection::vec(any::<u8>(), 0..300).prop_map(Contents),
            batch in 1..5usize,
            restore_at in any::<prop::sample::Index>(),
        ) {
            check_file(format, &contents.0, batch, restore_at);
        }

        #[test]
        fn fuzz_file_readers_on_near_valid_files(
            (format, contents) in format().prop_flat_map(|format| (Just(format), near_valid_file(format).prop_map(Contents))),
            batch in 1..5usize,
            restore_at in any::<prop::sample::Index>(),
        ) {
            check_file(format, &contents.0, batch, restore_at);
        }

        /// A restore parses the position a checkpoint holds: any JSON is a position or an error,
        /// and a reader restored at a parsed position reads on without panicking.
        #[test]
        fn fuzz_restored_positions(format in format(), position in json()) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("input");
            let contents = match format {
                Format::JsonLines => "{\"name\":\"a\",\"value\":1}\n\n{\"name\":\"b\",\"value\":2}\n",
                Format::Csv { has_header: true } => "name,value\na,1\nb,2\n",
                Format::Csv { has_header: false } => "a,1\nb,2\n",
            };
            std::fs::write(&path, contents).unwrap();
            let parsed = FilePosition::parse(&path, &position);
            let mut reader = open(format, &path, BadRecords::DeadLetter);
            match reader.restore_position(position) {
                Ok(()) => {
                    prop_assert!(parsed.is_ok());
                    let mut output = SplitOutput::default();
                    for _ in 0..10 {
                        match reader.read(&mut output, 2) {
                            Ok(ReadStatus::Finished) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    let _ = reader.snapshot_position();
                }
                Err(error) => prop_assert!(matches!(error, Error::Checkpoint(_) | Error::Io { .. }), "{error}"),
            }
        }
    }

    /// Found by `fuzz_file_readers_on_near_valid_files`, not fixed: csv 1.4 counts the LF of a
    /// CRLF line ending only when it reads the next record, so in a CRLF file the first two
    /// records report the same line, later ones a line too few, and records can share a
    /// position (and so a tag). Fixing it needs line numbers counted outside csv.
    #[test]
    #[ignore = "known bug: CSV line numbers after CRLF line endings are one behind (see above)"]
    fn csv_lines_after_crlf_are_one_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crlf.csv");
        std::fs::write(&path, "name,value\r\na,1\r\nb,2\r\n").unwrap();
        let mut reader = CsvReader::<Row>::open(path, true, BadRecords::Fail).unwrap();
        let mut output = SplitOutput::default();
        reader.read(&mut output, 10).unwrap();
        let lines: Vec<u64> = output.take().0.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![2, 3]);
    }

    /// Found by `fuzz_file_readers_on_near_valid_files`, not fixed: after a seek csv strips
    /// a byte-order mark at the new position as if it began the file, so a restore right
    /// before a line that starts with one (files concatenated with their marks) reads that
    /// line differently than the run that checkpointed.
    #[test]
    #[ignore = "known bug: a CSV restore strips a byte-order mark at the restored offset (see above)"]
    fn csv_restores_before_a_byte_order_mark_mid_file_skip_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bom.csv");
        std::fs::write(&path, "name,value\na,1\n\u{feff}b,2\n").unwrap();
        let mut reader = CsvReader::<Row>::open(path, true, BadRecords::Fail).unwrap();
        reader.restore_position(serde_json::json!({"offset": 15, "line": 3, "record": 2})).unwrap();
        let mut output = SplitOutput::default();
        reader.read(&mut output, 10).unwrap();
        let names: Vec<String> = output.take().0.into_iter().map(|(_, row)| row.name).collect();
        assert_eq!(names, vec!["\u{feff}b".to_string()]);
    }

    /// Found by `fuzz_file_readers_on_near_valid_files`: restoring a CSV file with a header
    /// at a position taken before anything was read sought back to byte 0 and read the header
    /// row as a record.
    #[test]
    fn csv_restores_at_the_start_do_not_read_the_header_as_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "name,value\n").unwrap();
        let mut reader = CsvReader::<Row>::open(path, true, BadRecords::DeadLetter).unwrap();
        reader.restore_position(serde_json::json!({"offset": 0, "line": 1, "record": 0})).unwrap();
        let mut output = SplitOutput::default();
        assert_eq!(reader.read(&mut output, 10).unwrap(), ReadStatus::Finished);
        let (records, dead_letters) = output.take();
        assert!(records.is_empty() && dead_letters.is_empty(), "{dead_letters:?}");
    }

    /// Found by `fuzz_restored_positions`: a position with a line number no file can have
    /// overflowed the JSON-lines reader's line count, and line 0 tripped an assertion in csv.
    #[test]
    fn impossible_positions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        std::fs::write(&path, "a,1\n").unwrap();
        let mut json_lines = JsonLinesReader::<Row>::open(path.clone(), BadRecords::Fail).unwrap();
        let error =
            json_lines.restore_position(serde_json::json!({"offset": 0, "line": u64::MAX - 1})).unwrap_err();
        assert!(error.to_string().contains("more lines or records than bytes"), "{error}");
        let mut csv = CsvReader::<Row>::open(path, false, BadRecords::Fail).unwrap();
        let error = csv.restore_position(serde_json::json!({"offset": 2, "line": 0})).unwrap_err();
        assert!(error.to_string().contains("line starts at 1"), "{error}");
    }
}
