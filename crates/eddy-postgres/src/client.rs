//! A small synchronous PostgreSQL client on `postgres-protocol`: start-up and authentication
//! (trust, cleartext, MD5, SCRAM-SHA-256), the simple query protocol with text results, and
//! the copy-both mode of a replication connection. eddy's sources and sinks run on worker
//! threads and block; an async client would bring a runtime for nothing, and no maintained
//! client speaks the streaming replication protocol.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use eddy_core::error::Error;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;

/// Where and as whom to connect: parsed from `postgresql://user:password@host:port/database`
/// (every part optional: user `postgres`, host `127.0.0.1`, port 5432, database = user) or
/// `host:port`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// The server's host name or address.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// The role to log in as.
    pub user: String,
    /// Its password, if the server asks for one.
    pub password: Option<String>,
    /// The database.
    pub database: String,
}

impl std::fmt::Debug for ConnectConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(formatter, "{self}")
    }
}

impl std::fmt::Display for ConnectConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "postgresql://{}@{}:{}/{}", self.user, self.host, self.port, self.database)
    }
}

impl ConnectConfig {
    /// Parses a `postgresql://` URL or `host:port`.
    pub fn parse(url: &str) -> Result<ConnectConfig, Error> {
        let bad = |why: &str| Error::Config(format!("PostgreSQL address `{url}`: {why}"));
        let rest =
            url.strip_prefix("postgresql://").or_else(|| url.strip_prefix("postgres://")).unwrap_or(url);
        let rest = rest.split('?').next().unwrap_or_default();
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((credentials, rest)) => (Some(credentials), rest),
            None => (None, rest),
        };
        let (authority, database) = match rest.split_once('/') {
            Some((authority, database)) => (authority, Some(database)),
            None => (rest, None),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad("the port is not a number"))?),
            None => (authority, 5432),
        };
        let (user, password) = match credentials {
            Some(credentials) => match credentials.split_once(':') {
                Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
                None => (credentials.to_owned(), None),
            },
            None => ("postgres".to_owned(), None),
        };
        if user.is_empty() {
            return Err(bad("empty user name"));
        }
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        Ok(ConnectConfig {
            host: host.to_owned(),
            port,
            database: database.filter(|name| !name.is_empty()).unwrap_or(&user).to_owned(),
            user,
            password,
        })
    }
}

/// An error PostgreSQL reported (an `ErrorResponse`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// SQLSTATE, such as `42P01` (undefined table).
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The detail, if any.
    pub detail: Option<String>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} (SQLSTATE {})", self.message, self.code)?;
        if let Some(detail) = &self.detail {
            write!(formatter, ": {detail}")?;
        }
        Ok(())
    }
}

/// What went wrong talking to the server.
#[derive(Debug)]
pub enum ClientError {
    /// The connection failed or was lost: retrying on a new connection may help.
    Io(io::Error),
    /// The server refused a statement or the login.
    Server(ServerError),
    /// The server sent something this client does not understand.
    Protocol(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(error) => write!(formatter, "connection: {error}"),
            ClientError::Server(error) => write!(formatter, "{error}"),
            ClientError::Protocol(what) => write!(formatter, "protocol: {what}"),
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error)
    }
}

impl ClientError {
    /// Whether a new connection may succeed where this one failed: a lost connection, a
    /// server shutting down or starting up, too many connections.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Io(_) => true,
            ClientError::Server(error) => {
                // 55006: a replication slot still held by the server process of a connection
                // that was just lost.
                error.code.starts_with("08")
                    || error.code.starts_with("57P")
                    || error.code == "53300"
                    || error.code == "55006"
            }
            ClientError::Protocol(_) => false,
        }
    }

    /// As an eddy error, with what eddy was doing: lost connections are external (a restart may
    /// help), refusals of the server are configuration errors of the user.
    pub fn into_error(self, context: impl Into<String>) -> Error {
        let context = context.into();
        match self {
            ClientError::Io(error) => Error::io(context, error),
            error if error.is_transient() => Error::io(context, io::Error::other(error.to_string())),
            error => Error::Config(format!("{context}: {error}")),
        }
    }
}

pub(crate) type ClientResult<T> = std::result::Result<T, ClientError>;

/// The rows of a query in text format: column names and type OIDs, then one `Option<String>`
/// per column (`None` for NULL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    /// (name, type OID) of each column.
    pub columns: Vec<(String, u32)>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

