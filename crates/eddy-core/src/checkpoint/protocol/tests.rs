//! The protocol step by step, including every failure path.

use super::*;
use crate::checkpoint::part::PartKind;
use crate::checkpoint::store::part_entry;

type P = Protocol<u32>;

fn settings(processes: usize, process: usize) -> Settings {
    Settings {
        dir: PathBuf::from("/chk"),
        interval_ms: Some(100),
        process,
        processes,
        total_workers: 2 * processes,
        first_id: 1,
    }
}

fn part(checkpoint: u64, uid: &str, kind: PartKind, worker: usize) -> Part {
    let committables = if kind == PartKind::Sink {
        vec![serde_json::json!({ "file": uid, "worker": worker })]
    } else {
        Vec::new()
    };
    Part {
        checkpoint,
        uid: uid.into(),
        kind,
        version: None,
        worker,
        bytes: format!("{uid}@{worker}").into_bytes(),
        entries: 1,
        committables,
    }
}

fn name(action: &Action<u32>) -> &'static str {
    match action {
        Action::CheckTarget { .. } => "check-target",
        Action::Freeze => "freeze",
        Action::Thaw => "thaw",
        Action::Announce { .. } => "announce",
        Action::Retire { .. } => "retire",
        Action::Close => "close",
        Action::CreateDir { .. } => "create-dir",
        Action::RemoveDir { .. } => "remove-dir",
        Action::WritePart { .. } => "write-part",
        Action::WriteManifest { .. } => "write-manifest",
        Action::MarkCommitting { .. } => "mark-committing",
        Action::Commit { .. } => "commit",
        Action::Completed { .. } => "completed",
        Action::ApplyRetention => "retention",
        Action::Send { .. } => "send",
        Action::Reply { .. } => "reply",
        Action::Failpoint(_) => "failpoint",
        Action::Log(_) => "log",
        Action::Halt => "halt",
    }
}

fn names(actions: &[Action<u32>]) -> Vec<&'static str> {
    actions.iter().map(name).collect()
}

fn handle(protocol: &mut P, now: u64, event: Event<u32>) -> Vec<Action<u32>> {
    protocol.handle(now, event).expect("no error")
}

fn tick(protocol: &mut P, now: u64) -> Vec<Action<u32>> {
    handle(protocol, now, Event::Tick { failed: false })
}

fn manifest(actions: &[Action<u32>]) -> &Manifest {
    actions
        .iter()
        .find_map(|action| match action {
            Action::WriteManifest { manifest, .. } => Some(&**manifest),
            _ => None,
        })
        .expect("a manifest")
}

fn sent(actions: &[Action<u32>]) -> Vec<(Peers, Wire)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send { to, message } => Some((*to, message.clone())),
            _ => None,
        })
        .collect()
}

fn replies(actions: Vec<Action<u32>>) -> Vec<(u32, ControlResponse)> {
    actions
        .into_iter()
        .filter_map(|action| match action {
            Action::Reply { to, response } => Some((to, response)),
            _ => None,
        })
        .collect()
}

/// A single-process protocol with `participants` parts per checkpoint, built.
fn single(participants: usize) -> P {
    let mut protocol = P::new(settings(1, 0), 0);
    handle(&mut protocol, 0, Event::Built { participants });
    protocol
}

/// Triggers the periodic checkpoint and announces it above `claimed`.
fn trigger(protocol: &mut P, now: u64, claimed: u64) -> Vec<Action<u32>> {
    assert_eq!(names(&tick(protocol, now)), ["freeze"]);
    handle(protocol, now, Event::Frozen { claimed: Some(claimed) })
}

