//! The management API: an axum [`Router`] that `lambda_http` serves in Lambda and
//! `ghsync serve` mounts locally. Handlers only translate between HTTP and the operations of
//! `ghsync-shared`; every `/api` route requires `Authorization: Bearer $GHSYNC_API_TOKEN`.

mod comments;
mod console;
pub mod error;
mod extract;
#[doc(hidden)]
#[cfg(feature = "fuzzing")]
pub mod fuzzing;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use ghsync_shared::config::ApiToken;
use ghsync_shared::contract::PutSyncConfig;
use ghsync_shared::contract::{
    CreateProject, CreateTask, ErrorBody, MergedContent, OfferAnswer, ResolveRequest, RunAccepted,
    SavedSyncConfig,
};
use ghsync_shared::contract::{GitHubAppInfo, Pushed, PutGitHubApp, WebhookSetup};
use ghsync_shared::domain::{
    ConflictResolution, ConflictStatus, Content, GitHubSyncConfig, Offer, Project, RepositoryChoices,
    Resolution, SyncHistorySummary, Task, TaskOrder, TaskPatch, TaskStatus, TaskWithLink, ValidationError,
};
use ghsync_shared::github::AppInstallation;
use ghsync_shared::paging::{ConflictPage, PageRequest, SyncRunPage, TaskCommentPage, TaskPage};
use ghsync_shared::secrets::Secrets;
use ghsync_shared::services::Services;
use ghsync_shared::services::hooks::HookSettings;
use ghsync_shared::services::push::{Published, PushOptions};
use ghsync_shared::services::runs::RunQueue;
use ghsync_shared::startup::StartupError;
use ghsync_shared::store::Backoff;
use ghsync_shared::store::StoreOptions;
use ghsync_shared::store::{StoreError, TaskFilter};
use ghsync_shared::telemetry::ErrorChain;
use ghsync_shared::time::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::OpenApi;
#[allow(unused_imports)] // named by the OpenAPI annotations
use uuid::Uuid;

pub use error::ApiError;
use extract::{Body, Id, Params};

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub services: Services,
    /// The deployment's secrets: no API token configured, every request is refused; read
    /// again when a token matches nothing.
    pub secrets: Secrets,
    /// How `POST …/github-sync/run` hands its run to the reconcile worker.
    pub runs: RunQueue,
    /// What each config's own webhook needs: the deployment secret and the public URL.
    pub hooks: HookSettings,
    /// How the push after an edit paces itself ([`PushOptions::api`]: within the function's
    /// 10 s, handing the rest to the worker).
    pub push: PushOptions,
}

impl ApiState {
    /// From the environment, at cold start.
    pub async fn from_env() -> Result<Self, StartupError> {
        let (config, secrets) = ghsync_shared::startup::deployed_config_from_env().await?;
        let options = StoreOptions::deployed(2);
        // With the reconcile queue (AWS) "Sync now" reaches the reconcile function at once.
        let runs = match &config.reconcile_queue_url {
            Some(url) => {
                RunQueue::Queue(ghsync_shared::services::fanout::Fanout::from_env(url.clone()).await)
            }
            None => RunQueue::NextTick,
        };
        let services = Services::connect(&config, &options, None).await?;
        secrets.watch_store(&services.store);
        let hooks = HookSettings::new(secrets.clone(), &config);
        Ok(Self { services, hooks, secrets, runs, push: PushOptions::api() })
    }
}

type AppState = State<Arc<ApiState>>;

