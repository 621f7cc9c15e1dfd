//! A local HTTP server that speaks the part of GitHub's REST API ghsync uses, with
//! GitHub-shaped JSON, for tests and benchmarks:
//!
//! - `GET /repos/{owner}/{repo}`: tokens decide access as on GitHub (unknown token → 401
//!   "Bad credentials", a repository the token cannot see → 404);
//! - `GET /repos/{owner}/{repo}/issues` (and `/repositories/{id}/issues`, the form of
//!   GitHub's `Link` URLs): issues and pull requests, `since` (inclusive), `sort=updated`,
//!   `direction`, `per_page` (≤ 100), `page`, a `Link` header, a weak `ETag` of the body and
//!   `304` for a matching `If-None-Match`, rate-limit headers;
//! - `GET /repos/{owner}/{repo}/issues/{number}`: `410` for a deleted issue, `301` to the new
//!   location for a transferred one;
//! - `PATCH /repos/{owner}/{repo}/issues/{number}` (title, body, state, state_reason) and
//!   `POST /repos/{owner}/{repo}/issues` (title, body), with GitHub's semantics: `updated_at`
//!   moves (to a second after the repository's newest change, so tests control the clock),
//!   `state_reason` is kept, a blank title is a `422`; a token marked read-only gets GitHub's
//!   `403` for writes;
//! - `GET`/`POST /repos/{owner}/{repo}/hooks`, `PATCH`/`DELETE /repos/{owner}/{repo}/hooks/{id}`
//!   (the secret is kept, never shown back; a token denied hooks gets GitHub's `404`, as a
//!   classic token without `admin:repo_hook` does).
//!
//! Every request is recorded; faults can be queued to answer the next requests, and
//! mutations can be scheduled after the n-th list request (issues changing between pages).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `PATCH`, `POST`…
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    /// The status it was answered with.
    pub status: u16,
}

impl Recorded {
    /// A request for an issue list.
    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.path.ends_with("/issues")
    }

    /// A request that changes something on GitHub.
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// A canned answer for the next request.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Wait this long before answering (a timeout, for a client with a shorter one).
    pub delay: Duration,
}

impl Fault {
    pub fn status(status: u16, body: &str) -> Self {
        Self { status, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Answers after `delay`.
    pub fn slow(delay: Duration) -> Self {
        Self { delay, ..Self::status(200, "[]") }
    }
}

/// A change to a repository's issues.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Adds the issue (or pull request) object, or replaces the one with its number.
    Upsert { repo: String, issue: Value },
    /// Deletes issue `number` (later look-ups answer 410).
    Delete { repo: String, number: i64 },
    /// Moves issue `number` to `to_repo` as `to_number` (later look-ups answer 301).
    Transfer { repo: String, number: i64, to_repo: String, to_number: i64, updated_at: String },
}

enum Gone {
    Deleted,
    Transferred { repo_id: i64, number: i64 },
}

struct RepoData {
    id: i64,
    /// Issues and pull requests, kept in list order: ascending (updated_at, number).
    items: Vec<Value>,
    /// The numbers in `items`.
    numbers: HashSet<i64>,
    gone: HashMap<i64, Gone>,
}

/// An item's place in the list order. Times compare as text: the fixtures write them all
/// as YYYY-MM-DDTHH:MM:SSZ.
fn order_key(item: &Value) -> (&str, i64) {
    (item["updated_at"].as_str().unwrap_or(""), item["number"].as_i64().unwrap_or(0))
}

impl RepoData {
    fn remove(&mut self, number: i64) -> Option<Value> {
        if !self.numbers.remove(&number) {
            return None;
        }
        let at = self.items.iter().rposition(|i| i["number"].as_i64() == Some(number))?;
        Some(self.items.remove(at))
    }

