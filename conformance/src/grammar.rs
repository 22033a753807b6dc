//! The trigger and evictor string grammars of the Flink window cases.
//!
//! ```text
//! trigger := base | "purging(" base ")"
//! base    := "event_time" | "processing_time" | "end_of_stream"
//!          | "count:" N | "continuous_event_time:" N | "continuous_processing_time:" N
//! evictor := ("count:" N | "time:" N | "delta:" NUMBER) [":after"]
//! ```
//!
//! `N` is a positive decimal integer (no sign, no spaces); `NUMBER` is a non-negative decimal
//! with an optional fraction. `continuous_processing_time` is an extension of the case format
//! (Flink's `ContinuousProcessingTimeTrigger`). `purging(purging(T))` means `purging(T)`.

/// A parsed trigger.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TriggerSpec {
    /// The firing rule.
    pub base: BaseTrigger,
    /// Whether every firing also clears the window (FIRE_AND_PURGE).
    pub purging: bool,
}

/// A trigger's firing rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseTrigger {
    /// Fires when the watermark passes the window's max timestamp.
    EventTime,
    /// Fires when processing time reaches the window's max timestamp.
    ProcessingTime,
    /// Fires only at the end of the stream.
    EndOfStream,
    /// Fires on every N-th element of a pane.
    Count(u64),
    /// Fires every N ms of event time.
    ContinuousEventTime(u64),
    /// Fires every N ms of processing time.
    ContinuousProcessingTime(u64),
}

/// A parsed evictor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvictorSpec {
    /// What is evicted.
    pub kind: EvictorKind,
    /// Whether eviction runs after the window function (`:after`) rather than before.
    pub after: bool,
}

/// An evictor's rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EvictorKind {
    /// Keep the N most recently added elements.
    Count(u64),
    /// Drop elements with `ts <= max_ts - ms`.
    Time(u64),
    /// Drop elements `e` with `last.value - e.value >= threshold`.
    Delta(f64),
}

/// Parses a trigger string.
pub fn parse_trigger(text: &str) -> Result<TriggerSpec, String> {
    let mut rest = text;
    let mut purging = false;
    while let Some(inner) = rest.strip_prefix("purging(").and_then(|r| r.strip_suffix(')')) {
        purging = true;
        rest = inner;
    }
    let base = parse_base_trigger(rest).map_err(|why| format!("unknown trigger `{text}`: {why}"))?;
    Ok(TriggerSpec { base, purging })
}

fn parse_base_trigger(text: &str) -> Result<BaseTrigger, String> {
    match text {
        "event_time" => return Ok(BaseTrigger::EventTime),
        "processing_time" => return Ok(BaseTrigger::ProcessingTime),
        "end_of_stream" => return Ok(BaseTrigger::EndOfStream),
        _ => {}
    }
    let Some((name, argument)) = text.split_once(':') else {
        return Err(format!(
            "`{text}` is not one of event_time, processing_time, end_of_stream, count:N, \
             continuous_event_time:N, purging(T)"
        ));
    };
    let constructor: fn(u64) -> BaseTrigger = match name {
        "count" => BaseTrigger::Count,
        "continuous_event_time" => BaseTrigger::ContinuousEventTime,
        "continuous_processing_time" => BaseTrigger::ContinuousProcessingTime,
        _ => return Err(format!("no trigger is called `{name}`")),
    };
    Ok(constructor(parse_positive(argument)?))
}

/// Parses an evictor string.
pub fn parse_evictor(text: &str) -> Result<EvictorSpec, String> {
    let fail = |why: String| format!("unknown evictor `{text}`: {why}");
    let (rest, after) = match text.strip_suffix(":after") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let Some((name, argument)) = rest.split_once(':') else {
        return Err(fail("expected count:N, time:MS or delta:T, optionally followed by :after".into()));
    };
    let kind = match name {
        "count" => EvictorKind::Count(parse_positive(argument).map_err(fail)?),
        "time" => EvictorKind::Time(parse_natural(argument).map_err(fail)?),
        "delta" => EvictorKind::Delta(parse_decimal(argument).map_err(fail)?),
        _ => return Err(fail(format!("no evictor is called `{name}`"))),
    };
    Ok(EvictorSpec { kind, after })
}

