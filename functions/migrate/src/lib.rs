//! The migration step of a deploy. A CloudFormation custom resource (`Migration` in
//! template.yaml) invokes this function when the function's code, and so the migrations it
//! embeds, changes; it applies the pending migrations and answers CloudFormation, and the
//! other functions, which only check the schema at cold start, are updated after it. Invoked
//! by hand (any other event) it migrates and returns the schema version.
//!
//! It always answers CloudFormation, failure included (and before the function's own
//! timeout): a custom resource left without an answer holds the stack until its timeout. A
//! rollback (an Update back to an older build) migrates nothing: migrations only go forward,
//! and the older functions run on the newer schema.

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest as Request, CloudFormationCustomResourceResponse as Response,
    CloudFormationCustomResourceResponseStatus as Status,
};
use ghsync_shared::Store;
use ghsync_shared::config::Config;
use ghsync_shared::startup::StartupError;
use ghsync_shared::store::StoreOptions;
use ghsync_shared::telemetry::ErrorChain;
use serde_json::{Value, json};

/// The physical id of the one schema a stack has.
pub const PHYSICAL_ID: &str = "ghsync-schema";

/// How long the migrations may run before CloudFormation is told they failed: well inside
/// the function's 300 s timeout, so the answer always goes out.
pub const TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(240);