    /// Adds or replaces (by number) an item, keeping the list order; seeding new issues in
    /// time order appends, so large repositories build in linear time.
    fn upsert(&mut self, item: Value) {
        let number = item["number"].as_i64().expect("an issue has a number");
        self.remove(number);
        self.numbers.insert(number);
        let at = self.items.partition_point(|i| order_key(i) < order_key(&item));
        self.items.insert(at, item);
    }
}

#[derive(Default)]
struct GhState {
    base: String,
    /// token → repositories (`owner/name`, lower case) it may read.
    tokens: HashMap<String, HashSet<String>>,
    repos: HashMap<String, RepoData>,
    requests: Vec<Recorded>,
    faults: VecDeque<Fault>,
    /// Faults for the next writes only (reads pass).
    write_faults: VecDeque<Fault>,
    list_requests: usize,
    /// Mutations applied right after the n-th list request is answered.
    scheduled: Vec<(usize, Mutation)>,
    /// List requests received so far (counted on arrival, unlike `list_requests`).
    list_arrivals: usize,
    /// n → (tell the test the n-th list request arrived, wait for its release).
    holds: HashMap<usize, (oneshot::Sender<()>, oneshot::Receiver<()>)>,
    /// How long every request takes before it is answered (GitHub-like latency).
    latency: Duration,
    /// token → (requests left this hour, when the hour resets, in seconds since the epoch);
    /// tokens without one answer the fixed headers of a fresh budget.
    budgets: HashMap<String, (u32, i64)>,
    /// `github-authentication-token-expiration` by token.
    expiries: HashMap<String, String>,
    /// Tokens that may read but not write (`permissions.push` false, writes refused).
    read_only: HashSet<String>,
    /// Tokens that may not manage hooks.
    no_hooks: HashSet<String>,
    /// Repository (lower case) → its hooks, each with the secret it was given.
    hooks: HashMap<String, Vec<(Value, String)>>,
    next_hook_id: i64,
}

impl GhState {
    fn repo_mut(&mut self, full_name: &str) -> &mut RepoData {
        let key = full_name.to_ascii_lowercase();
        let next_id = 1_000 + self.repos.len() as i64;
        self.repos.entry(key).or_insert_with(|| RepoData {
            id: next_id,
            items: Vec::new(),
            numbers: HashSet::new(),
            gone: HashMap::new(),
        })
    }

    fn apply(&mut self, m: Mutation) {
        match m {
            Mutation::Upsert { repo, issue } => {
                self.repo_mut(&repo).upsert(issue);
            }
            Mutation::Delete { repo, number } => {
                let r = self.repo_mut(&repo);
                r.remove(number);
                r.gone.insert(number, Gone::Deleted);
            }
            Mutation::Transfer { repo, number, to_repo, to_number, updated_at } => {
                let old = self.repo_mut(&repo);
                let item = old.remove(number).expect("transfer an existing issue");
                let moved = crate::fixtures::issue(
                    &to_repo,
                    to_number,
                    item["title"].as_str().unwrap_or(""),
                    item["body"].as_str(),
                    if item["state"] == "open" { "open" } else { "completed" },
                    &updated_at,
                );
                let new = self.repo_mut(&to_repo);
                let new_id = new.id;
                new.upsert(moved);
                self.repo_mut(&repo)
                    .gone
                    .insert(number, Gone::Transferred { repo_id: new_id, number: to_number });
            }
        }
    }
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

type Shared = State<Arc<Mutex<GhState>>>;

impl FakeGitHub {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> Self {
        let state = Arc::new(Mutex::new(GhState::default()));
        let app = Router::new()
            .route("/repos/{owner}/{repo}", get(get_repo))
            .route("/repos/{owner}/{repo}/issues", get(list_by_name).post(create_issue))
            .route("/repositories/{id}/issues", get(list_by_id))
            .route("/repos/{owner}/{repo}/issues/{number}", get(issue_by_name).patch(update_issue))
            .route("/repos/{owner}/{repo}/hooks", get(list_hooks).post(create_hook))
            .route("/repos/{owner}/{repo}/hooks/{id}", axum::routing::patch(update_hook).delete(delete_hook))
            .route("/repositories/{id}/issues/{number}", get(issue_by_id))
            .route("/_fake/touch", axum::routing::post(touch))
            .route("/_fake/latency", axum::routing::post(latency))
            .fallback(unknown_route)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        state.lock().unwrap().base = url.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, task }
    }