/// The API's routes, under `/api`.
pub fn router(state: ApiState) -> Router {
    let state = Arc::new(state);
    let api = Router::new()
        .route("/projects", get(list_projects).post(create_project))
        .route(
            "/projects/{id}/github-sync",
            get(get_sync_config).put(put_sync_config).delete(delete_sync_config),
        )
        .route("/projects/{id}/github-sync/run", post(run_sync))
        .route("/projects/{id}/github-sync/webhook", get(get_webhook).post(install_webhook))
        .route("/projects/{id}/github-sync/webhook/rotate", post(rotate_webhook_secret))
        .route("/projects/{id}/sync-history", get(sync_history))
        .route("/projects/{id}/sync-history/runs", get(sync_runs))
        .route("/projects/{id}/tasks", get(list_tasks).post(create_task))
        .route("/projects/{id}/conflicts", get(list_conflicts))
        .route("/projects/{id}/github-sync/offer", post(answer_offer))
        .route("/projects/{id}/github-sync/choices", get(get_choices))
        .route("/tasks/{id}", get(get_task).patch(update_task))
        .route("/tasks/{id}/github-issue", post(publish_task))
        .route("/tasks/{id}/push/retry", post(retry_push))
        .route("/tasks/{id}/comments", get(task_comments).post(comments::add_comment))
        .route("/comments/{id}", patch(comments::edit_comment).delete(comments::delete_comment))
        .route("/comments/{id}/resolve", post(comments::resolve_comment))
        .route("/conflicts/{id}/resolve", post(resolve_conflict))
        .route("/github-app", get(get_github_app).put(put_github_app).delete(delete_github_app))
        .route("/github-app/installations", get(list_app_installations))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    Router::new().nest("/api", api).merge(console::router())
}

/// Refuses a request without the configured bearer token (compared in constant time).
async fn require_token(State(state): AppState, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let accepted = |token: Option<ApiToken>| match (token, given) {
        (Some(expected), Some(given)) => {
            let (a, b) = (Sha256::digest(expected.expose().as_bytes()), Sha256::digest(given.as_bytes()));
            bool::from(a.ct_eq(&b))
        }
        _ => false,
    };
    // A token that matches nothing may be one rotated since this process read the secret.
    let accepted = accepted(state.secrets.api_token())
        || (given.is_some() && state.secrets.reread().await && accepted(state.secrets.api_token()));
    if !accepted {
        let mut response = ApiError::unauthenticated().into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return response;
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        // Perhaps the database credentials were rotated: the next request uses new ones.
        state.secrets.reread().await;
    }
    response
}

/// Creates a project.
#[utoipa::path(post, path = "/api/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = Project), (status = 422, description = "invalid name", body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn create_project(
    State(state): AppState,
    Body(body): Body<CreateProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.store.create_project(&body.name).await?)))
}

/// Every project.
#[utoipa::path(get, path = "/api/projects", tag = "projects", responses((status = 200, body = [Project]), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn list_projects(State(state): AppState) -> Result<Json<Vec<Project>>, ApiError> {
    Ok(Json(state.services.store.list_projects().await?))
}

