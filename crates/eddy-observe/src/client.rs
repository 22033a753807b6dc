//! A minimal client of the REST API (for `eddy status --metrics-addr`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use eddy_core::error::{Error, Result};
use serde_json::Value;

/// `GET path` from the server at `addr` (see [`crate::parse_addr`]) as JSON.
pub fn get_json(addr: &str, path: &str, timeout: Duration) -> Result<Value> {
    let socket = crate::parse_addr(addr)?;
    let io = |error| Error::io(format!("GET http://{socket}{path}"), error);
    let mut stream = TcpStream::connect_timeout(&socket, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {socket}\r\n\r\n").map_err(io)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(io)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        return Err(Error::Config(format!("GET http://{socket}{path}: status {status}: {body}")));
    }
    serde_json::from_str(body)
        .map_err(|error| Error::Config(format!("GET http://{socket}{path}: not JSON ({error}): {body}")))
}

/// The overview and operators of `/jobs/current` as lines for a terminal.
pub fn status_text(overview: &Value, operators: &Value) -> String {
    let number = |value: &Value| value.as_u64().map_or("-".to_owned(), |n| n.to_string());
    let mut text = format!(
        "state: {}\nuptime: {} ms\nprocesses: {} (reporting: {}), workers: {}\nrestarts: {}\nrecords in: {}\nrecords out: {}\ndead letters: {}\nsource watermark: {}\nlast checkpoint: {}\n",
        overview["state"].as_str().unwrap_or("?"),
        number(&overview["uptime_ms"]),
        number(&overview["processes"]),
        overview["process_figures"].as_array().map_or(0, Vec::len),
        number(&overview["total_workers"]),
        number(&overview["restarts"]),
        number(&overview["records_read"]),
        number(&overview["records_out"]),
        number(&overview["dead_letters"]),
        number(&overview["source_watermark"]),
        number(&overview["last_checkpoint"]),
    );
    text.push_str("operators (id, name, uid, parallelism, records in, records out):\n");
    for operator in operators["operators"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "  {}  {}  {}  x{}  {}  {}\n",
            operator["id"].as_str().unwrap_or("?"),
            operator["name"].as_str().unwrap_or("?"),
            operator["uid"].as_str().unwrap_or("-"),
            number(&operator["parallelism"]),
            number(&operator["records_in"]),
            number(&operator["records_out"]),
        ));
    }
    text
}