    /// Answers every later request after `latency`, as real GitHub takes 0.3–1 s for a page
    /// of 100 issues (tests and benchmarks see GitHub-like timings).
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Gives `token` a budget of `remaining` requests until `reset` (seconds since the
    /// epoch): each request spends one, the headers tell what is left, and an exhausted
    /// budget answers 403 as GitHub's primary rate limit does.
    pub fn set_rate_budget(&self, token: &str, remaining: u32, reset: i64) {
        self.state.lock().unwrap().budgets.insert(token.to_string(), (remaining, reset));
    }

    /// Makes every answer to `token` carry `github-authentication-token-expiration: value`
    /// (as GitHub does for tokens that expire).
    pub fn set_token_expiry(&self, token: &str, value: &str) {
        self.state.lock().unwrap().expiries.insert(token.to_string(), value.to_string());
    }

    /// Adds a repository `owner/name` that `token` can read.
    pub fn add_repo(&self, full_name: &str, token: &str) {
        let mut s = self.state.lock().unwrap();
        let key = full_name.to_ascii_lowercase();
        s.repo_mut(full_name);
        s.tokens.entry(token.to_string()).or_default().insert(key);
    }

    /// Makes `token` read-only: the repository shows `permissions.push: false` and every
    /// write is refused with GitHub's 403.
    pub fn set_read_only(&self, token: &str) {
        self.state.lock().unwrap().read_only.insert(token.to_string());
    }

    /// Denies `token` the management of hooks (GitHub answers 404, as for a classic token
    /// without `admin:repo_hook`).
    pub fn deny_hooks(&self, token: &str) {
        self.state.lock().unwrap().no_hooks.insert(token.to_string());
    }

    /// Lets `token` manage hooks again.
    pub fn allow_hooks(&self, token: &str) {
        self.state.lock().unwrap().no_hooks.remove(token);
    }

    /// The hooks of `repo`, each with the secret it was given.
    pub fn hooks(&self, repo: &str) -> Vec<(Value, String)> {
        self.state.lock().unwrap().hooks.get(&repo.to_ascii_lowercase()).cloned().unwrap_or_default()
    }

    /// Records GitHub's last delivery to hook `id` of `repo` (what the hook's page shows).
    pub fn set_hook_last_response(&self, repo: &str, id: i64, code: i64, status: &str, message: &str) {
        let mut s = self.state.lock().unwrap();
        for (hook, _) in s.hooks.entry(repo.to_ascii_lowercase()).or_default() {
            if hook["id"] == id {
                hook["last_response"] = json!({ "code": code, "status": status, "message": message });
            }
        }
    }

    /// The requests that changed something (`PATCH`, `POST`).
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(Recorded::is_write).collect()
    }

    /// The `updated_at` GitHub gives the next write to `repo` (a second after its newest
    /// change): a test's own later edits must be later than this.
    pub fn next_write_time(&self, repo: &str) -> String {
        let mut s = self.state.lock().unwrap();
        write_time(s.repo_mut(repo))
    }

    /// A token GitHub knows but that can read nothing.
    pub fn add_token(&self, token: &str) {
        self.state.lock().unwrap().tokens.entry(token.to_string()).or_default();
    }

    /// Applies a change now.
    pub fn mutate(&self, m: Mutation) {
        self.state.lock().unwrap().apply(m);
    }

    /// Adds or replaces an issue (or pull request) object.
    pub fn upsert(&self, repo: &str, issue: Value) {
        self.mutate(Mutation::Upsert { repo: repo.to_string(), issue });
    }

    /// Applies `m` right after the `n`-th list request (counted from the server's start).
    pub fn after_list_request(&self, n: usize, m: Mutation) {
        self.state.lock().unwrap().scheduled.push((n, m));
    }

