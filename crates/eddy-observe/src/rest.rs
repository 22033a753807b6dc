//! The HTTP routes: the REST API's JSON, `/metrics`, and the dashboard's static files (compiled
//! into the binary). Every route reads one fresh [`JobSnapshot`]; `docs/rest.md` documents them.

use eddy_core::metrics::{JobMetrics, JobSnapshot};
use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("../assets/dashboard.css");

/// What a route answers: status, content type, body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

fn json_answer(value: &Value) -> Answer {
    Answer { status: 200, content_type: "application/json", body: value.to_string() }
}

fn not_found(path: &str) -> Answer {
    let body = json!({ "error": format!("no such endpoint: {path} (see docs/rest.md)") }).to_string();
    Answer { status: 404, content_type: "application/json", body }
}

/// The overview of a job: `/jobs` lists it, `/jobs/current` is it.
pub fn overview(snapshot: &JobSnapshot) -> Value {
    json!({
        "id": "current",
        "state": snapshot.state,
        "run": snapshot.run,
        "restarts": snapshot.restarts,
        "started_ms": snapshot.started_ms,
        "ended_ms": snapshot.ended_ms,
        "uptime_ms": snapshot.uptime_ms,
        "now_ms": snapshot.now_ms,
        "process": snapshot.process,
        "processes": snapshot.processes,
        "workers": snapshot.workers,
        "total_workers": snapshot.workers * snapshot.processes.max(1),
        "records_read": snapshot.records_read,
        "records_out": snapshot.records_out,
        "dead_letters": snapshot.dead_letters,
        "source_watermark": snapshot.source_watermark,
        "watermark_lag_ms": snapshot.watermark_lag_ms,
        "last_checkpoint": snapshot.checkpoints.last_completed_id,
        "failed": snapshot.error.is_some(),
        "process_figures": snapshot.process_figures,
    })
}

/// The job graph: operators without their figures, and edges.
pub fn graph(snapshot: &JobSnapshot) -> Value {
    let operators: Vec<Value> = snapshot
        .operators
        .iter()
        .map(|operator| {
            json!({
                "id": operator.id,
                "name": operator.name,
                "uid": operator.uid,
                "parallelism": operator.parallelism,
            })
        })
        .collect();
    json!({ "operators": operators, "edges": snapshot.edges })
}

/// Answers `method path` from `metrics`.
pub fn route(method: &Method, path: &str, metrics: &JobMetrics) -> Answer {
    if *method != Method::Get && *method != Method::Head {
        let body = json!({ "error": "only GET is served" }).to_string();
        return Answer { status: 405, content_type: "application/json", body };
    }
    let path = path.split('?').next().unwrap_or(path);
    let html =
        |body: &str| Answer { status: 200, content_type: "text/html; charset=utf-8", body: body.into() };
    match path {
        "/" | "/index.html" => return html(INDEX_HTML),
        "/assets/dashboard.js" => {
            return Answer {
                status: 200,
                content_type: "text/javascript; charset=utf-8",
                body: DASHBOARD_JS.into(),
            }
        }
        "/assets/dashboard.css" => {
            return Answer {
                status: 200,
                content_type: "text/css; charset=utf-8",
                body: DASHBOARD_CSS.into(),
            }
        }
        _ => {}
    }
    let snapshot = metrics.snapshot();
    match path {
        "/metrics" => Answer {
            status: 200,
            content_type: crate::prometheus::CONTENT_TYPE,
            body: crate::prometheus::encode(snapshot),
        },
        "/jobs" => json_answer(&json!({ "jobs": [overview(&snapshot)] })),
        "/jobs/current" => json_answer(&overview(&snapshot)),
        "/jobs/current/graph" => json_answer(&graph(&snapshot)),
        "/jobs/current/operators" => json_answer(&json!({ "operators": snapshot.operators })),
        "/jobs/current/checkpoints" => json_answer(&json!(snapshot.checkpoints)),
        "/jobs/current/exception" => json_answer(&json!({ "exception": snapshot.error })),
        "/jobs/current/config" => json_answer(&snapshot.config),
        "/jobs/current/snapshot" => json_answer(&json!(snapshot)),
        _ => not_found(path),
    }
}

/// Answers one request (errors writing to a client that went away are ignored).
pub(crate) fn respond(request: Request, metrics: &JobMetrics) {
    let answer = route(request.method(), request.url(), metrics);
    let mut response = Response::from_string(answer.body).with_status_code(answer.status);
    if let Ok(header) = Header::from_bytes("Content-Type", answer.content_type) {
        response = response.with_header(header);
    }
    if let Ok(header) = Header::from_bytes("Cache-Control", "no-store") {
        response = response.with_header(header);
    }
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn unknown_paths_and_methods_are_refused() {
        let metrics = JobMetrics::new(Arc::new(eddy_core::time::ManualClock::new(0)));
        assert_eq!(route(&Method::Get, "/nope", &metrics).status, 404);
        assert_eq!(route(&Method::Post, "/jobs", &metrics).status, 405);
        let jobs: Value = serde_json::from_str(&route(&Method::Get, "/jobs?x=1", &metrics).body).unwrap();
        assert_eq!(jobs["jobs"][0]["state"], "created");
        assert!(route(&Method::Get, "/", &metrics).body.contains("<title>eddy"));
    }
}
