//! The management API: an axum [`Router`] that `lambda_http` serves in Lambda and
//! `ghsync serve` mounts locally. Handlers only translate between HTTP and the operations of
//! `ghsync-shared`; every `/api` route requires `Authorization: Bearer $GHSYNC_API_TOKEN`.

mod error;
mod extract;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ghsync_shared::config::{ApiToken, Config};
use ghsync_shared::domain::{GitHubSyncConfig, Project};
use ghsync_shared::manage::{PutSyncConfig, Services, StartupError};
use ghsync_shared::store::StoreOptions;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use error::ApiError;
use extract::{Body, Id};

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub services: Services,
    /// `None`: no token configured: every request is refused.
    pub token: Option<ApiToken>,
}

impl ApiState {
    /// From the environment, at cold start.
    pub async fn from_env() -> Result<Self, StartupError> {
        let config = Config::from_env()?;
        let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
        Ok(Self { services: Services::connect(&config, &options).await?, token: config.api_token })
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
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    Router::new().nest("/api", api)
}

/// Refuses a request without the configured bearer token (compared in constant time).
async fn require_token(State(state): AppState, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let accepted = match (&state.token, given) {
        (Some(expected), Some(given)) => {
            let (a, b) = (Sha256::digest(expected.expose().as_bytes()), Sha256::digest(given.as_bytes()));
            bool::from(a.ct_eq(&b))
        }
        _ => false,
    };
    if !accepted {
        let mut response = ApiError::unauthenticated().into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
}

async fn create_project(
    State(state): AppState,
    Body(body): Body<CreateProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.services.store.create_project(&body.name).await?)))
}

async fn list_projects(State(state): AppState) -> Result<Json<Vec<Project>>, ApiError> {
    Ok(Json(state.services.store.list_projects().await?))
}

async fn put_sync_config(
    State(state): AppState,
    Id(project_id): Id,
    Body(body): Body<PutSyncConfig>,
) -> Result<Json<GitHubSyncConfig>, ApiError> {
    Ok(Json(state.services.put_sync_config(project_id, body).await?))
}

async fn get_sync_config(
    State(state): AppState,
    Id(project_id): Id,
) -> Result<Json<GitHubSyncConfig>, ApiError> {
    Ok(Json(state.services.store.get_config(project_id).await?))
}

async fn delete_sync_config(State(state): AppState, Id(project_id): Id) -> Result<StatusCode, ApiError> {
    state.services.store.delete_config(project_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