/// Why an invocation failed (a custom resource hears it as `FAILED` with this reason).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("the migrations did not finish within {} s", TIME_LIMIT.as_secs())]
    TimedOut,
    #[error("ghsync's migrate function cannot read the request")]
    Unreadable(#[source] serde_json::Error),
    #[error("cannot answer CloudFormation at its response URL")]
    Answer(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One invocation. `settings` reads the configuration (at each invocation, so a secret
/// that cannot be read is reported to CloudFormation instead of failing the cold start).
pub async fn handle(
    event: Value,
    settings: impl AsyncFnOnce() -> Result<Config, StartupError>,
) -> Result<Value, MigrateError> {
    if event.get("RequestType").is_none() {
        let version = migrate(settings().await?).await?;
        return Ok(json!({ "schema_version": version }));
    }
    let request = serde_json::from_value::<Request>(event.clone());
    let (response_url, response) = match request {
        Err(e) => unreadable(&event, e)?,
        Ok(Request::Create(r)) => {
            let outcome = migrate_with(settings).await;
            (
                r.response_url,
                answer(outcome, PHYSICAL_ID.to_string(), r.stack_id, r.request_id, r.logical_resource_id),
            )
        }
        Ok(Request::Update(r)) if is_rollback(&r.old_resource_properties, &r.resource_properties) => {
            tracing::info!("a rollback to an older build: the schema stays as it is");
            (
                r.response_url,
                answer(Ok(None), r.physical_resource_id, r.stack_id, r.request_id, r.logical_resource_id),
            )
        }
        Ok(Request::Update(r)) => {
            let outcome = migrate_with(settings).await;
            (
                r.response_url,
                answer(outcome, r.physical_resource_id, r.stack_id, r.request_id, r.logical_resource_id),
            )
        }
        // Deleting the stack (or the resource) leaves the data and its schema alone.
        Ok(Request::Delete(r)) => (
            r.response_url,
            answer(Ok(None), r.physical_resource_id, r.stack_id, r.request_id, r.logical_resource_id),
        ),
        Ok(_) => return Err(MigrateError::Answer("unknown RequestType".into())),
    };
    let status = response.status.clone();
    put_response(&response_url, &response).await?;
    Ok(json!({ "status": status }))
}

async fn migrate_with(
    settings: impl AsyncFnOnce() -> Result<Config, StartupError>,
) -> Result<Option<i64>, MigrateError> {
    let run = async { Ok::<_, StartupError>(Some(migrate(settings().await?).await?)) };
    match tokio::time::timeout(TIME_LIMIT, run).await {
        Ok(outcome) => Ok(outcome?),
        Err(_) => Err(MigrateError::TimedOut),
    }
}

/// The function version a `CodeVersion` property names (`arn:…:function:NAME:7` → 7).
fn code_version(properties: &Value) -> Option<u64> {
    properties.get("CodeVersion")?.as_str()?.rsplit(':').next()?.parse().ok()
}

/// An Update that goes back to an older build of the migrate function: a rollback.
fn is_rollback(old: &Value, new: &Value) -> bool {
    matches!((code_version(old), code_version(new)), (Some(old), Some(new)) if new < old)
}

/// A request that does not parse is still answered (FAILED) when it names where to.
fn unreadable(event: &Value, e: serde_json::Error) -> Result<(String, Response), MigrateError> {
    let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let url = field("ResponseURL");
    if url.is_empty() {
        return Err(MigrateError::Answer(e.into()));
    }
    let physical = Some(field("PhysicalResourceId")).filter(|p| !p.is_empty());
    let response = answer(
        Err(MigrateError::Unreadable(e)),
        physical.unwrap_or_else(|| PHYSICAL_ID.to_string()),
        field("StackId"),
        field("RequestId"),
        field("LogicalResourceId"),
    );
    Ok((url, response))
}

/// Applies the pending migrations as the migration user (`migrate_database_url`, else the
/// functions' own); returns the schema version now.
pub async fn migrate(config: Config) -> Result<i64, StartupError> {
    let url = config.migrate_database_url.as_deref().unwrap_or(&config.database_url);
    let store = Store::connect(url, &StoreOptions { max_connections: 1, ..StoreOptions::default() }).await?;
    let result = store.migrate().await;
    let version = store.schema_version();
    store.close().await;
    result?;
    tracing::info!(schema_version = version, "migrations applied");
    Ok(version)
}

fn answer(
    outcome: Result<Option<i64>, MigrateError>,
    physical_resource_id: String,
    stack_id: String,
    request_id: String,
    logical_resource_id: String,
) -> Response {
    let mut response = Response::default();
    match outcome {
        Ok(version) => {
            response.status = Status::Success;
            if let Some(version) = version {
                response.data.insert("SchemaVersion".into(), version.to_string());
            }
        }
        Err(e) => {
            tracing::error!(error = %ErrorChain(&e), "migration failed");
            response.status = Status::Failed;
            // CloudFormation takes at most 4 KB for the whole answer.
            let mut reason = ErrorChain(&e).to_string();
            reason.truncate(reason.char_indices().nth(1500).map_or(reason.len(), |(i, _)| i));
            response.reason = Some(reason);
        }
    }
    response.physical_resource_id = physical_resource_id;
    response.stack_id = stack_id;
    response.request_id = request_id;
    response.logical_resource_id = logical_resource_id;
    response
}

/// PUTs the answer to the presigned URL, with the empty content type the signature expects.
async fn put_response(url: &str, response: &Response) -> Result<(), MigrateError> {
    use http_body_util::{BodyExt, Full};
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| MigrateError::Answer(e);
    let body = bytes::Bytes::from(serde_json::to_vec(response).map_err(|e| fail(e.into()))?);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| fail(e.into()))?
        .https_or_http()
        .enable_http1()
        .build();
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
    let request = http::Request::put(url)
        .header(http::header::CONTENT_TYPE, "")
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| fail(e.into()))?;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
        .await
        .map_err(|e| fail(e.into()))?
        .map_err(|e| fail(e.into()))?;
    let status = answer.status();
    let _ = answer.into_body().collect().await;
    if !status.is_success() {
        return Err(fail(format!("the response URL answered {status}").into()));
    }
    Ok(())
}

impl From<MigrateError> for lambda_runtime::Diagnostic {
    fn from(e: MigrateError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "MigrationFailed".into(),
            error_message: ErrorChain(&e).to_string(),
        }
    }
}