#[test]
fn a_periodic_checkpoint_is_announced_above_every_claim_and_committed_after_its_manifest() {
    let mut protocol = single(2);
    assert!(tick(&mut protocol, 99).is_empty(), "not before the interval");
    let announced = trigger(&mut protocol, 100, 41);
    assert_eq!(names(&announced), ["create-dir", "announce"]);
    assert!(matches!(announced[0], Action::CreateDir { ref dir } if dir.ends_with("chk-0000000001")));
    assert!(matches!(announced[1], Action::Announce { id: 1, time: 42 }));
    assert!(tick(&mut protocol, 110).is_empty(), "no trigger while one is in flight");

    let written = handle(&mut protocol, 120, Event::Part(part(1, "source", PartKind::Source, 0)));
    assert_eq!(names(&written), ["write-part"]);
    assert!(tick(&mut protocol, 130).is_empty(), "one part missing");
    handle(&mut protocol, 140, Event::Part(part(1, "sink", PartKind::Sink, 0)));
    let completed = tick(&mut protocol, 150);
    assert_eq!(
        names(&completed),
        [
            "failpoint",
            "write-manifest",
            "failpoint",
            "mark-committing",
            "commit",
            "failpoint",
            "completed",
            "retention",
            "log"
        ]
    );
    let manifest = manifest(&completed);
    assert_eq!((manifest.id, manifest.logical_time, manifest.finished), (1, 42, false));
    assert_eq!(manifest.kind, CheckpointKind::Checkpoint);
    let uids: Vec<_> = manifest.operators.iter().map(|operator| operator.uid.as_str()).collect();
    assert_eq!(uids, ["sink", "source"]);
    assert_eq!(manifest.stats.duration_ms, 50);
    assert_eq!(manifest.stats.snapshot_ms, 40);
    let Action::Commit { staged } = &completed[4] else { panic!() };
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].0, "sink");
    assert!(matches!(completed[6], Action::Completed { id: 1 }));

    // The next one comes an interval after the trigger, with the next id.
    assert!(tick(&mut protocol, 199).is_empty());
    let announced = trigger(&mut protocol, 200, 50);
    assert!(matches!(announced[1], Action::Announce { id: 2, time: 51 }));
}

#[test]
fn nothing_completes_before_every_worker_has_built_its_dataflow() {
    let mut protocol = P::new(settings(1, 0), 0);
    trigger(&mut protocol, 100, 0);
    handle(&mut protocol, 100, Event::Part(part(1, "a", PartKind::Keyed, 0)));
    assert!(tick(&mut protocol, 110).is_empty());
    handle(&mut protocol, 110, Event::Built { participants: 1 });
    assert!(names(&tick(&mut protocol, 120)).contains(&"write-manifest"));
}

#[test]
fn parts_of_abandoned_or_unknown_checkpoints_are_ignored() {
    let mut protocol = single(1);
    assert!(handle(&mut protocol, 0, Event::Part(part(9, "a", PartKind::Keyed, 0))).is_empty());
}

#[test]
fn a_second_part_of_the_same_participant_is_ignored() {
    let mut protocol = single(2);
    trigger(&mut protocol, 100, 0);
    handle(&mut protocol, 100, Event::Part(part(1, "a", PartKind::Keyed, 0)));
    assert!(handle(&mut protocol, 100, Event::Part(part(1, "a", PartKind::Keyed, 0))).is_empty());
    assert!(tick(&mut protocol, 110).is_empty(), "still one participant missing");
}

#[test]
fn status_answers_with_the_last_completed_checkpoint() {
    let mut protocol = single(1);
    handle(&mut protocol, 0, Event::Request(ControlRequest::Status, 7));
    let answered = replies(tick(&mut protocol, 1));
    assert_eq!(answered, [(7, ControlResponse { ok: true, path: None, error: None })]);
    trigger(&mut protocol, 100, 0);
    handle(&mut protocol, 100, Event::Part(part(1, "a", PartKind::Keyed, 0)));
    tick(&mut protocol, 100);
    handle(&mut protocol, 101, Event::Request(ControlRequest::Status, 8));
    let answered = replies(tick(&mut protocol, 101));
    assert_eq!(answered[0].1.path, Some(PathBuf::from("/chk/chk-0000000001")));
}

