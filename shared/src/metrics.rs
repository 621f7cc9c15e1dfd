//! Metrics as CloudWatch Embedded Metric Format (EMF) lines: one JSON object per line on
//! stdout, which CloudWatch Logs turns into metrics with no agent and no API call on the
//! request path. Deployed functions switch them on at start ([`emit_to_stdout`]); local runs
//! and tests print none unless they ask.
//!
//! Every metric has the dimension `function` (the Lambda function's name); deliveries and sync
//! runs are also counted by outcome and status. Projects and repositories are properties,
//! not dimensions: a deployment with thousands of them would pay for a metric each, and
//! CloudWatch Logs Insights finds them in the lines anyway. No line carries a secret: only
//! the counts, durations and names below.

use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every ghsync metric.
pub const NAMESPACE: &str = "ghsync";

/// The units ghsync uses (CloudWatch's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    /// A plain number (days until a token expires).
    None,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// Where lines go: nowhere until a process says.
enum Sink {
    Stdout,
    Memory(Mutex<Vec<String>>),
}

struct Emitter {
    function: String,
    sink: Sink,
}

static EMITTER: OnceLock<Emitter> = OnceLock::new();

/// Deployed functions: every metric from now on goes to stdout, its `function` dimension
/// the Lambda function's name (unique per stack, so two stacks in one account never mix
/// their metrics; the template's alarms name it), else `role`. The first call wins.
pub fn emit_to_stdout(role: &str) {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| role.to_string());
    let _ = EMITTER.set(Emitter { function, sink: Sink::Stdout });
}

/// Tests: metrics are kept in memory for [`captured`], with `function` as their dimension.
pub fn capture(function: &str) {
    let _ = EMITTER.set(Emitter { function: function.to_string(), sink: Sink::Memory(Mutex::default()) });
}

/// The lines kept since [`capture`].
pub fn captured() -> Vec<String> {
    match EMITTER.get().map(|e| &e.sink) {
        Some(Sink::Memory(lines)) => lines.lock().expect("metrics lock").clone(),
        _ => Vec::new(),
    }
}

/// One EMF line in the making: metrics, an optional extra dimension, and properties.
#[derive(Default)]
pub struct Line {
    /// The dimension besides `function` (`outcome`, `status`): the metrics are published
    /// both per function and per function and this.
    dimension: Option<(&'static str, String)>,
    metrics: Vec<(&'static str, Unit, f64)>,
    properties: Map<String, Value>,
}

impl Line {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dimension(mut self, name: &'static str, value: &str) -> Self {
        self.dimension = Some((name, value.to_string()));
        self
    }

    pub fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name, unit, value));
        self
    }

    /// A searchable value that is not a dimension (an id, a repository name).
    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_string(), value.into());
        self
    }

    /// The EMF object for `function` at `timestamp_ms`.
    pub fn to_json(&self, function: &str, timestamp_ms: i64) -> Value {
        let mut dimensions = vec![json!(["function"])];
        let mut object = self.properties.clone();
        object.insert("function".into(), json!(function));
        if let Some((name, value)) = &self.dimension {
            dimensions.push(json!(["function", name]));
            object.insert((*name).into(), json!(value));
        }
        let declared: Vec<Value> =
            self.metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit.name()})).collect();
        for (name, _, value) in &self.metrics {
            object.insert((*name).into(), json!(value));
        }
        object.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": declared}],
            }),
        );
        Value::Object(object)
    }

    /// Writes the line where metrics go (nowhere unless the process said where).
    pub fn emit(self) {
        let Some(emitter) = EMITTER.get() else { return };
        let line = self.to_json(&emitter.function, chrono::Utc::now().timestamp_millis()).to_string();
        match &emitter.sink {
            Sink::Stdout => {
                use std::io::Write;
                // One write of the whole line, so lines from concurrent tasks never interleave.
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(format!("{line}\n").as_bytes());
                let _ = out.flush();
            }
            Sink::Memory(lines) => lines.lock().expect("metrics lock").push(line),
        }
    }
}

/// One webhook delivery: counted by outcome (applied, duplicate, pong, the reason it was
/// ignored, refused, unavailable), with its latency in the handler.
pub fn delivery(outcome: &str, latency_ms: f64, event: &str, delivery_id: &str) {
    Line::new()
        .dimension("outcome", outcome)
        .metric("Deliveries", Unit::Count, 1.0)
        .metric("DeliveryLatency", Unit::Milliseconds, latency_ms)
        .property("event", event)
        .property("delivery_id", delivery_id)
        .emit();
}

/// The GitHub App's webhook secret could not be opened (the key changed, KMS refusing or
/// unreachable): App deliveries are refused until it opens. At most one per read interval
/// of a receiver; the `AppSecretUnopenable` alarm watches it.
pub fn app_secret_unopenable() {
    Line::new().metric("AppSecretUnopenable", Unit::Count, 1.0).emit();
}

/// How long a config may fail before the "config failing" alarm counts it.
pub const FAILING_ALARM_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// Each reconcile tick publishes how many enabled configs have been failing for
/// [`FAILING_ALARM_AFTER`] or longer (`ConfigsFailing`, behind the alarm of that name): a
/// gauge every minute, zero included.
pub async fn failing_configs(store: &crate::Store) {
    let before = crate::time::Timestamp::now().minus(FAILING_ALARM_AFTER);
    match store.configs_failing_since(before).await {
        Ok(failing) => Line::new().metric("ConfigsFailing", Unit::Count, failing as f64).emit(),
        Err(e) => {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "counting the failing configs failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_each_metric_and_dimension_it_carries() {
        let line = Line::new()
            .dimension("status", "success")
            .metric("SyncRuns", Unit::Count, 1.0)
            .metric("SyncDuration", Unit::Milliseconds, 12.5)
            .property("repo", "acme/widgets")
            .to_json("reconcile", 1_767_607_200_000);
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_767_607_200_000i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "ghsync",
                        "Dimensions": [["function"], ["function", "status"]],
                        "Metrics": [{"Name": "SyncRuns", "Unit": "Count"}, {"Name": "SyncDuration", "Unit": "Milliseconds"}],
                    }],
                },
                "function": "reconcile",
                "status": "success",
                "SyncRuns": 1.0,
                "SyncDuration": 12.5,
                "repo": "acme/widgets",
            })
        );
    }
}