/// One connection to the server.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read but not yet parsed.
    input: BytesMut,
    output: BytesMut,
    /// The server's backend process id (for `pg_terminate_backend` in tests).
    pub backend_pid: i32,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Connection {
    /// Connects and logs in. `replication` opens a logical replication connection
    /// (`replication=database`), which accepts replication commands and SQL.
    pub fn connect(config: &ConnectConfig, replication: bool) -> ClientResult<Connection> {
        let address = (config.host.as_str(), config.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other(format!("no address for host {}", config.host)))?;
        let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        let mut connection = Connection {
            stream,
            input: BytesMut::with_capacity(64 * 1024),
            output: BytesMut::new(),
            backend_pid: 0,
        };
        let mut parameters = vec![
            ("user", config.user.as_str()),
            ("database", config.database.as_str()),
            ("application_name", "eddy"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO"),
            ("TimeZone", "UTC"),
            ("extra_float_digits", "3"),
        ];
        if replication {
            parameters.push(("replication", "database"));
        }
        frontend::startup_message(parameters, &mut connection.output)?;
        connection.flush()?;
        connection.authenticate(config)?;
        loop {
            match connection.next_message()? {
                Message::BackendKeyData(body) => connection.backend_pid = body.process_id(),
                Message::ReadyForQuery(_) => break,
                Message::ErrorResponse(body) => return Err(ClientError::Server(server_error(&body))),
                _ => {}
            }
        }
        // Text literals the sink writes rely on this; it is the default since 9.1.
        connection.execute("SET standard_conforming_strings = on")?;
        Ok(connection)
    }

    fn authenticate(&mut self, config: &ConnectConfig) -> ClientResult<()> {
        let password = || {
            config.password.clone().ok_or_else(|| {
                ClientError::Protocol(format!("the server asks for a password for role `{}`", config.user))
            })
        };
        loop {
            match self.next_message()? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?.as_bytes(), &mut self.output)?;
                    self.flush()?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        config.user.as_bytes(),
                        password()?.as_bytes(),
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.output)?;
                    self.flush()?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut scram = false;
                    while let Some(mechanism) = mechanisms.next()? {
                        scram |= mechanism == SCRAM_SHA_256;
                    }
                    if !scram {
                        return Err(ClientError::Protocol("the server offers no SCRAM-SHA-256".into()));
                    }
                    let mut sasl = ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, sasl.message(), &mut self.output)?;
                    self.flush()?;
                    loop {
                        match self.next_message()? {
                            Message::AuthenticationSaslContinue(body) => {
                                sasl.update(body.data())?;
                                frontend::sasl_response(sasl.message(), &mut self.output)?;
                                self.flush()?;
                            }
                            Message::AuthenticationSaslFinal(body) => {
                                sasl.finish(body.data())?;
                                break;
                            }
                            Message::ErrorResponse(body) => {
                                return Err(ClientError::Server(server_error(&body)))
                            }
                            _ => return Err(ClientError::Protocol("unexpected message during SCRAM".into())),
                        }
                    }
                }
                Message::ErrorResponse(body) => return Err(ClientError::Server(server_error(&body))),
                _ => return Err(ClientError::Protocol("unsupported authentication method".into())),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.output)?;
        self.output.clear();
        Ok(())
    }

    /// Reads more bytes; `Ok(false)` when a read timeout set on the socket expired.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")),
            Ok(n) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Ok(false)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// The next whole message, or `None` when the read timeout expired first.
    fn try_next(&mut self) -> ClientResult<Option<Raw>> {
        loop {
            if self.input.len() >= 5 {
                let tag = self.input[0];
                let length =
                    u32::from_be_bytes([self.input[1], self.input[2], self.input[3], self.input[4]]) as usize;
                if self.input.len() > length {
                    // Copy-both (`W`) is not known to postgres-protocol's parser.
                    if tag == b'W' {
                        self.input.advance(1 + length);
                        return Ok(Some(Raw::CopyBoth));
                    }
                    return match Message::parse(&mut self.input)? {
                        Some(message) => Ok(Some(Raw::Message(message))),
                        None => Err(ClientError::Protocol("incomplete message".into())),
                    };
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn next_message(&mut self) -> ClientResult<Message> {
        loop {
            match self.try_next()? {
                Some(Raw::Message(Message::NoticeResponse(_) | Message::ParameterStatus(_))) => {}
                Some(Raw::Message(message)) => return Ok(message),
                Some(Raw::CopyBoth) => return Err(ClientError::Protocol("unexpected copy-both".into())),
                None => {}
            }
        }
    }

    /// Runs `sql` (one or more statements, simple protocol) and returns the rows of the last
    /// statement that returned rows. The first error stops the statements after it; the
    /// connection stays usable.
    pub fn query(&mut self, sql: &str) -> ClientResult<Rows> {
        frontend::query(sql, &mut self.output)?;
        self.flush()?;
        let mut result = Rows::default();
        let mut current = Rows::default();
        let mut error = None;
        loop {
            match self.next_message()? {
                Message::RowDescription(body) => {
                    current = Rows::default();
                    let mut fields = body.fields();
                    while let Some(field) = fields.next()? {
                        current.columns.push((field.name().to_owned(), field.type_oid()));
                    }
                }
                Message::DataRow(body) => {
                    let buffer = body.buffer();
                    let mut ranges = body.ranges();
                    let mut row = Vec::with_capacity(current.columns.len());
                    while let Some(range) = ranges.next()? {
                        row.push(
                            range
                                .map(|range| {
                                    std::str::from_utf8(&buffer[range]).map(str::to_owned).map_err(|_| {
                                        ClientError::Protocol("a text value is not UTF-8".into())
                                    })
                                })
                                .transpose()?,
                        );
                    }
                    current.rows.push(row);
                }
                Message::CommandComplete(_) if !current.columns.is_empty() => {
                    result = std::mem::take(&mut current);
                }
                Message::ErrorResponse(body) => error = Some(server_error(&body)),
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("eddy does not send COPY data here", &mut self.output)?;
                    self.flush()?;
                }
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(error) => Err(ClientError::Server(error)),
            None => Ok(result),
        }
    }

    /// Runs statements whose rows are not needed.
    pub fn execute(&mut self, sql: &str) -> ClientResult<()> {
        self.query(sql).map(drop)
    }

    /// Sends a replication command that enters copy-both mode (`START_REPLICATION`).
    pub fn start_copy_both(&mut self, command: &str) -> ClientResult<()> {
        frontend::query(command, &mut self.output)?;
        self.flush()?;
        loop {
            match self.try_next()? {
                Some(Raw::CopyBoth) => return Ok(()),
                Some(Raw::Message(Message::ErrorResponse(body))) => {
                    let error = server_error(&body);
                    // Wait for ReadyForQuery so the connection stays usable.
                    while !matches!(self.next_message()?, Message::ReadyForQuery(_)) {}
                    return Err(ClientError::Server(error));
                }
                Some(_) | None => {}
            }
        }
    }

    /// In copy-both mode: the next `CopyData` payload, waiting at most `timeout`; `None` if
    /// none came in time. The end of the stream (`CopyDone`) or an error is an error.
    pub fn read_copy_data(&mut self, timeout: Duration) -> ClientResult<Option<bytes::Bytes>> {
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let result = loop {
            match self.try_next() {
                Ok(Some(Raw::Message(Message::CopyData(body)))) => break Ok(Some(body.into_bytes())),
                Ok(Some(Raw::Message(Message::ErrorResponse(body)))) => {
                    break Err(ClientError::Server(server_error(&body)))
                }
                Ok(Some(Raw::Message(Message::CopyDone))) => {
                    break Err(ClientError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server ended the replication stream",
                    )))
                }
                Ok(Some(_)) => {}
                Ok(None) => break Ok(None),
                Err(error) => break Err(error),
            }
        };
        self.stream.set_read_timeout(None)?;
        result
    }

    /// In copy-both mode: sends one `CopyData` message.
    pub fn send_copy_data(&mut self, data: &[u8]) -> ClientResult<()> {
        frontend::CopyData::new(data)?.write(&mut self.output);
        self.flush()?;
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut output = BytesMut::new();
        frontend::terminate(&mut output);
        let _ = self.stream.write_all(&output);
    }
}

enum Raw {
    Message(Message),
    CopyBoth,
}

fn server_error(body: &ErrorResponseBody) -> ServerError {
    let mut error = ServerError { code: String::new(), message: String::new(), detail: None };
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'C' => error.code = value,
            b'M' => error.message = value,
            b'D' => error.detail = Some(value),
            _ => {}
        }
    }
    error
}