    /// Holds the n-th list request (counting from 1) until the test releases it: the test
    /// learns that the client is waiting on that page and can break something meanwhile.
    pub fn hold_list_request(&self, n: usize) -> Held {
        let (arrived_tx, arrived) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        self.state.lock().unwrap().holds.insert(n, (arrived_tx, release_rx));
        Held { arrived: Some(arrived), release }
    }

    /// Answers the next write (`PATCH`, `POST`) with `fault` instead; reads pass.
    pub fn push_write_fault(&self, fault: Fault) {
        self.state.lock().unwrap().write_faults.push_back(fault);
    }

    /// Drops the faults no request has taken yet.
    pub fn clear_faults(&self) {
        let mut s = self.state.lock().unwrap();
        s.faults.clear();
        s.write_faults.clear();
    }

    /// Answers the next request with `fault` instead.
    pub fn push_fault(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// The issue (or pull request) object `number` of `repo`.
    pub fn issue(&self, repo: &str, number: i64) -> Option<Value> {
        let s = self.state.lock().unwrap();
        s.repos
            .get(&repo.to_ascii_lowercase())
            .and_then(|r| r.items.iter().find(|i| i["number"].as_i64() == Some(number)).cloned())
    }
}

fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

fn with_rate_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", "5000".parse().unwrap());
    h.insert("x-ratelimit-remaining", "4990".parse().unwrap());
    h.insert("x-ratelimit-used", "10".parse().unwrap());
    h.insert("x-ratelimit-resource", "core".parse().unwrap());
    h.insert("x-ratelimit-reset", "1767610800".parse().unwrap());
    h.insert("x-github-api-version-selected", "2022-11-28".parse().unwrap());
    response
}

/// A list request held by [`FakeGitHub::hold_list_request`].
pub struct Held {
    arrived: Option<oneshot::Receiver<()>>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Waits until the held request has arrived.
    pub async fn arrived(&mut self) {
        if let Some(arrived) = self.arrived.take() {
            arrived.await.expect("the server dropped a held request");
        }
    }

    /// Lets the server answer it.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

/// A route this stand-in does not speak: a loud 500 (a 404 would read as "deleted" to the
/// reconciler and hide the gap), recorded like any other request.
async fn unknown_route(State(state): Shared, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let message = format!("the GitHub stand-in has no route for {method} {}", uri.path());
    eprintln!("{message}");
    state.lock().unwrap().requests.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: None,
        if_none_match: None,
        status: 500,
    });
    github_error(StatusCode::INTERNAL_SERVER_ERROR, &message)
}

/// What a handler does once it has found the repository in the state (or not).
enum Answer {
    Ok(Response),
    Fault(Fault),
}

