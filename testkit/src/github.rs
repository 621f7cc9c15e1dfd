//! A local HTTP server that speaks the part of GitHub's REST API ghsync uses, with
//! GitHub-shaped JSON, for tests: `GET /repos/{owner}/{repo}` now; tokens decide access as on
//! GitHub (unknown token → 401 "Bad credentials", a repository the token cannot see → 404).
//! Every request is recorded; faults can be queued to answer the next requests.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
}

/// A canned answer for the next request.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Default)]
struct GhState {
    /// token → repositories (`owner/name`, lower case) it may read.
    tokens: HashMap<String, HashSet<String>>,
    repos: HashSet<String>,
    requests: Vec<Recorded>,
    faults: VecDeque<Fault>,
}

/// The running server; stops when dropped.
pub struct FakeGitHub {
    pub url: String,
    state: Arc<Mutex<GhState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGitHub {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(GhState::default()));
        let app = Router::new().route("/repos/{owner}/{repo}", get(get_repo)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, task }
    }

    /// Adds a repository `owner/name` that `token` can read.
    pub fn add_repo(&self, full_name: &str, token: &str) {
        let mut s = self.state.lock().unwrap();
        let key = full_name.to_ascii_lowercase();
        s.repos.insert(key.clone());
        s.tokens.entry(token.to_string()).or_default().insert(key);
    }

    /// A token GitHub knows but that can read nothing.
    pub fn add_token(&self, token: &str) {
        self.state.lock().unwrap().tokens.entry(token.to_string()).or_default();
    }

    /// Answers the next request with `fault` instead.
    pub fn push_fault(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

type Shared = State<Arc<Mutex<GhState>>>;

fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

/// Records the request; `Some` answer for a queued fault or a token without access.
fn refuse(state: &Mutex<GhState>, headers: &HeaderMap, path: String, repo: &str) -> Option<Response> {
    let mut s = state.lock().unwrap();
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    s.requests.push(Recorded { path, authorization: authorization.clone() });
    if let Some(f) = s.faults.pop_front() {
        let mut response = (StatusCode::from_u16(f.status).unwrap(), f.body).into_response();
        for (k, v) in f.headers {
            response.headers_mut().insert(k, v.parse().unwrap());
        }
        return Some(response);
    }
    let token =
        authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")));
    let Some(readable) = token.and_then(|t| s.tokens.get(t)) else {
        return Some(github_error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    };
    if !s.repos.contains(repo) || !readable.contains(repo) {
        return Some(github_error(StatusCode::NOT_FOUND, "Not Found"));
    }
    None
}

async fn get_repo(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}").to_ascii_lowercase();
    if let Some(r) = refuse(&state, &headers, format!("/repos/{owner}/{repo}"), &full) {
        return r;
    }
    Json(repo_json(&owner, &repo)).into_response()
}

/// A repository as `GET /repos/{owner}/{repo}` shows it (the commonly read fields).
pub fn repo_json(owner: &str, repo: &str) -> Value {
    json!({
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": repo,
        "full_name": format!("{owner}/{repo}"),
        "private": false,
        "owner": {
            "login": owner,
            "id": 1,
            "node_id": "MDQ6VXNlcjE=",
            "type": "Organization",
            "html_url": format!("https://github.com/{owner}"),
        },
        "html_url": format!("https://github.com/{owner}/{repo}"),
        "description": "A test repository",
        "fork": false,
        "url": format!("https://api.github.com/repos/{owner}/{repo}"),
        "issues_url": format!("https://api.github.com/repos/{owner}/{repo}/issues{{/number}}"),
        "has_issues": true,
        "open_issues_count": 0,
        "default_branch": "main",
        "permissions": { "admin": false, "push": false, "pull": true },
        "created_at": "2011-01-26T19:01:12Z",
        "updated_at": "2026-01-05T10:00:00Z",
        "pushed_at": "2026-01-05T10:00:00Z",
    })
}