#[test]
fn a_savepoint_checks_its_target_and_refuses_an_unusable_one() {
    let mut protocol = single(1);
    let request = ControlRequest::Savepoint { target: None, stop: false };
    handle(&mut protocol, 0, Event::Request(request, 3));
    let checking = tick(&mut protocol, 1);
    assert_eq!(names(&checking), ["check-target"]);
    assert!(matches!(&checking[0], Action::CheckTarget { dir } if dir.ends_with("savepoints/savepoint-1")));
    assert!(tick(&mut protocol, 200).is_empty(), "no periodic trigger while checking");
    let refused = handle(&mut protocol, 2, Event::TargetChecked(Err("/x exists and is not empty".into())));
    assert_eq!(replies(refused), [(3, ControlResponse::failed("/x exists and is not empty"))]);
    // The job goes on: the periodic checkpoint takes id 1.
    assert_eq!(names(&tick(&mut protocol, 300)), ["freeze"]);
}

#[test]
fn stop_with_savepoint_answers_then_halts() {
    let mut protocol = single(1);
    let request = ControlRequest::Savepoint { target: Some("/sp".into()), stop: true };
    handle(&mut protocol, 0, Event::Request(request, 4));
    tick(&mut protocol, 1);
    assert_eq!(names(&handle(&mut protocol, 1, Event::TargetChecked(Ok("/sp".into())))), ["freeze"]);
    let announced = handle(&mut protocol, 1, Event::Frozen { claimed: Some(9) });
    assert!(matches!(&announced[0], Action::CreateDir { dir } if dir == &PathBuf::from("/sp")));
    handle(&mut protocol, 2, Event::Part(part(1, "a", PartKind::Keyed, 0)));
    let completed = tick(&mut protocol, 3);
    assert_eq!(manifest(&completed).kind, CheckpointKind::Savepoint);
    assert!(!names(&completed).contains(&"retention"), "savepoints are not retained checkpoints");
    assert_eq!(&names(&completed)[names(&completed).len() - 3..], ["reply", "close", "halt"]);
    assert!(protocol.halted());
    assert_eq!(replies(completed)[0].1.path, Some(PathBuf::from("/sp")));
    // Halted: nothing more is triggered.
    assert!(tick(&mut protocol, 1_000).is_empty());
}

#[test]
fn a_savepoint_after_the_input_ended_is_refused() {
    let mut protocol = single(1);
    handle(&mut protocol, 0, Event::Request(ControlRequest::Savepoint { target: None, stop: false }, 5));
    tick(&mut protocol, 1);
    handle(&mut protocol, 1, Event::TargetChecked(Ok("/sp".into())));
    let refused = replies(handle(&mut protocol, 1, Event::Frozen { claimed: None }));
    assert_eq!(refused[0].0, 5);
    assert!(refused[0].1.error.as_deref().unwrap().contains("input has ended"));
}

#[test]
fn the_final_checkpoint_is_written_before_the_last_output_is_committed() {
    let mut protocol = single(2);
    // A participant ends while checkpoint 1 is in flight: its final part stands in for it.
    trigger(&mut protocol, 100, 0);
    let written = handle(&mut protocol, 100, Event::Part(part(FINAL, "source", PartKind::Source, 0)));
    assert_eq!(names(&written), ["write-part"], "added to the checkpoint in flight");
    handle(&mut protocol, 101, Event::Part(part(1, "sink", PartKind::Sink, 0)));
    assert!(names(&tick(&mut protocol, 102)).contains(&"commit"));
    // The sink ends too; the workers are done.
    handle(&mut protocol, 103, Event::Part(part(FINAL, "sink", PartKind::Sink, 0)));
    handle(&mut protocol, 104, Event::WorkersDone { succeeded: true });
    assert!(!protocol.done());
    let final_checkpoint = tick(&mut protocol, 105);
    let manifest = manifest(&final_checkpoint);
    assert_eq!(
        (manifest.kind, manifest.finished, manifest.logical_time),
        (CheckpointKind::Final, true, u64::MAX)
    );
    let order = names(&final_checkpoint);
    let at = |what| order.iter().position(|name| *name == what).unwrap();
    assert!(at("write-part") < at("write-manifest") && at("write-manifest") < at("commit"));
    assert!(protocol.done());
}