/// Records the request and answers a queued fault, refuses a token without access, or lets
/// `serve` answer (with the state locked).
async fn answer(
    state: &Mutex<GhState>,
    method: &'static str,
    headers: &HeaderMap,
    path: String,
    query: String,
    repo: impl FnOnce(&GhState) -> Option<String>,
    serve: impl FnOnce(&mut GhState, &str) -> Response,
) -> Response {
    let latency = state.lock().unwrap().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_string);
    let is_list = method == "GET" && path.ends_with("/issues");
    let hold = is_list.then(|| {
        let mut s = state.lock().unwrap();
        s.list_arrivals += 1;
        let n = s.list_arrivals;
        s.holds.remove(&n)
    });
    if let Some((arrived, release)) = hold.flatten() {
        let _ = arrived.send(());
        let _ = release.await;
    }
    let outcome = {
        let mut s = state.lock().unwrap();
        let write_fault = if method == "GET" { None } else { s.write_faults.pop_front() };
        if let Some(f) = write_fault.or_else(|| s.faults.pop_front()) {
            Answer::Fault(f)
        } else {
            let token = authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")));
            let repo_key = repo(&s);
            let budget = token.and_then(|t| s.budgets.get_mut(t)).map(|b| {
                let before = b.0;
                b.0 = b.0.saturating_sub(1);
                (before, *b)
            });
            let response = match (token.and_then(|t| s.tokens.get(t)), repo_key) {
                (None, _) => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
                _ if budget.is_some_and(|(before, _)| before == 0) => {
                    github_error(StatusCode::FORBIDDEN, "API rate limit exceeded")
                }
                (Some(_), Some(_)) if method != "GET" && token.is_some_and(|t| s.read_only.contains(t)) => {
                    github_error(StatusCode::FORBIDDEN, "Resource not accessible by personal access token")
                }
                (Some(readable), Some(key)) if readable.contains(&key) => serve(&mut s, &key),
                _ => github_error(StatusCode::NOT_FOUND, "Not Found"),
            };
            let mut response = with_rate_headers(response);
            if let Some(expiry) = token.and_then(|t| s.expiries.get(t)) {
                response
                    .headers_mut()
                    .insert("github-authentication-token-expiration", expiry.parse().unwrap());
            }
            if let Some((_, (remaining, reset))) = budget {
                let h = response.headers_mut();
                h.insert("x-ratelimit-remaining", remaining.to_string().parse().unwrap());
                h.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
            }
            Answer::Ok(response)
        }
    };
    let response = match outcome {
        Answer::Ok(r) => r,
        Answer::Fault(f) => {
            tokio::time::sleep(f.delay).await;
            let mut r = (StatusCode::from_u16(f.status).unwrap(), f.body).into_response();
            r.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().unwrap());
            for (k, v) in f.headers {
                r.headers_mut().insert(k, v.parse().unwrap());
            }
            r
        }
    };
    let mut s = state.lock().unwrap();
    s.requests.push(Recorded {
        method: method.to_string(),
        path,
        query,
        authorization,
        if_none_match,
        status: response.status().as_u16(),
    });
    if is_list {
        s.list_requests += 1;
        let n = s.list_requests;
        let due: Vec<Mutation> =
            s.scheduled.iter().filter(|(at, _)| *at == n).map(|(_, m)| m.clone()).collect();
        s.scheduled.retain(|(at, _)| *at != n);
        for m in due {
            s.apply(m);
        }
    }
    response
}

fn key_of(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}").to_ascii_lowercase()
}

fn key_by_id(s: &GhState, id: i64) -> Option<String> {
    s.repos.iter().find(|(_, r)| r.id == id).map(|(k, _)| k.clone())
}

async fn get_repo(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    answer(
        &state,
        "GET",
        &headers,
        format!("/repos/{owner}/{repo}"),
        String::new(),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, _| {
            let token = bearer(&headers);
            let push = token.is_some_and(|t| !s.read_only.contains(t));
            Json(repo_json(&owner, &repo, push)).into_response()
        },
    )
    .await
}

async fn list_by_name(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    let query = encode_query(&q);
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_string);
    answer(
        &state,
        "GET",
        &headers,
        format!("/repos/{owner}/{repo}/issues"),
        query,
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| list(s, key, &q, if_none_match.as_deref()),
    )
    .await
}

async fn list_by_id(
    State(state): Shared,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let query = encode_query(&q);
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_string);
    answer(
        &state,
        "GET",
        &headers,
        format!("/repositories/{id}/issues"),
        query,
        |s| key_by_id(s, id),
        |s, key| list(s, key, &q, if_none_match.as_deref()),
    )
    .await
}

fn encode_query(q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<_> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join("&")
}

