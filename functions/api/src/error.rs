//! The API's error answer: `{"error": {"code", "message"[, "field"]}}` with its status.
//! Unexpected failures are logged and answered with an opaque 500.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ghsync_shared::StoreError;
use ghsync_shared::crypto::CryptoError;
use ghsync_shared::domain::ValidationError;
use ghsync_shared::services::ManageError;
use ghsync_shared::telemetry::ErrorChain;
use serde_json::json;

/// The 502 answers: a stable code and message; what the client saw is logged, not answered.
pub const GITHUB_UNAVAILABLE: &str =
    "GitHub did not answer (unreachable, timed out or failing); try again later";
pub const KMS_UNAVAILABLE: &str = "the key service (KMS) did not answer; try again later";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid bearer token is required")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    fn internal(error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(error), "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    fn unavailable(error: &dyn std::error::Error) -> Self {
        tracing::warn!(error = %ErrorChain(error), "dependency unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "a dependency is unavailable; try again")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<ghsync_shared::paging::PageRequestError> for ApiError {
    fn from(e: ghsync_shared::paging::PageRequestError) -> Self {
        match e {
            ghsync_shared::paging::PageRequestError::Limit(e) => e.into(),
            ghsync_shared::paging::PageRequestError::Cursor(e) => Self::bad_request(e.to_string()),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self { field: Some(e.field), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()) }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(v) => v.into(),
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::StateConflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::Changed(message) => {
                Self::new(StatusCode::PRECONDITION_FAILED, "task_changed", message)
            }
            StoreError::Unavailable(_) => Self::unavailable(&e),
            StoreError::Database(_) | StoreError::Corrupt { .. } => Self::internal(&e),
        }
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::KmsUnavailable(_) => {
                // The client's error chain (endpoints, SDK detail) goes to the log only.
                tracing::warn!(error = %ErrorChain(&e), "KMS unavailable");
                Self::new(StatusCode::BAD_GATEWAY, "kms_unavailable", KMS_UNAVAILABLE)
            }
            _ => Self::internal(&e),
        }
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Store(e) => e.into(),
            ManageError::Invalid(e) => e.into(),
            ManageError::Crypto(e) => e.into(),
            ManageError::PatRefused { field, .. } => Self {
                field: Some(field),
                ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "pat_refused", e.to_string())
            },
            ManageError::StoredSecretUnreadable { .. } => {
                tracing::warn!(error = %ErrorChain(&e), "a stored PAT does not decrypt");
                Self::new(StatusCode::CONFLICT, "stored_pat_unreadable", e.to_string())
            }
            ManageError::GitHubRefused(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "github_refused", e.to_string())
            }
            ManageError::TokenExpired(_) => {
                Self { field: Some("pat"), ..Self::new(StatusCode::CONFLICT, "token_expired", e.to_string()) }
            }
            ManageError::NoApp => Self::new(StatusCode::CONFLICT, "no_github_app", e.to_string()),
            ManageError::AppRefused => Self {
                field: Some("private_key"),
                ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "github_app_refused", e.to_string())
            },
            ManageError::GitHubUnavailable { .. } => {
                tracing::warn!(error = %ErrorChain(&e), "GitHub unavailable");
                Self::new(StatusCode::BAD_GATEWAY, "github_unavailable", GITHUB_UNAVAILABLE)
            }
        }
    }
}