#[test]
fn a_checkpoint_holding_staged_output_is_waited_for_at_the_end_never_abandoned() {
    let mut protocol = single(2);
    trigger(&mut protocol, 100, 0);
    handle(&mut protocol, 100, Event::Part(part(1, "sink", PartKind::Sink, 0)));
    handle(&mut protocol, 101, Event::Part(part(FINAL, "sink", PartKind::Sink, 0)));
    handle(&mut protocol, 102, Event::WorkersDone { succeeded: true });
    // The other participant's part is still on its way: no final checkpoint yet.
    assert!(tick(&mut protocol, 103).is_empty());
    handle(&mut protocol, 104, Event::Part(part(FINAL, "keyed", PartKind::Keyed, 0)));
    let actions = tick(&mut protocol, 105);
    let manifests: Vec<_> = actions
        .iter()
        .filter_map(|action| match action {
            Action::WriteManifest { manifest, .. } => Some((manifest.id, manifest.kind)),
            _ => None,
        })
        .collect();
    assert_eq!(manifests, [(1, CheckpointKind::Checkpoint), (2, CheckpointKind::Final)]);
    assert!(protocol.done());
}

#[test]
fn a_final_checkpoint_missing_parts_is_an_error() {
    let mut protocol = single(2);
    handle(&mut protocol, 0, Event::Part(part(FINAL, "a", PartKind::Keyed, 0)));
    handle(&mut protocol, 0, Event::WorkersDone { succeeded: true });
    let error = protocol.handle(1, Event::Tick { failed: false }).unwrap_err().to_string();
    assert!(error.contains("1 of 2 parts"), "{error}");
}

#[test]
fn checkpoints_without_staged_output_are_abandoned_at_the_end() {
    let mut protocol = single(2);
    let savepoint = ControlRequest::Savepoint { target: Some("/sp".into()), stop: false };
    handle(&mut protocol, 0, Event::Request(savepoint, 6));
    tick(&mut protocol, 1);
    handle(&mut protocol, 1, Event::TargetChecked(Ok("/sp".into())));
    handle(&mut protocol, 1, Event::Frozen { claimed: Some(3) });
    handle(&mut protocol, 2, Event::Part(part(FINAL, "a", PartKind::Keyed, 0)));
    // "b" ends without answering (its final part arrives), the workers end.
    handle(&mut protocol, 3, Event::WorkersDone { succeeded: true });
    // In flight, but its parts are all in now that "b"'s final part is there.
    let actions = handle(&mut protocol, 4, Event::Part(part(FINAL, "b", PartKind::Keyed, 0)));
    assert_eq!(names(&actions), ["write-part"]);
    let finished = tick(&mut protocol, 5);
    assert_eq!(manifest(&finished).kind, CheckpointKind::Savepoint, "the savepoint completes first");
    assert!(protocol.done());
}

#[test]
fn a_failed_job_stops_without_a_final_checkpoint() {
    let mut protocol = single(1);
    assert!(handle(&mut protocol, 0, Event::Tick { failed: true }).is_empty());
    assert!(!protocol.done());
    handle(&mut protocol, 1, Event::WorkersDone { succeeded: false });
    handle(&mut protocol, 1, Event::Tick { failed: true });
    assert!(protocol.done());
}

#[test]
fn shutdown_answers_everything_still_waiting() {
    let mut protocol = single(2);
    handle(&mut protocol, 0, Event::Request(ControlRequest::Savepoint { target: None, stop: false }, 1));
    tick(&mut protocol, 1);
    handle(&mut protocol, 1, Event::TargetChecked(Ok("/sp".into())));
    handle(&mut protocol, 1, Event::Frozen { claimed: Some(0) });
    handle(&mut protocol, 2, Event::Request(ControlRequest::Savepoint { target: None, stop: false }, 2));
    let actions = protocol.shutdown();
    assert_eq!(names(&actions)[0], "close");
    let mut answered: Vec<u32> = replies(actions).into_iter().map(|(to, _)| to).collect();
    answered.sort_unstable();
    assert_eq!(answered, [1, 2]);
}