/// `text` as a SQL string literal (standard-conforming strings: quotes doubled). PostgreSQL
/// text cannot hold NUL; such a value is an error where it is encoded.
pub fn literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for character in text.chars() {
        if character == '\'' {
            quoted.push('\'');
        }
        quoted.push(character);
    }
    quoted.push('\'');
    quoted
}

/// `name` as a SQL identifier (double quotes, doubled inside).
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A possibly schema-qualified table name (`schema.table`, each part as written, unquoted)
/// as SQL.
pub fn qualified(table: &str) -> String {
    match table.split_once('.') {
        Some((schema, name)) => format!("{}.{}", identifier(schema), identifier(name)),
        None => identifier(table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_defaults() {
        let full =
            ConnectConfig::parse("postgresql://alice:se:cret@db.example:6543/shop?sslmode=disable").unwrap();
        assert_eq!(
            (
                full.user.as_str(),
                full.password.as_deref(),
                full.host.as_str(),
                full.port,
                full.database.as_str()
            ),
            ("alice", Some("se:cret"), "db.example", 6543, "shop")
        );
        let short = ConnectConfig::parse("127.0.0.1:15432").unwrap();
        assert_eq!(
            (short.user.as_str(), short.port, short.database.as_str()),
            ("postgres", 15432, "postgres")
        );
        assert!(ConnectConfig::parse("postgres://h:port/x").unwrap_err().to_string().contains("port"));
        assert!(!format!("{full:?}").contains("se:cret"), "the password is never printed");
    }

    #[test]
    fn literals_and_identifiers_are_quoted() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified("public.Orders"), "\"public\".\"Orders\"");
    }
}