/// Creates or changes the project's GitHub sync config (the PAT is checked with GitHub, then encrypted).
/// A `PUT` that turns two-way sync on answers what it offers to push (`offer`).
#[utoipa::path(put, path = "/api/projects/{id}/github-sync", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    request_body = PutSyncConfig,
    responses((status = 200, body = SavedSyncConfig), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid value, or a PAT GitHub refuses", body = ErrorBody),
        (status = 502, description = "GitHub or KMS unreachable", body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn put_sync_config(
    State(state): AppState,
    Id(project_id): Id,
    Body(body): Body<PutSyncConfig>,
) -> Result<Json<SavedSyncConfig>, ApiError> {
    // ghsync installs the webhook of a PAT config when it knows its public URL; an App
    // config's deliveries come to the App's URL.
    let installs_hook = state.hooks.public_url.is_some();
    let saved = state.services.put_sync_config(project_id, body, installs_hook).await?;
    let (mut config, switch) = (saved.config, saved.switch);
    if let Some(old) = saved.before.as_ref().filter(|_| switch.old_hook_goes) {
        // The old repository's hook would deliver to a config that no longer follows it.
        state.services.remove_hook(old).await;
    }
    if installs_hook
        && config.installation_id.is_none()
        && (saved.before.is_none() || switch.old_hook_goes || config.hook_id.is_none())
    {
        // ghsync installs the config's webhook itself; a refusal is recorded on the config
        // (`hook_error`), the save stands.
        match state.services.install_hook(&state.hooks, project_id).await {
            Ok(_) => config = state.services.store.get_config(project_id).await?,
            Err(e) => tracing::warn!(error = %ErrorChain(&e), "installing the webhook failed"),
        }
    }
    let mut offer = None;
    if switch.turned_two_way_on {
        offer = Some(state.services.store.offer(project_id).await?);
        // Edits that waited while two-way was off go again.
        state.runs.wake(project_id).await;
    }
    Ok(Json(SavedSyncConfig { config, offer }))
}

/// Accepts (`{"accept": true}`: 202, each offered task queued for the worker) or declines
/// (`false`: 200, nothing queued) what turning two-way sync on offered: the linked tasks
/// edited while it was off.
#[utoipa::path(post, path = "/api/projects/{id}/github-sync/offer", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    request_body = OfferAnswer,
    responses((status = 202, description = "the offered tasks were queued", body = Offer), (status = 200, description = "declined: nothing queued", body = Offer),
        (status = 404, body = ErrorBody), (status = 409, description = "two-way sync is off", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn answer_offer(
    State(state): AppState,
    Id(project_id): Id,
    Body(body): Body<OfferAnswer>,
) -> Result<(StatusCode, Json<Offer>), ApiError> {
    state.services.store.get_config(project_id).await?;
    if !body.accept {
        return Ok((StatusCode::OK, Json(Offer::default())));
    }
    let queued = state.services.store.accept_offer(project_id).await?;
    state.runs.wake(project_id).await;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// Sets the deployment's GitHub App: its id, private key and webhook secret (both stored
/// sealed, never returned).
#[utoipa::path(put, path = "/api/github-app", tag = "sync", request_body = PutGitHubApp,
    responses((status = 200, body = GitHubAppInfo),
        (status = 422, description = "invalid id, or a private key that is not the App's PEM RSA key", body = ErrorBody),
        (status = 502, description = "KMS unreachable", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn put_github_app(
    State(state): AppState,
    Body(body): Body<PutGitHubApp>,
) -> Result<Json<GitHubAppInfo>, ApiError> {
    Ok(Json(state.services.put_github_app(body).await?))
}

/// Whether a GitHub App is set, and its id.
#[utoipa::path(get, path = "/api/github-app", tag = "sync",
    responses((status = 200, body = GitHubAppInfo), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn get_github_app(State(state): AppState) -> Result<Json<GitHubAppInfo>, ApiError> {
    Ok(Json(state.services.github_app_info().await?))
}

/// The GitHub App's installations (the first 100), to pick one for a config.
#[utoipa::path(get, path = "/api/github-app/installations", tag = "sync",
    responses((status = 200, body = [AppInstallation]), (status = 409, description = "no GitHub App is set", body = ErrorBody),
        (status = 422, description = "GitHub refused the App's credentials", body = ErrorBody),
        (status = 502, description = "GitHub or KMS unreachable", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn list_app_installations(State(state): AppState) -> Result<Json<Vec<AppInstallation>>, ApiError> {
    Ok(Json(state.services.app_installations().await?))
}

/// Removes the deployment's GitHub App (configs naming an installation fail until one is set again).
#[utoipa::path(delete, path = "/api/github-app", tag = "sync",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn delete_github_app(State(state): AppState) -> Result<StatusCode, ApiError> {
    state.services.delete_github_app().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What to give GitHub for the config's own webhook (URL, secret, events, content type), and
/// the state of the hook ghsync installed (with GitHub's last delivery when readable).
#[utoipa::path(get, path = "/api/projects/{id}/github-sync/webhook", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = WebhookSetup), (status = 404, body = ErrorBody),
        (status = 409, description = "no webhook secret configured", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn get_webhook(State(state): AppState, Id(project_id): Id) -> Result<Json<WebhookSetup>, ApiError> {
    Ok(Json(state.services.webhook_setup(&state.hooks, project_id).await?))
}

/// Installs the config's webhook on GitHub, or repairs the one ghsync installed. Without the
/// right to manage hooks: 200 with the values to add by hand and a message naming the
/// permission.
#[utoipa::path(post, path = "/api/projects/{id}/github-sync/webhook", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = WebhookSetup), (status = 404, body = ErrorBody),
        (status = 409, description = "GHSYNC_PUBLIC_URL or the webhook secret is not set", body = ErrorBody),
        (status = 502, description = "GitHub unreachable", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn install_webhook(State(state): AppState, Id(project_id): Id) -> Result<Json<WebhookSetup>, ApiError> {
    Ok(Json(state.services.install_hook(&state.hooks, project_id).await?))
}

/// Renews the config's own webhook secret (a new generation): the old secret is refused from
/// now on. The hook ghsync installed gets the new one; a hook added by hand needs it by hand
/// (the answer's `message` says so).
#[utoipa::path(post, path = "/api/projects/{id}/github-sync/webhook/rotate", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = WebhookSetup), (status = 404, body = ErrorBody),
        (status = 409, description = "no webhook secret configured", body = ErrorBody),
        (status = 502, description = "GitHub unreachable while repairing the installed hook", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn rotate_webhook_secret(
    State(state): AppState,
    Id(project_id): Id,
) -> Result<Json<WebhookSetup>, ApiError> {
    Ok(Json(state.services.rotate_webhook_secret(&state.hooks, project_id).await?))
}

/// The project's GitHub sync config (never the PAT).
#[utoipa::path(get, path = "/api/projects/{id}/github-sync", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = GitHubSyncConfig), (status = 404, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn get_sync_config(
    State(state): AppState,
    Id(project_id): Id,
) -> Result<Json<GitHubSyncConfig>, ApiError> {
    Ok(Json(state.services.store.get_config(project_id).await?))
}

/// Removes the project's GitHub sync config (tasks stay).
#[utoipa::path(delete, path = "/api/projects/{id}/github-sync", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn delete_sync_config(State(state): AppState, Id(project_id): Id) -> Result<StatusCode, ApiError> {
    if let Some(config) = state.services.store.find_config(project_id).await? {
        state.services.remove_hook(&config).await;
    }
    state.services.store.delete_config(project_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a sync of the project's config for the reconcile worker and answers at once (the
/// run itself never happens inside the request).
#[utoipa::path(post, path = "/api/projects/{id}/github-sync/run", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 202, body = RunAccepted), (status = 404, body = ErrorBody),
        (status = 409, description = "another run holds or awaits the config, or the config is disabled", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn run_sync(
    State(state): AppState,
    Id(project_id): Id,
) -> Result<(StatusCode, Json<RunAccepted>), ApiError> {
    let run = state.services.store.request_run(project_id, Timestamp::now()).await?;
    state.runs.wake(project_id).await;
    Ok((StatusCode::ACCEPTED, Json(RunAccepted { history_id: run.id, status: run.status })))
}

/// What the repository offers a task's labels and assignees, as the reconcile last listed it
/// (docs/fields.md, "Choices"): each list `null` until listed once.
#[utoipa::path(get, path = "/api/projects/{id}/github-sync/choices", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = RepositoryChoices), (status = 404, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn get_choices(
    State(state): AppState,
    Id(project_id): Id,
) -> Result<Json<RepositoryChoices>, ApiError> {
    state.services.store.get_config(project_id).await?;
    Ok(Json(state.services.store.choices(project_id).await?))
}

/// The last 100 runs and figures over the kept history.
#[utoipa::path(get, path = "/api/projects/{id}/sync-history", tag = "sync", params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = SyncHistorySummary), (status = 404, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn sync_history(
    State(state): AppState,
    Id(project_id): Id,
) -> Result<Json<SyncHistorySummary>, ApiError> {
    Ok(Json(state.services.store.history_summary(project_id).await?))
}

/// `?limit=&cursor=`: which page of a list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    status: Option<String>,
    conflict: Option<String>,
    q: Option<String>,
    label: Option<String>,
    assignee: Option<String>,
    milestone: Option<String>,
    sort: Option<String>,
}

/// A page of the project's tasks with their GitHub links, oldest first (`sort=updated`:
/// newest-updated first, as the board's columns list them).
#[utoipa::path(get, path = "/api/projects/{id}/tasks", tag = "tasks",
    params(("id" = Uuid, Path, description = "project id"),
        ("limit" = Option<i64>, Query, description = "items per page: 1 to 500 (default 100)"),
        ("cursor" = Option<String>, Query, description = "the `next_cursor` of the page before (in the same sort)"),
        ("sort" = Option<TaskOrder>, Query, description = "`created` (oldest first, the default) or `updated` (newest-updated first)"),
        ("status" = Option<TaskStatus>, Query, description = "only tasks in this column"),
        ("conflict" = Option<String>, Query, description = "`pending`: only tasks with a pending conflict"),
        ("q" = Option<String>, Query, description = "only tasks whose title contains this text"),
        ("label" = Option<String>, Query, description = "only tasks that show this label (its name, any case)"),
        ("assignee" = Option<String>, Query, description = "only tasks assigned to this login (any case)"),
        ("milestone" = Option<String>, Query, description = "only tasks in the milestone with this title (any case)")),
    responses((status = 200, body = TaskPage), (status = 400, description = "malformed query or cursor", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, description = "limit or filter out of range", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn list_tasks(
    State(state): AppState,
    Id(project_id): Id,
    Params(query): Params<TaskQuery>,
) -> Result<Json<TaskPage>, ApiError> {
    let order = match query.sort.as_deref() {
        None => TaskOrder::Created,
        Some(sort) => sort.parse::<TaskOrder>()?,
    };
    let request = PageRequest::new_in(query.limit, query.cursor.as_deref(), order.cursor_tag())?;
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let filter = TaskFilter {
        status: query
            .status
            .as_deref()
            .map(|s| s.parse::<TaskStatus>().map_err(|e| ValidationError::new("status", e.message)))
            .transpose()?,
        conflict_pending: match query.conflict.as_deref() {
            None => false,
            Some("pending") => true,
            Some(other) => {
                return Err(
                    ValidationError::new("conflict", format!("must be pending, not {other:?}")).into()
                );
            }
        },
        title_contains: given(query.q),
        label: given(query.label),
        assignee: given(query.assignee),
        milestone: given(query.milestone),
    };
    let fetched = state.services.store.list_tasks_page(project_id, &filter, order, &request).await?;
    Ok(Json(TaskPage::in_order(fetched, &request, order)))
}

/// One task with its GitHub link and sync state, as a board's card shows it.
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path, description = "task id")),
    responses((status = 200, body = TaskWithLink), (status = 404, body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn get_task(State(state): AppState, Id(task_id): Id) -> Result<Json<TaskWithLink>, ApiError> {
    Ok(Json(state.services.store.get_task_with_link(task_id).await?))
}

/// Creates a task on the project's board (not linked; a two-way project can publish it).
#[utoipa::path(post, path = "/api/projects/{id}/tasks", tag = "tasks", params(("id" = Uuid, Path, description = "project id")),
    request_body = CreateTask,
    responses((status = 201, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn create_task(
    State(state): AppState,
    Id(project_id): Id,
    Body(body): Body<CreateTask>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let content = Content::new(body.title, body.description)?;
    let status = body.status.unwrap_or(TaskStatus::Todo);
    Ok((StatusCode::CREATED, Json(state.services.store.create_task(project_id, &content, status).await?)))
}

/// A page of the task's thread: its issue's comments and the board's, oldest first.
#[utoipa::path(get, path = "/api/tasks/{id}/comments", tag = "tasks",
    params(("id" = Uuid, Path, description = "task id"),
        ("limit" = Option<i64>, Query, description = "items per page: 1 to 500 (default 100)"),
        ("cursor" = Option<String>, Query, description = "the `next_cursor` of the page before")),
    responses((status = 200, body = TaskCommentPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn task_comments(
    State(state): AppState,
    Id(task_id): Id,
    Params(query): Params<PageQuery>,
) -> Result<Json<TaskCommentPage>, ApiError> {
    let request = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let fetched = state.services.store.task_comments(task_id, &request).await?;
    Ok(Json(TaskCommentPage::of(fetched, &request)))
}

/// A page of the project's sync runs, newest first (a running one with its progress).
#[utoipa::path(get, path = "/api/projects/{id}/sync-history/runs", tag = "sync",
    params(("id" = Uuid, Path, description = "project id"),
        ("limit" = Option<i64>, Query, description = "items per page: 1 to 500 (default 100)"),
        ("cursor" = Option<String>, Query, description = "the `next_cursor` of the page before")),
    responses((status = 200, body = SyncRunPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn sync_runs(
    State(state): AppState,
    Id(project_id): Id,
    Params(query): Params<PageQuery>,
) -> Result<Json<SyncRunPage>, ApiError> {
    let request = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let fetched = state.services.store.list_history_page(project_id, &request).await?;
    Ok(Json(SyncRunPage::of(fetched, &request)))
}

/// Pushes the task's waiting edit (two-way configs) within the API's budget
/// ([`PushOptions::api`]): a read that takes longer hands the push to the worker before it
/// writes, a write is never cut between going out and being recorded. Whatever is not
/// delivered stays in the outbox; the request succeeds regardless.
async fn push_soon(state: &ApiState, task_id: Uuid, project_id: Uuid) -> Option<Pushed> {
    match state.services.push_task_with(task_id, &state.push, Backoff::Respect, &mut 0).await {
        Ok(pushed) => {
            tracing::debug!(task_id = %task_id, ?pushed, "pushed after the edit");
            if pushed == Pushed::HandedOver {
                // The worker takes it now (the queue in AWS, the local worker in `serve`).
                state.runs.wake(project_id).await;
            }
            Some(pushed)
        }
        Err(e) => {
            tracing::warn!(task_id = %task_id, error = %ErrorChain(&e), "push after the edit failed; the worker retries");
            None
        }
    }
}

/// A local edit of a task (the local side of the sync rules). In a two-way config the edit
/// of a linked task is pushed to GitHub before the answer (or queued for the worker). With
/// `If-Match: "<updated_at>"` (the version the caller shows) it is made only while the task
/// is still that version: else 412, nothing written (a board's move of a stale card).
#[utoipa::path(patch, path = "/api/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path, description = "task id"),
        ("If-Match" = Option<String>, Header, description = "the task's `updated_at` as the caller last read it, quoted")),
    request_body = TaskPatch,
    responses((status = 200, body = Task), (status = 404, body = ErrorBody),
        (status = 412, description = "the task changed since the version in If-Match", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn update_task(
    State(state): AppState,
    Id(task_id): Id,
    headers: axum::http::HeaderMap,
    Body(patch): Body<TaskPatch>,
) -> Result<Json<Task>, ApiError> {
    let seen = seen_version(&headers)?;
    let task = state.services.store.update_task_if(task_id, &patch, seen).await?;
    push_soon(&state, task_id, task.project_id).await;
    Ok(Json(task))
}

/// The task version an `If-Match` header names: its `updated_at`, quoted as an entity tag
/// (`*` or no header: any version). A tag that is no time matches no version (412).
fn seen_version(headers: &axum::http::HeaderMap) -> Result<Option<Timestamp>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let value = value.to_str().unwrap_or_default().trim();
    if value == "*" {
        return Ok(None);
    }
    let tag = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
    tag.parse::<Timestamp>().map(Some).map_err(|_| {
        StoreError::Changed(format!("If-Match must be the task's updated_at in quotes, not {value:?}")).into()
    })
}

/// Publishes an unlinked task of a two-way project as a new issue and links it: 201 once
/// linked; 202 when GitHub's answer did not come (the worker finishes it, finding the issue by
/// its marker before it ever posts again).
#[utoipa::path(post, path = "/api/tasks/{id}/github-issue", tag = "tasks", params(("id" = Uuid, Path, description = "task id")),
    responses((status = 201, body = Task), (status = 202, description = "GitHub's answer did not come: the publication is finished by the worker", body = Task),
        (status = 404, body = ErrorBody),
        (status = 409, description = "linked already, being published, or the project is not two-way", body = ErrorBody),
        (status = 422, description = "GitHub refused to open the issue", body = ErrorBody),
        (status = 502, description = "GitHub unreachable", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn publish_task(State(state): AppState, Id(task_id): Id) -> Result<(StatusCode, Json<Task>), ApiError> {
    match state.services.publish_task(task_id).await? {
        Published::Linked(task) => {
            // The comments written on it meanwhile go now, in order, with the worker's pace.
            if state.services.store.pending_comment_pushes(task.project_id).await? > 0 {
                state.runs.wake(task.project_id).await;
            }
            Ok((StatusCode::CREATED, Json(task)))
        }
        Published::Pending(task) => {
            state.runs.wake(task.project_id).await;
            Ok((StatusCode::ACCEPTED, Json(task)))
        }
    }
}

/// Sends a task's waiting edit again now: one GitHub refused (after its cause was fixed), one
/// backing off, or one a repository switch ended (once the task is linked again). 202 with
/// what the push did (what it did not deliver stays in the outbox).
#[utoipa::path(post, path = "/api/tasks/{id}/push/retry", tag = "tasks", params(("id" = Uuid, Path, description = "task id")),
    responses((status = 202, body = Pushed), (status = 404, body = ErrorBody),
        (status = 409, description = "two-way sync is off or disabled, or the task is not linked to a live issue", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn retry_push(State(state): AppState, Id(task_id): Id) -> Result<(StatusCode, Json<Pushed>), ApiError> {
    let task = state.services.store.get_task(task_id).await?;
    state.services.store.retry_push(task_id).await?;
    let pushed = push_soon(&state, task_id, task.project_id).await;
    Ok((StatusCode::ACCEPTED, Json(pushed.unwrap_or(Pushed::Retrying("the worker retries it".into())))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    status: Option<String>,
}

/// A page of the project's conflicts, newest first.
#[utoipa::path(get, path = "/api/projects/{id}/conflicts", tag = "conflicts",
    params(("id" = Uuid, Path, description = "project id"), ("status" = Option<ConflictStatus>, Query, description = "only pending or only resolved"),
        ("limit" = Option<i64>, Query, description = "items per page: 1 to 500 (default 100)"),
        ("cursor" = Option<String>, Query, description = "the `next_cursor` of the page before")),
    responses((status = 200, body = ConflictPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn list_conflicts(
    State(state): AppState,
    Id(project_id): Id,
    Params(query): Params<ConflictQuery>,
) -> Result<Json<ConflictPage>, ApiError> {
    let request = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.parse::<ConflictStatus>().map_err(|e| ValidationError::new("status", e.message)))
        .transpose()?;
    let fetched = state.services.store.list_conflicts_page(project_id, status, &request).await?;
    Ok(Json(ConflictPage::of(fetched, &request)))
}

/// Resolves a pending conflict: keep local, accept GitHub, or merge (in a two-way config keep
/// local and merge push the resolved content to GitHub).
#[utoipa::path(post, path = "/api/conflicts/{id}/resolve", tag = "conflicts", params(("id" = Uuid, Path, description = "conflict id")),
    request_body = ResolveRequest,
    responses((status = 200, body = ConflictResolution), (status = 404, body = ErrorBody),
        (status = 409, description = "already resolved", body = ErrorBody), (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
async fn resolve_conflict(
    State(state): AppState,
    Id(conflict_id): Id,
    Body(body): Body<ResolveRequest>,
) -> Result<Json<ConflictResolution>, ApiError> {
    let merged = body.merged_content.map(MergedContent::parse).transpose()?;
    let resolution = Resolution::new(body.action, merged)?;
    let resolved = state.services.store.resolve_conflict(conflict_id, &resolution).await?;
    // Two-way: what the resolved task holds and GitHub does not was queued.
    let task = state.services.store.get_task(resolved.task_id).await?;
    push_soon(&state, resolved.task_id, task.project_id).await;
    Ok(Json(resolved))
}

/// The OpenAPI document, derived from the handlers' annotations and the contract types.
#[derive(OpenApi)]
#[openapi(
    info(title = "ghsync management API", description = "Projects, GitHub sync configs, tasks, conflicts and sync history."),
    paths(
        create_project, list_projects, put_sync_config, get_sync_config, delete_sync_config, run_sync,
        put_github_app, get_github_app, delete_github_app, list_app_installations,
        get_webhook, install_webhook, rotate_webhook_secret,
        answer_offer, get_choices, sync_history, sync_runs, list_tasks, create_task, get_task, update_task, publish_task, retry_push,
        task_comments, comments::add_comment, comments::edit_comment, comments::delete_comment,
        comments::resolve_comment, list_conflicts, resolve_conflict, openapi
    ),
    // Named by a query parameter only, which utoipa does not collect on its own.
    components(schemas(TaskOrder)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json"), (status = 401, body = ErrorBody)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
