//! The control link between the checkpoint coordinators of a multi-process job.
//!
//! Process 0 leads: it alone triggers checkpoints, writes manifests, applies retention and
//! serves the control socket. Every other process follows over one TCP connection to the
//! leader (opened with the data connections, see [`crate::cluster`]), carrying JSON lines:
//!
//! ```text
//! leader                                   follower
//!   Hello {run_id, restore, ..}       ->      (before the workers start)
//!   Prepare {id}                      ->      freeze claims, answer the highest claimed time
//!                                     <-   Prepared {id, claimed}
//!   Announce {id, time, kind, dir}    ->      announce E = time, thaw claims, collect parts
//!   (or Cancel {id}: the input ended)
//!                                     <-   Done {id, operators}: every local part is durable
//!   (manifest written)
//!   Commit {id}                       ->      commit local sinks
//!   Halt                              ->      stop after a stop-with-savepoint
//!                                     <-   Finished {succeeded}: local workers are done
//!   Final {id, dir}                   ->      write the final parts into dir, answer Done
//! ```
//!
//! # Why the cut stays consistent across processes
//! The claim rule (see [`super::control`]) needs `E` above every time that exists anywhere.
//! A follower *freezes* its claims while a checkpoint is being prepared: a claim that would
//! raise its highest claimed time waits until the leader announces `E` (or cancels). The
//! leader takes `E` above the highest claim of every process, each reported after its
//! freeze, so when `E` is announced no time `>= E` exists in any process, and whoever later
//! creates one learns of `E` from its claim.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc;

use super::messages::{Message, Wire};
use crate::error::{Error, Result};

/// The sending half of a connection to another process's coordinator.
pub(crate) struct Peer {
    pub(crate) process: usize,
    writer: TcpStream,
}

impl Peer {
    pub(crate) fn send(&mut self, message: &Wire) -> Result<()> {
        let mut line = serde_json::to_vec(message).map_err(|error| Error::Internal(error.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line).map_err(|error| {
            Error::Cluster(format!("sending to the coordinator of process {}: {error}", self.process))
        })
    }
}

/// The receiving half.
pub(crate) struct PeerReader {
    process: usize,
    reader: BufReader<TcpStream>,
}

/// Splits a control connection to process `process`.
pub(crate) fn split(process: usize, stream: TcpStream) -> Result<(Peer, PeerReader)> {
    let reader = stream
        .try_clone()
        .map_err(|error| Error::Cluster(format!("control connection to process {process}: {error}")))?;
    Ok((Peer { process, writer: stream }, PeerReader { process, reader: BufReader::new(reader) }))
}

impl PeerReader {
    /// Reads the next message (blocking); an error when the connection ends.
    pub(crate) fn read(&mut self) -> Result<Wire> {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line).map_err(|error| {
            Error::Cluster(format!("the control connection to process {} failed: {error}", self.process))
        })?;
        if read == 0 {
            return Err(Error::Cluster(format!("process {} closed its control connection", self.process)));
        }
        serde_json::from_str(&line).map_err(|error| {
            Error::Cluster(format!("bad message `{}` from process {}: {error}", line.trim(), self.process))
        })
    }

    /// Forwards every message to the coordinator's channel, then the error that ended the
    /// connection.
    pub(crate) fn forward(mut self, sender: mpsc::Sender<Message>) -> Result<()> {
        let name = format!("eddy-link-{}", self.process);
        std::thread::Builder::new()
            .name(name)
            .spawn(move || loop {
                let message = self.read();
                let ended = message.is_err();
                if sender.send(Message::Peer { process: self.process, message }).is_err() || ended {
                    break;
                }
            })
            .map(drop)
            .map_err(|error| Error::io("starting a control link thread", error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::store::CheckpointKind;

    #[test]
    fn messages_are_one_json_line_each() {
        let message =
            Wire::Announce { id: 3, time: 17, kind: CheckpointKind::Savepoint, dir: "/sp/1".into() };
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(text, r#"{"type":"announce","id":3,"time":17,"kind":"savepoint","dir":"/sp/1"}"#);
        assert_eq!(serde_json::from_str::<Wire>(&text).unwrap(), message);
    }
}