fn list(s: &GhState, key: &str, q: &HashMap<String, String>, if_none_match: Option<&str>) -> Response {
    let repo = &s.repos[key];
    let since = q.get("since").cloned();
    let per_page = q.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let page = q.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let desc = q.get("direction").is_some_and(|d| d == "desc");
    // The items are kept in list order: `since` is a binary search, a page a slice.
    let first = since
        .as_deref()
        .map_or(0, |since| repo.items.partition_point(|i| i["updated_at"].as_str().unwrap_or("") < since));
    let items = &repo.items[first..];
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let (from, to) = ((page - 1) * per_page, (page * per_page).min(total));
    let body: Vec<&Value> = if from >= total {
        Vec::new()
    } else if desc {
        items[total - to..total - from].iter().rev().collect()
    } else {
        items[from..to].iter().collect()
    };
    let text = serde_json::to_string(&body).unwrap();
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let etag = format!("W/\"{:016x}\"", hasher.finish());
    let link_for = |p: usize| {
        let mut params: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k.as_str() != "page").map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort();
        params.push(("page".into(), p.to_string()));
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}/repositories/{}/issues?{}", s.base, repo.id, query.join("&"))
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("<{}>; rel=\"next\"", link_for(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_for(pages)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_for(page - 1)));
        links.push(format!("<{}>; rel=\"first\"", link_for(1)));
    }
    let mut response = if if_none_match == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (StatusCode::OK, text).into_response();
        r.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        r
    };
    let h = response.headers_mut();
    h.insert("etag", etag.parse().unwrap());
    if !links.is_empty() {
        h.insert("link", links.join(", ").parse().unwrap());
    }
    response
}

async fn issue_by_name(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    answer(
        &state,
        "GET",
        &headers,
        format!("/repos/{owner}/{repo}/issues/{number}"),
        String::new(),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| one_issue(s, key, number),
    )
    .await
}

async fn issue_by_id(
    State(state): Shared,
    Path((id, number)): Path<(i64, i64)>,
    headers: HeaderMap,
) -> Response {
    answer(
        &state,
        "GET",
        &headers,
        format!("/repositories/{id}/issues/{number}"),
        String::new(),
        |s| key_by_id(s, id),
        |s, key| one_issue(s, key, number),
    )
    .await
}

/// `POST /_fake/touch {"repo", "numbers": [..], "updated_at"}`: edits the titles of those
/// issues (benchmarks change a share of a repository through it). Not part of GitHub's API.
async fn touch(State(state): Shared, Json(body): Json<Value>) -> StatusCode {
    let repo = body["repo"].as_str().unwrap_or_default().to_string();
    let updated_at = body["updated_at"].as_str().unwrap_or_default().to_string();
    let mut s = state.lock().unwrap();
    for n in body["numbers"].as_array().into_iter().flatten().filter_map(Value::as_i64) {
        let Some(mut item) = s
            .repos
            .get(&repo.to_ascii_lowercase())
            .and_then(|r| r.items.iter().find(|i| i["number"].as_i64() == Some(n)).cloned())
        else {
            continue;
        };
        item["title"] = json!(format!("{} (edited)", item["title"].as_str().unwrap_or("")));
        item["updated_at"] = json!(updated_at);
        s.apply(Mutation::Upsert { repo: repo.clone(), issue: item });
    }
    StatusCode::NO_CONTENT
}

/// `POST /_fake/latency {"ms": n}`: every later request is answered after `n` ms (what
/// [`FakeGitHub::set_latency`] does, for tests that drive the binary over HTTP).
async fn latency(State(state): Shared, Json(body): Json<Value>) -> StatusCode {
    state.lock().unwrap().latency = Duration::from_millis(body["ms"].as_u64().unwrap_or(0));
    StatusCode::NO_CONTENT
}