fn parse_natural(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a non-negative integer"));
    }
    let value: i64 = text.parse().map_err(|_| format!("`{text}` does not fit in an i64"))?;
    Ok(value.unsigned_abs())
}

fn parse_positive(text: &str) -> Result<u64, String> {
    match parse_natural(text)? {
        0 => Err("the argument must be positive".into()),
        value => Ok(value),
    }
}

fn parse_decimal(text: &str) -> Result<f64, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(format!("`{text}` is not a non-negative decimal number"));
    }
    text.parse().map_err(|_| format!("`{text}` is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(base: BaseTrigger, purging: bool) -> TriggerSpec {
        TriggerSpec { base, purging }
    }

    #[test]
    fn triggers() {
        assert_eq!(parse_trigger("event_time"), Ok(trigger(BaseTrigger::EventTime, false)));
        assert_eq!(parse_trigger("processing_time"), Ok(trigger(BaseTrigger::ProcessingTime, false)));
        assert_eq!(parse_trigger("end_of_stream"), Ok(trigger(BaseTrigger::EndOfStream, false)));
        assert_eq!(parse_trigger("count:4"), Ok(trigger(BaseTrigger::Count(4), false)));
        assert_eq!(
            parse_trigger("continuous_event_time:3000"),
            Ok(trigger(BaseTrigger::ContinuousEventTime(3000), false))
        );
        assert_eq!(
            parse_trigger("continuous_processing_time:10"),
            Ok(trigger(BaseTrigger::ContinuousProcessingTime(10), false))
        );
        assert_eq!(parse_trigger("purging(count:4)"), Ok(trigger(BaseTrigger::Count(4), true)));
        assert_eq!(parse_trigger("purging(event_time)"), Ok(trigger(BaseTrigger::EventTime, true)));
        assert_eq!(
            parse_trigger("purging(purging(end_of_stream))"),
            Ok(trigger(BaseTrigger::EndOfStream, true))
        );
    }

    #[test]
    fn bad_triggers() {
        for text in [
            "",
            "eventtime",
            "Event_time",
            " event_time",
            "event_time ",
            "count",
            "count:",
            "count:0",
            "count:-1",
            "count:+3",
            "count:1.5",
            "count:4:after",
            "count:99999999999999999999",
            "continuous_event_time:",
            "purging(count:4",
            "purging()",
            "purging",
            "purging(bogus)",
            "delta:2",
            "session",
        ] {
            let error = parse_trigger(text).expect_err(text);
            assert!(error.contains("unknown trigger"), "{text}: {error}");
        }
    }

    #[test]
    fn evictors() {
        let evictor = |kind, after| Ok(EvictorSpec { kind, after });
        assert_eq!(parse_evictor("count:4"), evictor(EvictorKind::Count(4), false));
        assert_eq!(parse_evictor("count:4:after"), evictor(EvictorKind::Count(4), true));
        assert_eq!(parse_evictor("time:2000"), evictor(EvictorKind::Time(2000), false));
        assert_eq!(parse_evictor("time:0:after"), evictor(EvictorKind::Time(0), true));
        assert_eq!(parse_evictor("delta:2"), evictor(EvictorKind::Delta(2.0), false));
        assert_eq!(parse_evictor("delta:2.5:after"), evictor(EvictorKind::Delta(2.5), true));
    }

    #[test]
    fn bad_evictors() {
        for text in [
            "",
            "count",
            "count:",
            "count:0",
            "count:-2",
            "count:4:before",
            "count:4:after:after",
            "time:x",
            "time:1e3",
            "delta:",
            "delta:-1",
            "delta:.5",
            "delta:1.",
            "delta:NaN",
            "size:3",
            ":after",
            "purging(count:4)",
        ] {
            let error = parse_evictor(text).expect_err(text);
            assert!(error.contains("unknown evictor"), "{text}: {error}");
        }
    }
}