#[test]
fn the_leader_announces_above_the_highest_claim_of_every_process() {
    let mut protocol = P::new(settings(3, 0), 0);
    handle(&mut protocol, 0, Event::Built { participants: 1 });
    tick(&mut protocol, 100);
    let asked = handle(&mut protocol, 100, Event::Frozen { claimed: Some(5) });
    assert_eq!(sent(&asked), [(Peers::Followers, Wire::Prepare { id: 1 })]);
    let prepared = |claimed| Event::Peer { process: 1, message: Wire::Prepared { id: 1, claimed } };
    assert!(handle(&mut protocol, 101, prepared(Some(9))).is_empty(), "one follower still to answer");
    let announced = handle(&mut protocol, 102, prepared(Some(7)));
    assert!(matches!(announced[1], Action::Announce { id: 1, time: 10 }));
    let dir = PathBuf::from("chk-0000000001");
    let announce = Wire::Announce { id: 1, time: 10, kind: CheckpointKind::Checkpoint, dir };
    assert_eq!(sent(&announced), [(Peers::Followers, announce)]);

    handle(&mut protocol, 103, Event::Part(part(1, "a", PartKind::Keyed, 0)));
    assert!(tick(&mut protocol, 104).is_empty(), "waits for every follower's Done");
    let remote = |process: usize| OperatorEntry {
        uid: "a".into(),
        kind: PartKind::Keyed,
        version: None,
        parts: vec![part_entry("a/worker.part", process * 2, b"x", 1)],
    };
    for process in [2, 1] {
        let message = Wire::Done { id: 1, operators: vec![remote(process)], parts: 1, bytes: 1 };
        handle(&mut protocol, 105, Event::Peer { process, message });
    }
    let completed = tick(&mut protocol, 106);
    let manifest = manifest(&completed);
    assert_eq!(manifest.workers, 6);
    let workers: Vec<usize> = manifest.operators[0].parts.iter().map(|part| part.worker).collect();
    assert_eq!(workers, [0, 2, 4], "one entry per uid, parts sorted by worker");
    assert!(sent(&completed).contains(&(Peers::Followers, Wire::Commit { id: 1 })));
}

#[test]
fn the_leader_cancels_when_a_follower_cannot_take_a_checkpoint() {
    let mut protocol = P::new(settings(2, 0), 0);
    tick(&mut protocol, 100);
    handle(&mut protocol, 100, Event::Frozen { claimed: Some(5) });
    let cancelled = handle(
        &mut protocol,
        101,
        Event::Peer { process: 1, message: Wire::Prepared { id: 1, claimed: None } },
    );
    assert_eq!(names(&cancelled), ["thaw", "send"]);
    assert_eq!(sent(&cancelled), [(Peers::Followers, Wire::Cancel { id: 1 })]);
    // Late answers to a cancelled checkpoint change nothing.
    assert!(handle(
        &mut protocol,
        102,
        Event::Peer { process: 1, message: Wire::Prepared { id: 1, claimed: Some(1) } }
    )
    .is_empty());
}

#[test]
fn a_follower_answers_prepare_collects_its_parts_and_commits_when_told() {
    let mut protocol = P::new(settings(2, 1), 0);
    handle(&mut protocol, 0, Event::Built { participants: 1 });
    assert!(tick(&mut protocol, 1_000).is_empty(), "followers never trigger");
    let peer = |message| Event::Peer { process: 0, message };
    assert_eq!(names(&handle(&mut protocol, 1, peer(Wire::Prepare { id: 4 }))), ["freeze"]);
    let answered = handle(&mut protocol, 1, Event::Frozen { claimed: Some(12) });
    assert_eq!(sent(&answered), [(Peers::Leader, Wire::Prepared { id: 4, claimed: Some(12) })]);
    let dir = PathBuf::from("chk-0000000004");
    let opened = handle(
        &mut protocol,
        2,
        peer(Wire::Announce { id: 4, time: 20, kind: CheckpointKind::Checkpoint, dir }),
    );
    assert!(matches!(&opened[0], Action::CreateDir { dir } if dir == &PathBuf::from("/chk/chk-0000000004")));
    assert!(matches!(opened[1], Action::Announce { id: 4, time: 20 }));
    handle(&mut protocol, 3, Event::Part(part(4, "sink", PartKind::Sink, 2)));
    let done = tick(&mut protocol, 4);
    let [(Peers::Leader, Wire::Done { id: 4, parts: 1, .. })] = sent(&done)[..] else { panic!("{done:?}") };
    assert!(!names(&done).contains(&"commit"), "followers commit only when the leader says so");
    let committed = handle(&mut protocol, 5, peer(Wire::Commit { id: 4 }));
    assert_eq!(names(&committed), ["commit", "completed"]);

    // The end: the leader asks for the final checkpoint.
    handle(&mut protocol, 6, Event::Part(part(FINAL, "sink", PartKind::Sink, 2)));
    let finished = handle(&mut protocol, 7, Event::WorkersDone { succeeded: true });
    assert_eq!(sent(&finished), [(Peers::Leader, Wire::Finished { succeeded: true })]);
    let written = handle(&mut protocol, 8, peer(Wire::Final { id: 5, dir: "chk-0000000005".into() }));
    assert!(sent(&written).iter().any(|(_, message)| matches!(message, Wire::Done { id: 5, .. })));
    assert!(!protocol.done());
    handle(&mut protocol, 9, peer(Wire::Commit { id: 5 }));
    assert!(protocol.done());
}