fn one_issue(s: &GhState, key: &str, number: i64) -> Response {
    let repo = &s.repos[key];
    if let Some(item) = repo.items.iter().find(|i| i["number"].as_i64() == Some(number)) {
        return Json(item.clone()).into_response();
    }
    match repo.gone.get(&number) {
        Some(Gone::Deleted) => github_error(StatusCode::GONE, "This issue was deleted"),
        Some(Gone::Transferred { repo_id, number }) => {
            let location = format!("{}/repositories/{repo_id}/issues/{number}", s.base);
            let mut r = (
                StatusCode::MOVED_PERMANENTLY,
                Json(json!({"message": "Moved Permanently", "url": location})),
            )
                .into_response();
            r.headers_mut().insert("location", location.parse().unwrap());
            r
        }
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// A repository as `GET /repos/{owner}/{repo}` shows it (the commonly read fields).
/// `push`: the token may write (a read-only token's repository shows `false`).
pub fn repo_json(owner: &str, repo: &str, push: bool) -> Value {
    let mut r = crate::fixtures::repository(&format!("{owner}/{repo}"));
    r["permissions"] =
        json!({ "admin": false, "maintain": false, "push": push, "triage": push, "pull": true });
    r
}

/// The token of a request's `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("token "))
}

/// The `updated_at` of the next write to a repository: a second after its newest change.
fn write_time(repo: &RepoData) -> String {
    let newest = repo.items.last().and_then(|i| i["updated_at"].as_str()).unwrap_or("2026-01-01T00:00:00Z");
    let newest = chrono::DateTime::parse_from_rfc3339(newest).expect("fixture times are RFC 3339");
    (newest + chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `PATCH /repos/{owner}/{repo}/issues/{number}`: changes what the body names.
async fn update_issue(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    answer(
        &state,
        "PATCH",
        &headers,
        format!("/repos/{owner}/{repo}/issues/{number}"),
        String::new(),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let repo = s.repos.get_mut(key).expect("the repository was found");
            let Some(mut item) = repo.items.iter().find(|i| i["number"].as_i64() == Some(number)).cloned()
            else {
                return one_issue(s, key, number);
            };
            if let Some(title) = body.get("title") {
                match title.as_str().map(str::trim) {
                    Some(t) if !t.is_empty() => item["title"] = json!(t),
                    _ => return validation_failed("title"),
                }
            }
            if let Some(text) = body.get("body") {
                item["body"] = match text.as_str() {
                    Some("") | None => Value::Null,
                    Some(text) => json!(text),
                };
            }
            let at = write_time(repo);
            match body.get("state").and_then(Value::as_str) {
                Some("closed") => {
                    let reason = match body.get("state_reason").and_then(Value::as_str) {
                        Some("not_planned") => "not_planned",
                        Some("duplicate") => "duplicate",
                        _ => "completed",
                    };
                    item["state"] = json!("closed");
                    item["state_reason"] = json!(reason);
                    item["closed_at"] = json!(at);
                }
                Some("open") => {
                    if item["state"] == "closed" {
                        item["state_reason"] = json!("reopened");
                    }
                    item["state"] = json!("open");
                    item["closed_at"] = Value::Null;
                }
                Some(_) => return validation_failed("state"),
                None => {}
            }
            item["updated_at"] = json!(at);
            repo.upsert(item.clone());
            Json(item).into_response()
        },
    )
    .await
}

/// `POST /repos/{owner}/{repo}/issues`: opens an issue with the next number.
async fn create_issue(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    let full_name = format!("{owner}/{repo}");
    answer(
        &state,
        "POST",
        &headers,
        format!("/repos/{owner}/{repo}/issues"),
        String::new(),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let Some(title) = body.get("title").and_then(Value::as_str).filter(|t| !t.trim().is_empty())
            else {
                return validation_failed("title");
            };
            let repo = s.repos.get_mut(key).expect("the repository was found");
            let number = repo.numbers.iter().chain(repo.gone.keys()).max().copied().unwrap_or(0) + 1;
            let text = body.get("body").and_then(Value::as_str).filter(|b| !b.is_empty());
            let item =
                crate::fixtures::issue(&full_name, number, title.trim(), text, "open", &write_time(repo));
            let mut item = item;
            item["labels"] = json!([]);
            repo.upsert(item.clone());
            (StatusCode::CREATED, Json(item)).into_response()
        },
    )
    .await
}

/// Answers a hooks request: refused (404) for a token denied hooks, else `serve`.
async fn hooks_answer(
    state: &Mutex<GhState>,
    method: &'static str,
    headers: &HeaderMap,
    owner: &str,
    repo: &str,
    path: String,
    serve: impl FnOnce(&mut GhState, &str) -> Response,
) -> Response {
    let key = key_of(owner, repo);
    let denied = bearer(headers).is_some_and(|t| state.lock().unwrap().no_hooks.contains(t));
    answer(
        state,
        method,
        headers,
        path,
        String::new(),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        move |s, key| if denied { github_error(StatusCode::NOT_FOUND, "Not Found") } else { serve(s, key) },
    )
    .await
}

/// A hook as GitHub shows it: the secret masked.
fn shown_hook(hook: &Value) -> Value {
    let mut shown = hook.clone();
    shown["config"]["secret"] = json!("********");
    shown
}

/// A hook from a `POST`/`PATCH` body (name `web`; the config's secret kept aside).
fn hook_from(id: i64, body: &Value, old: Option<&Value>) -> (Value, Option<String>) {
    let config = &body["config"];
    let secret = config["secret"].as_str().map(str::to_string);
    let mut hook = old.cloned().unwrap_or_else(|| {
        json!({ "type": "Repository", "id": id, "name": "web", "active": true, "events": ["push"],
                "config": {}, "last_response": { "code": null, "status": "unused", "message": null } })
    });
    if let Some(active) = body.get("active") {
        hook["active"] = active.clone();
    }
    if let Some(events) = body.get("events") {
        hook["events"] = events.clone();
    }
    if let Some(fields) = config.as_object() {
        for (k, v) in fields {
            if k != "secret" {
                hook["config"][k] = v.clone();
            }
        }
    }
    (hook, secret)
}

async fn list_hooks(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/hooks");
    hooks_answer(&state, "GET", &headers, &owner, &repo, path, |s, key| {
        let hooks: Vec<Value> = s.hooks.get(key).into_iter().flatten().map(|(h, _)| shown_hook(h)).collect();
        Json(hooks).into_response()
    })
    .await
}

async fn create_hook(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/hooks");
    hooks_answer(&state, "POST", &headers, &owner, &repo, path, |s, key| {
        if body["config"]["url"].as_str().is_none_or(str::is_empty) {
            return validation_failed("config.url");
        }
        s.next_hook_id += 1;
        let (hook, secret) = hook_from(s.next_hook_id, &body, None);
        s.hooks.entry(key.to_string()).or_default().push((hook.clone(), secret.unwrap_or_default()));
        (StatusCode::CREATED, Json(shown_hook(&hook))).into_response()
    })
    .await
}

async fn update_hook(
    State(state): Shared,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/hooks/{id}");
    hooks_answer(&state, "PATCH", &headers, &owner, &repo, path, |s, key| {
        let hooks = s.hooks.entry(key.to_string()).or_default();
        let Some((hook, secret)) = hooks.iter_mut().find(|(h, _)| h["id"] == id) else {
            return github_error(StatusCode::NOT_FOUND, "Not Found");
        };
        let (updated, new_secret) = hook_from(id, &body, Some(hook));
        *hook = updated;
        if let Some(new_secret) = new_secret {
            *secret = new_secret;
        }
        Json(shown_hook(hook)).into_response()
    })
    .await
}

async fn delete_hook(
    State(state): Shared,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/hooks/{id}");
    hooks_answer(&state, "DELETE", &headers, &owner, &repo, path, |s, key| {
        let hooks = s.hooks.entry(key.to_string()).or_default();
        let before = hooks.len();
        hooks.retain(|(h, _)| h["id"] != id);
        if hooks.len() == before {
            github_error(StatusCode::NOT_FOUND, "Not Found")
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    })
    .await
}

/// GitHub's `422 Validation Failed` for a missing or invalid field.
fn validation_failed(field: &str) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": [{ "resource": "Issue", "code": "missing_field", "field": field }],
        "documentation_url": "https://docs.github.com/rest/issues/issues",
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_route_is_a_loud_500_not_a_404() {
        let gh = FakeGitHub::start().await;
        gh.add_repo("acme/widgets", "t");
        let url = format!("{}/repos/acme/widgets/labels", gh.url);
        let reply =
            crate::http::send(axum::http::Method::POST, &url, &[("authorization", "Bearer t")], "{}").await;
        assert_eq!(reply.status.as_u16(), 500);
        assert!(reply.text().contains("no route for POST /repos/acme/widgets/labels"), "{}", reply.text());
        assert_eq!(gh.requests().last().unwrap().status, 500);
    }
}