#[test]
fn a_follower_whose_workers_failed_tells_the_leader_and_stops() {
    let mut protocol = P::new(settings(2, 1), 0);
    let actions = handle(&mut protocol, 0, Event::WorkersDone { succeeded: false });
    assert_eq!(sent(&actions), [(Peers::Leader, Wire::Finished { succeeded: false })]);
    assert!(protocol.done());
}

#[test]
fn the_leader_fails_when_a_follower_fails() {
    let mut protocol = P::new(settings(2, 0), 0);
    let message = Wire::Finished { succeeded: false };
    let error = protocol.handle(0, Event::Peer { process: 1, message }).unwrap_err().to_string();
    assert!(error.contains("process 1 failed"), "{error}");
}

#[test]
fn a_lost_link_fails_the_job_unless_the_job_was_ending() {
    let lost = || Event::PeerLost { process: 1, error: Error::Cluster("gone".into()) };
    let mut protocol = P::new(settings(2, 0), 0);
    assert!(protocol.handle(0, lost()).is_err());

    let mut protocol = P::new(settings(2, 0), 0);
    handle(&mut protocol, 0, Event::Peer { process: 1, message: Wire::Finished { succeeded: true } });
    assert!(protocol.handle(1, lost()).is_ok(), "the follower had reported its end");

    let mut follower = P::new(settings(2, 1), 0);
    handle(&mut follower, 0, Event::Peer { process: 0, message: Wire::Halt });
    assert!(follower.halted());
    handle(&mut follower, 1, Event::WorkersDone { succeeded: false });
    assert!(follower.handle(2, Event::PeerLost { process: 0, error: Error::Cluster("gone".into()) }).is_ok());
    assert!(follower.done());
}

#[test]
fn the_last_process_to_finish_lets_the_leader_take_the_final_checkpoint() {
    let mut protocol = P::new(settings(2, 0), 0);
    handle(&mut protocol, 0, Event::Built { participants: 1 });
    handle(&mut protocol, 0, Event::Part(part(FINAL, "a", PartKind::Keyed, 0)));
    handle(&mut protocol, 0, Event::WorkersDone { succeeded: true });
    assert!(tick(&mut protocol, 1).is_empty(), "the follower is still running");
    handle(&mut protocol, 2, Event::Peer { process: 1, message: Wire::Finished { succeeded: true } });
    let started = tick(&mut protocol, 3);
    let final_message = Wire::Final { id: 1, dir: "chk-0000000001".into() };
    assert_eq!(sent(&started), [(Peers::Followers, final_message)]);
    assert!(!names(&started).contains(&"write-manifest"), "waits for the follower's parts");
    let message = Wire::Done { id: 1, operators: Vec::new(), parts: 1, bytes: 1 };
    handle(&mut protocol, 4, Event::Peer { process: 1, message });
    let completed = tick(&mut protocol, 5);
    assert!(manifest(&completed).finished);
    assert!(protocol.done());
}
