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
//!   classic token without `admin:repo_hook` does);
//! - token kinds and the headers GitHub sends with them: a classic token's `x-oauth-scopes`
//!   ([`FakeGitHub::set_classic_scopes`]); a fine-grained token's
//!   `x-accepted-github-permissions` (what the endpoint needs, e.g. `issues=read`) and GitHub's
//!   `403` when its permissions fall short ([`FakeGitHub::set_fine_grained`]);
//! - a GitHub App: `GET /app/installations` and `POST /app/installations/{id}/access_tokens`
//!   with an RS256 App JWT
//!   (checked against the App's public key: signature, `iss`, `iat`, `exp`, the 10-minute
//!   cap) mints an installation token (`ghs_…`, `expires_at`) that acts with the
//!   installation's current repositories and permissions until it expires
//!   ([`FakeGitHub::set_app`], [`FakeGitHub::add_installation`]); the App's own look-ups
//!   `GET /app/installations/{id}` (`suspended_at`, 404 once deleted) and
//!   `GET /repos/{o}/{r}/installation` ([`FakeGitHub::suspend_installation`],
//!   [`FakeGitHub::delete_installation`]);
//! - GitHub Enterprise Server ([`FakeGitHub::start_ghes`]): the same API under `/api/v3`,
//!   `Link` and `Location` URLs under that prefix, issues' `html_url` on the server's web host.
//!
//! - what two-way sync meets on a bad day: answers held until the test releases them (before
//!   or after the change is made), a read dribbled out slower than any deadline, reads that
//!   return the version before the newest (a lagging replica), writes made and then answered
//!   with a 502 (a lost answer), faults for reads or writes only, `state_reason` ignored on an
//!   issue that is closed already (as GitHub does), and `GET /user`, `GET /app`,
//!   `creator=`/`sort=created` for finding what a lost `POST` made.
//!
//! Every request is recorded (a write with its JSON body); faults can be queued to answer the
//! next requests, and mutations can be scheduled after the n-th list request (issues changing
//! between pages).

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
    /// The API path, without a GHES server's `/api/v3` prefix (`/repos/acme/widgets/issues`).
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    /// The status it was answered with.
    pub status: u16,
    /// A write's JSON body.
    pub body: Option<Value>,
    /// When it was answered.
    pub at: std::time::Instant,
}

impl Recorded {
    /// The record of a request with `headers`, answered with `status`.
    fn of(method: &str, path: String, query: String, headers: &HeaderMap, status: u16) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        Self {
            method: method.to_string(),
            path,
            query,
            authorization: header("authorization"),
            if_none_match: header("if-none-match"),
            status,
            body: None,
            at: std::time::Instant::now(),
        }
    }

    /// A content-creating request GitHub's secondary limits count: a new issue or comment.
    pub fn is_content_create(&self) -> bool {
        self.method == "POST" && (self.path.ends_with("/issues") || self.path.ends_with("/comments"))
    }

    /// A request for an issue list.
    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.path.ends_with("/issues")
    }

    /// A request that changes something on GitHub (minting an installation token does not).
    pub fn is_write(&self) -> bool {
        self.method != "GET" && !self.is_token_mint()
    }

    /// A request for an installation token (`POST /app/installations/{id}/access_tokens`).
    pub fn is_token_mint(&self) -> bool {
        self.method == "POST"
            && self.path.starts_with("/app/installations/")
            && self.path.ends_with("/access_tokens")
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
    /// Adds the comment object, or replaces the one with its id. A new comment moves its
    /// issue's `updated_at` to its own, as GitHub does.
    UpsertComment { repo: String, comment: Value },
    /// Deletes comment `id` (later look-ups answer 404).
    DeleteComment { repo: String, id: i64 },
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
    /// Each item's version before its newest change (what a lagging replica still shows).
    previous: HashMap<i64, Value>,
    /// Issue and pull request comments, kept in list order: ascending (updated_at, id).
    comments: Vec<Value>,
    /// The ids in `comments`.
    comment_ids: HashSet<i64>,
    /// The repository's labels (`{"name", "color"}`), in creation order.
    labels: Vec<Value>,
    /// The logins it can assign (`None`: any login).
    assignable: Option<Vec<String>>,
    /// Its milestones (`{"number", "title", "state"}`).
    milestones: Vec<Value>,
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
        if let Some(old) = self.remove(number) {
            self.previous.insert(number, old);
        }
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
    /// (`None`: that write is served as usual, so a later one can fail.)
    write_faults: VecDeque<Option<Fault>>,
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
    /// The path prefix of the API (`/api/v3` on a GHES stand-in, else empty).
    prefix: String,
    /// A GHES stand-in's web origin (`https://127.0.0.1:PORT/`): issues' `html_url` are shown
    /// there instead of on `https://github.com/`.
    web_origin: Option<String>,
    /// Classic tokens → their `x-oauth-scopes`.
    scopes: HashMap<String, String>,
    /// Fine-grained tokens → their permissions (`issues` → `read`).
    fine_grained: HashMap<String, HashMap<String, String>>,
    /// The GitHub App whose JWTs mint installation tokens.
    app: Option<App>,
    /// The App's installations by id.
    installations: HashMap<i64, Installation>,
    /// Installation tokens minted so far.
    installation_tokens: HashMap<String, Minted>,
    /// How long the next installation tokens last (`None`: an hour, as on GitHub).
    installation_token_lifetime: Option<Duration>,
    /// Faults for the next reads only (writes pass).
    read_faults: VecDeque<Fault>,
    /// Requests to hold until the test releases them.
    request_holds: Vec<RequestHold>,
    /// Writes still to be made and then answered with a 502 (the answer lost).
    lost_answers: usize,
    /// (repository, number) → reads left that answer the issue's previous version.
    lagging: HashMap<(String, i64), usize>,
    /// Listings by creation leave out the newest issue (a replica that has not seen it yet).
    listing_lags: bool,
    /// The next read's answer is dribbled out: (over how long, in how many pieces).
    dribble: Option<(Duration, usize)>,
    /// Logins of personal access tokens (`GET /user`); unnamed tokens are `octocat`.
    logins: HashMap<String, String>,
}

/// A request the test holds.
struct RequestHold {
    method: &'static str,
    /// The request's path ends with it.
    path_suffix: String,
    when: HoldWhen,
    arrived: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// Where a held request waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldWhen {
    /// Before anything is done (a read or write that is slow to arrive).
    BeforeServing,
    /// After the change is made, before its answer is sent (an answer that is slow to come).
    AfterServing,
}

/// The login the App's installation tokens act as.
pub const APP_BOT_LOGIN: &str = "ghsync-test[bot]";

/// A GitHub App: its id and public key (PEM).
struct App {
    id: i64,
    public_key_pem: String,
    /// The events the App subscribes to (`GET /app`'s `events`).
    events: Vec<String>,
}

/// An installation of the App: the repositories (lower case) and permissions its tokens get.
struct Installation {
    repos: HashSet<String>,
    permissions: HashMap<String, String>,
    /// Tokens minted for it so far.
    minted: usize,
    /// Suspended by its owner: it mints no tokens (403), and says so when asked.
    suspended: bool,
}

/// An installation token: its installation and when it expires (seconds since the epoch).
struct Minted {
    installation: i64,
    expires: i64,
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
            previous: HashMap::new(),
            comments: Vec::new(),
            comment_ids: HashSet::new(),
            labels: Vec::new(),
            assignable: None,
            milestones: Vec::new(),
        })
    }

    fn apply(&mut self, m: Mutation) {
        match m {
            Mutation::UpsertComment { repo, comment } => {
                let r = self.repo_mut(&repo);
                let id = comment["id"].as_i64().expect("a comment has an id");
                let new = r.comment_ids.insert(id);
                if !new && let Some(at) = r.comments.iter().position(|c| c["id"].as_i64() == Some(id)) {
                    r.comments.remove(at);
                }
                let key = |c: &Value| {
                    (c["updated_at"].as_str().unwrap_or("").to_string(), c["id"].as_i64().unwrap_or(0))
                };
                let at = r.comments.partition_point(|c| key(c) < key(&comment));
                let number = comment["issue_url"]
                    .as_str()
                    .and_then(|u| u.rsplit('/').next())
                    .and_then(|n| n.parse::<i64>().ok());
                let updated_at = comment["updated_at"].clone();
                r.comments.insert(at, comment);
                let issue =
                    number.and_then(|n| r.items.iter().find(|i| i["number"].as_i64() == Some(n)).cloned());
                if new
                    && let Some(mut issue) = issue.filter(|i| i["updated_at"].as_str() < updated_at.as_str())
                {
                    issue["updated_at"] = updated_at;
                    issue["comments"] = json!(issue["comments"].as_i64().unwrap_or(0) + 1);
                    r.upsert(issue);
                }
            }
            Mutation::DeleteComment { repo, id } => {
                let r = self.repo_mut(&repo);
                r.comments.retain(|c| c["id"].as_i64() != Some(id));
                r.comment_ids.remove(&id);
            }
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
        Self::serve(addr, "").await
    }

    /// Starts a GitHub Enterprise Server stand-in on a free loopback port: the same API, served
    /// only under `/api/v3` (`url` is `http://127.0.0.1:PORT/api/v3`; `Link` and `Location`
    /// URLs carry the prefix), and the issues it shows have their `html_url` on the web host
    /// `https://127.0.0.1:PORT/` instead of `https://github.com/` (what [`FakeGitHub::issue`]
    /// returns stays as stored). Recorded paths leave the prefix out, as on `start`'s server.
    pub async fn start_ghes() -> Self {
        Self::serve(SocketAddr::from(([127, 0, 0, 1], 0)), GHES_PREFIX).await
    }

    /// Serves the API on `addr` under `prefix` (empty, or GHES's `/api/v3`).
    async fn serve(addr: SocketAddr, prefix: &str) -> Self {
        let state = Arc::new(Mutex::new(GhState::default()));
        let routes = Router::new()
            .route("/repos/{owner}/{repo}", get(get_repo))
            .route("/repos/{owner}/{repo}/issues", get(list_by_name).post(create_issue))
            .route("/repositories/{id}/issues", get(list_by_id))
            .route("/repos/{owner}/{repo}/issues/{number}", get(issue_by_name).patch(update_issue))
            .route("/repos/{owner}/{repo}/issues/comments", get(list_comments_by_name))
            .route("/repositories/{id}/issues/comments", get(list_comments_by_id))
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}",
                get(comment_by_name).patch(update_comment).delete(delete_comment_request),
            )
            .route("/repos/{owner}/{repo}/issues/{number}/comments", get(issue_comments).post(create_comment))
            .route("/repos/{owner}/{repo}/labels", get(list_repo_labels).post(create_repo_label))
            .route("/repos/{owner}/{repo}/assignees", get(list_repo_assignees))
            .route("/repos/{owner}/{repo}/milestones", get(list_repo_milestones))
            .route("/repos/{owner}/{repo}/issues/{number}/labels", axum::routing::post(add_issue_labels))
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
                axum::routing::delete(remove_issue_label),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/assignees",
                axum::routing::post(add_issue_assignees).delete(remove_issue_assignees),
            )
            .route("/repos/{owner}/{repo}/hooks", get(list_hooks).post(create_hook))
            .route("/repos/{owner}/{repo}/hooks/{id}", axum::routing::patch(update_hook).delete(delete_hook))
            .route("/repositories/{id}/issues/{number}", get(issue_by_id))
            .route("/_fake/touch", axum::routing::post(touch))
            .route("/_fake/fields", axum::routing::post(set_fields))
            .route("/_fake/latency", axum::routing::post(latency))
            .route("/_fake/comment", axum::routing::post(add_comment))
            .route("/_fake/read_only", axum::routing::post(read_only))
            .route("/app/installations/{id}/access_tokens", axum::routing::post(mint_installation_token))
            .route("/app/installations", get(list_installations))
            .route("/app/installations/{id}", get(get_installation))
            .route("/repos/{owner}/{repo}/installation", get(repo_installation))
            .route("/app", get(get_app))
            .route("/user", get(get_user));
        let app = if prefix.is_empty() { routes } else { Router::new().nest(prefix, routes) };
        let app = app.fallback(unknown_route).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let url = format!("http://{local}{prefix}");
        {
            let mut s = state.lock().unwrap();
            s.base = url.clone();
            s.prefix = prefix.to_string();
            if !prefix.is_empty() {
                s.web_origin = Some(format!("https://{local}/"));
            }
        }
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

    /// Makes `token` a classic personal access token with `scopes` (`"repo, admin:repo_hook"`):
    /// every answer to it carries `x-oauth-scopes: scopes`, as GitHub's do. What it may do is
    /// unchanged (repositories through [`FakeGitHub::add_repo`]). Undoes
    /// [`FakeGitHub::set_fine_grained`] for it.
    pub fn set_classic_scopes(&self, token: &str, scopes: &str) {
        let mut s = self.state.lock().unwrap();
        s.fine_grained.remove(token);
        s.scopes.insert(token.to_string(), scopes.to_string());
    }

    /// Makes `token` a fine-grained personal access token with `permissions`
    /// (`&[("issues", "read"), ("metadata", "read")]`): every answer to it carries
    /// `x-accepted-github-permissions` (what the endpoint needs), and a request the permissions
    /// do not cover (`write` covers `read`; a missing one covers nothing) gets GitHub's 403. It
    /// still sees only the repositories given through [`FakeGitHub::add_repo`] (a token never
    /// added is unknown: 401). Undoes [`FakeGitHub::set_classic_scopes`] for it.
    pub fn set_fine_grained(&self, token: &str, permissions: &[(&str, &str)]) {
        let mut s = self.state.lock().unwrap();
        s.scopes.remove(token);
        s.fine_grained.insert(token.to_string(), permission_map(permissions));
    }

    /// Registers the GitHub App `app_id`: its JWTs, signed with the private key of
    /// `public_key_pem` (SPKI or PKCS#1 PEM), mint installation tokens.
    pub fn set_app(&self, app_id: i64, public_key_pem: &str) {
        let events = ["issues", "issue_comment", "installation", "installation_repositories"];
        let events = events.map(str::to_string).to_vec();
        let app = App { id: app_id, public_key_pem: public_key_pem.to_string(), events };
        self.state.lock().unwrap().app = Some(app);
    }

    /// Sets the events the App subscribes to (as its settings page would).
    pub fn set_app_events(&self, events: &[&str]) {
        if let Some(app) = self.state.lock().unwrap().app.as_mut() {
            app.events = events.iter().map(|e| e.to_string()).collect();
        }
    }

    /// Installs the App as installation `id` on `repos` (`owner/name`, added if new) with
    /// `permissions` (`&[("issues", "write"), ("metadata", "read")]`); replaces an installation
    /// of that id (its count of minted tokens kept). Its tokens act with its current
    /// repositories and permissions, looked up at each request.
    pub fn add_installation(&self, id: i64, repos: &[&str], permissions: &[(&str, &str)]) {
        let mut s = self.state.lock().unwrap();
        for repo in repos {
            s.repo_mut(repo);
        }
        let minted = s.installations.get(&id).map_or(0, |i| i.minted);
        let repos = repos.iter().map(|r| r.to_ascii_lowercase()).collect();
        let installation =
            Installation { repos, permissions: permission_map(permissions), minted, suspended: false };
        s.installations.insert(id, installation);
    }

    /// Suspends installation `id` (or ends its suspension): GitHub then says `suspended_at`
    /// of it and mints it no tokens.
    pub fn suspend_installation(&self, id: i64, suspended: bool) {
        let mut s = self.state.lock().unwrap();
        s.installations.get_mut(&id).unwrap_or_else(|| panic!("no installation {id}")).suspended = suspended;
    }

    /// Deletes installation `id`: GitHub then answers 404 about it.
    pub fn delete_installation(&self, id: i64) {
        self.state.lock().unwrap().installations.remove(&id);
    }

    /// Takes `repo` out of installation `id`: its tokens get 404 there from the next request.
    pub fn remove_installation_repo(&self, id: i64, repo: &str) {
        let mut s = self.state.lock().unwrap();
        let installation = s.installations.get_mut(&id).unwrap_or_else(|| panic!("no installation {id}"));
        installation.repos.remove(&repo.to_ascii_lowercase());
    }

    /// Adds `repo` (`owner/name`, added if new) to installation `id`.
    pub fn add_installation_repo(&self, id: i64, repo: &str) {
        let mut s = self.state.lock().unwrap();
        s.repo_mut(repo);
        let installation = s.installations.get_mut(&id).unwrap_or_else(|| panic!("no installation {id}"));
        installation.repos.insert(repo.to_ascii_lowercase());
    }

    /// How long the installation tokens minted from now on last (an hour unless set).
    pub fn set_installation_token_lifetime(&self, lifetime: Duration) {
        self.state.lock().unwrap().installation_token_lifetime = Some(lifetime);
    }

    /// Revokes every token minted so far for `installation` (GitHub answers 401 to them).
    pub fn revoke_installation_tokens(&self, installation: i64) {
        self.state.lock().unwrap().installation_tokens.retain(|_, m| m.installation != installation);
    }

    /// How many tokens were minted for installation `installation`.
    pub fn tokens_minted(&self, installation: i64) -> usize {
        self.state.lock().unwrap().installations.get(&installation).map_or(0, |i| i.minted)
    }

    /// Adds a repository `owner/name` that `token` can read.
    /// Labels the repository has (each coloured `ededed`).
    pub fn add_repo_labels(&self, repo: &str, names: &[&str]) {
        let mut s = self.state.lock().unwrap();
        let r = s.repo_mut(repo);
        for name in names {
            r.labels.push(json!({"name": name, "color": "ededed"}));
        }
    }

    /// A milestone of the repository.
    pub fn add_repo_milestone(&self, repo: &str, number: i64, title: &str) {
        let mut s = self.state.lock().unwrap();
        s.repo_mut(repo).milestones.push(json!({"number": number, "title": title, "state": "open"}));
    }

    /// The repository's labels' names.
    pub fn repo_labels(&self, repo: &str) -> Vec<String> {
        let mut s = self.state.lock().unwrap();
        s.repo_mut(repo).labels.iter().filter_map(|l| l["name"].as_str().map(str::to_string)).collect()
    }

    /// The logins the repository can assign (others are dropped from assignee writes
    /// without an error, as on GitHub).
    pub fn set_assignable(&self, repo: &str, logins: &[&str]) {
        let mut s = self.state.lock().unwrap();
        s.repo_mut(repo).assignable = Some(logins.iter().map(|l| l.to_string()).collect());
    }

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

    /// Lets `token` write again (undoes [`FakeGitHub::set_read_only`]).
    pub fn set_writable(&self, token: &str) {
        self.state.lock().unwrap().read_only.remove(token);
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

    /// Adds or replaces a comment object (see [`Mutation::UpsertComment`]).
    pub fn upsert_comment(&self, repo: &str, comment: Value) {
        self.mutate(Mutation::UpsertComment { repo: repo.to_string(), comment });
    }

    /// Adds many new comments at once, in list order, leaving their issues as they are (as if
    /// each issue's own last change came after its comments): how benchmarks seed a large
    /// conversation in linear time.
    pub fn seed_comments(&self, repo: &str, comments: Vec<Value>) {
        let mut s = self.state.lock().unwrap();
        let r = s.repo_mut(repo);
        for c in comments {
            r.comment_ids.insert(c["id"].as_i64().expect("a comment has an id"));
            r.comments.push(c);
        }
        let key =
            |c: &Value| (c["updated_at"].as_str().unwrap_or("").to_string(), c["id"].as_i64().unwrap_or(0));
        r.comments.sort_by_cached_key(key);
    }

    /// Deletes comment `id` of `repo`.
    pub fn delete_comment(&self, repo: &str, id: i64) {
        self.mutate(Mutation::DeleteComment { repo: repo.to_string(), id });
    }

    /// The comments of `repo` (pull requests' too), in list order.
    pub fn comments(&self, repo: &str) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.repos.get(&repo.to_ascii_lowercase()).map(|r| r.comments.clone()).unwrap_or_default()
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

    /// Answers the next read (`GET`) with `fault` instead; writes pass.
    pub fn push_read_fault(&self, fault: Fault) {
        self.state.lock().unwrap().read_faults.push_back(fault);
    }

    /// Holds the next `method` request whose path ends with `path_suffix` (`"/issues/1"`)
    /// until the test releases it, before it is served or after (the change made, its answer
    /// not sent yet).
    pub fn hold_request(&self, method: &'static str, path_suffix: &str, when: HoldWhen) -> Held {
        let (arrived_tx, arrived) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        let hold = RequestHold {
            method,
            path_suffix: path_suffix.to_string(),
            when,
            arrived: arrived_tx,
            release: release_rx,
        };
        self.state.lock().unwrap().request_holds.push(hold);
        Held { arrived: Some(arrived), release }
    }

    /// Drops the holds no request has met yet.
    pub fn clear_holds(&self) {
        self.state.lock().unwrap().request_holds.clear();
    }

    /// Makes the next `n` writes, and answers each with a 502 instead of the issue: GitHub
    /// took the change, its answer was lost.
    pub fn lose_write_answers(&self, n: usize) {
        self.state.lock().unwrap().lost_answers += n;
    }

    /// Answers the next `n` reads of issue `number` of `repo` with its version before the
    /// newest change, as a lagging replica does.
    pub fn lag_reads(&self, repo: &str, number: i64, n: usize) {
        self.state.lock().unwrap().lagging.insert((repo.to_ascii_lowercase(), number), n);
    }

    /// While `on`, listings by creation (`sort=created`) leave out each repository's newest
    /// issue, as a replica that has not seen it yet answers.
    pub fn lag_listings(&self, on: bool) {
        self.state.lock().unwrap().listing_lags = on;
    }

    /// Dribbles the next read's answer out over `total`, in `pieces` (each piece well inside a
    /// client's read timeout, the whole longer than a push may wait).
    pub fn dribble_next_read(&self, total: Duration, pieces: usize) {
        self.state.lock().unwrap().dribble = Some((total, pieces.max(1)));
    }

    /// Names the account `token` acts as (`GET /user`, and the author of the issues it opens).
    pub fn set_login(&self, token: &str, login: &str) {
        self.state.lock().unwrap().logins.insert(token.to_string(), login.to_string());
    }

    /// Lets the next write through before the write faults queued after this (the second of
    /// two writes fails, say).
    pub fn pass_next_write(&self) {
        self.state.lock().unwrap().write_faults.push_back(None);
    }

    /// Answers the next write (`PATCH`, `POST`) with `fault` instead; reads pass.
    pub fn push_write_fault(&self, fault: Fault) {
        self.state.lock().unwrap().write_faults.push_back(Some(fault));
    }

    /// Drops the faults no request has taken yet (lost answers, lagging reads and dribbles
    /// included).
    pub fn clear_faults(&self) {
        let mut s = self.state.lock().unwrap();
        s.faults.clear();
        s.write_faults.clear();
        s.read_faults.clear();
        s.lost_answers = 0;
        s.lagging.clear();
        s.dribble = None;
    }

    /// Answers the next request with `fault` instead.
    pub fn push_fault(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The most content-creating requests (new issues and comments) answered within any
    /// `window`: what GitHub's secondary limits count.
    pub fn busiest_creates(&self, window: Duration) -> usize {
        let times: Vec<std::time::Instant> =
            self.requests().iter().filter(|r| r.is_content_create()).map(|r| r.at).collect();
        let mut busiest = 0;
        for (i, start) in times.iter().enumerate() {
            busiest =
                busiest.max(times[i..].iter().take_while(|t| t.duration_since(*start) < window).count());
        }
        busiest
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

/// The path prefix of GitHub Enterprise Server's REST API.
const GHES_PREFIX: &str = "/api/v3";

/// The private key (PKCS#1 PEM) of the test GitHub App. For tests only: it is public.
pub fn app_private_key() -> &'static str {
    include_str!("../fixtures/github-app.pem")
}

/// The public key (SPKI PEM) of the test GitHub App, for [`FakeGitHub::set_app`]. For tests
/// only.
pub fn app_public_key() -> &'static str {
    include_str!("../fixtures/github-app.pub.pem")
}

/// Another private key (PKCS#1 PEM), not the App's: JWTs it signs are forged. For tests only.
pub fn forged_app_key() -> &'static str {
    include_str!("../fixtures/forged-app.pem")
}

/// Permissions as a test lists them (`("issues", "read")`) → a map.
fn permission_map(permissions: &[(&str, &str)]) -> HashMap<String, String> {
    permissions.iter().map(|(name, level)| (name.to_string(), level.to_string())).collect()
}

/// The permission a fine-grained token needs for `method` on `path` (without prefix), as
/// GitHub names it in `x-accepted-github-permissions`: (`issues`, `read`).
fn needs(method: &str, path: &str) -> (&'static str, &'static str) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let rest = match segments.first() {
        Some(&"repos") => segments.get(3..),
        Some(&"repositories") => segments.get(2..),
        _ => None,
    }
    .unwrap_or_default();
    let level = if method == "GET" { "read" } else { "write" };
    match rest.first() {
        Some(&"issues") => ("issues", level),
        Some(&"hooks") => ("repository_hooks", level),
        Some(&"labels") | Some(&"assignees") => ("issues", level),
        _ => ("metadata", "read"),
    }
}

/// Whether `permissions` cover `level` of `name` (`write` and `admin` cover `read`).
fn grants(permissions: &HashMap<String, String>, name: &str, level: &str) -> bool {
    let rank = |level: &str| match level {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    };
    permissions.get(name).is_some_and(|has| rank(has) >= rank(level).max(1))
}

/// Checks a GitHub App JWT as GitHub does: RS256 signed by the key of `public_key_pem`,
/// `iss` the App's id (a number or a numeric string), `exp` in the future, `iat` at most 60 s
/// ahead, and at most 10 minutes between them. `Err` tells why not.
fn verify_app_jwt(jwt: &str, app_id: i64, public_key_pem: &str) -> Result<(), String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).map_err(|e| format!("public key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation).map_err(|e| e.to_string())?.claims;
    let iss = match &claims["iss"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    if iss != Some(app_id) {
        return Err(format!("iss {} is not the App {app_id}", claims["iss"]));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err("iat or exp is not a whole number".into());
    };
    let now = chrono::Utc::now().timestamp();
    if exp <= now {
        return Err("expired".into());
    }
    if iat > now + 60 {
        return Err("iat is in the future".into());
    }
    if exp - iat > 600 {
        return Err("exp is more than 10 minutes after iat".into());
    }
    Ok(())
}

/// An issue as this server shows it: on a GHES stand-in (`web_origin`), its `html_url` moved
/// from `https://github.com/` to the web host.
fn on_web_host(mut item: Value, web_origin: Option<&str>) -> Value {
    if let Some(origin) = web_origin
        && let Some(rest) = item["html_url"].as_str().and_then(|u| u.strip_prefix("https://github.com/"))
    {
        item["html_url"] = json!(format!("{origin}{rest}"));
    }
    item
}

/// A queued fault's answer, after its delay.
async fn fault_response(f: Fault) -> Response {
    tokio::time::sleep(f.delay).await;
    let mut r = (StatusCode::from_u16(f.status).unwrap(), f.body).into_response();
    r.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().unwrap());
    for (k, v) in f.headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

/// `response` with its body sent in `pieces` spread over `total`.
async fn dribbled(response: Response, total: Duration, pieces: usize) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let size = bytes.len().div_ceil(pieces).max(1);
    let chunks: Vec<bytes::Bytes> = bytes.chunks(size).map(bytes::Bytes::copy_from_slice).collect();
    let pause = total / (chunks.len().max(1) as u32);
    use futures::StreamExt;
    let stream = futures::stream::iter(chunks).then(move |chunk| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::io::Error>(chunk)
    });
    let mut parts = parts;
    parts.headers.remove("content-length");
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

/// GitHub's error body for `status`.
fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

/// Adds the rate-limit headers of a fresh budget (and the API version GitHub picked).
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
/// reconciler and hide the gap), recorded like any other request (a GHES server's prefix left
/// out of the recorded path: the outer router's fallback sees the whole path).
async fn unknown_route(State(state): Shared, method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let message = format!("the GitHub stand-in has no route for {method} {}", uri.path());
    eprintln!("{message}");
    let mut s = state.lock().unwrap();
    let path = match uri.path().strip_prefix(s.prefix.as_str()) {
        Some(rest) if !s.prefix.is_empty() && rest.starts_with('/') => rest.to_string(),
        _ => uri.path().to_string(),
    };
    s.requests.push(Recorded {
        method: method.to_string(),
        path,
        query: uri.query().unwrap_or_default().to_string(),
        authorization: None,
        if_none_match: None,
        status: 500,
        body: None,
        at: std::time::Instant::now(),
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
    answer_write(state, method, headers, path, query, None, repo, serve).await
}

/// The hold a test set for this request, if any (taken: it holds once).
fn take_hold(state: &Mutex<GhState>, method: &str, path: &str) -> Option<RequestHold> {
    let mut s = state.lock().unwrap();
    let at = s.request_holds.iter().position(|h| h.method == method && path.ends_with(&h.path_suffix))?;
    Some(s.request_holds.remove(at))
}

/// Tells the test the held request arrived, and waits for its release.
async fn wait_for_release(hold: RequestHold) {
    let _ = hold.arrived.send(());
    let _ = hold.release.await;
}

/// [`answer`] for a write with its JSON `body` (recorded with the request).
#[allow(clippy::too_many_arguments)]
async fn answer_write(
    state: &Mutex<GhState>,
    method: &'static str,
    headers: &HeaderMap,
    path: String,
    query: String,
    body: Option<&Value>,
    repo: impl FnOnce(&GhState) -> Option<String>,
    serve: impl FnOnce(&mut GhState, &str) -> Response,
) -> Response {
    let mut request_hold = take_hold(state, method, &path);
    if request_hold.as_ref().is_some_and(|h| h.when == HoldWhen::BeforeServing)
        && let Some(hold) = request_hold.take()
    {
        wait_for_release(hold).await;
    }
    let latency = state.lock().unwrap().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
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
        let method_fault =
            if method == "GET" { s.read_faults.pop_front() } else { s.write_faults.pop_front().flatten() };
        if let Some(f) = method_fault.or_else(|| s.faults.pop_front()) {
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
            let access = token.and_then(|t| access(&s, t, repo_key.as_deref(), method, &path));
            let response = match (&access, repo_key) {
                (None, _) => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
                _ if budget.is_some_and(|(before, _)| before == 0) => {
                    github_error(StatusCode::FORBIDDEN, "API rate limit exceeded")
                }
                (Some(_), Some(_)) if method != "GET" && token.is_some_and(|t| s.read_only.contains(t)) => {
                    github_error(StatusCode::FORBIDDEN, "Resource not accessible by personal access token")
                }
                (Some(a), Some(key)) if a.sees => match &a.grant {
                    Some((_, false)) if a.installation => {
                        github_error(StatusCode::FORBIDDEN, "Resource not accessible by integration")
                    }
                    Some((_, false)) => github_error(
                        StatusCode::FORBIDDEN,
                        "Resource not accessible by personal access token",
                    ),
                    _ => serve(&mut s, &key),
                },
                _ => github_error(StatusCode::NOT_FOUND, "Not Found"),
            };
            let mut response = with_rate_headers(response);
            if let Some(a) = &access {
                let h = response.headers_mut();
                if let Some((accepted, _)) = &a.grant {
                    h.insert("x-accepted-github-permissions", accepted.parse().unwrap());
                } else if let Some(scopes) = token.and_then(|t| s.scopes.get(t)) {
                    h.insert("x-oauth-scopes", scopes.parse().unwrap());
                }
            }
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
        Answer::Fault(f) => fault_response(f).await,
    };
    let response = {
        let mut s = state.lock().unwrap();
        if method != "GET" && s.lost_answers > 0 && response.status().is_success() {
            // The change is made; its answer never arrives.
            s.lost_answers -= 1;
            github_error(StatusCode::BAD_GATEWAY, "Server Error")
        } else {
            response
        }
    };
    if let Some(hold) = request_hold {
        wait_for_release(hold).await;
    }
    let dribble = if method == "GET" { state.lock().unwrap().dribble.take() } else { None };
    let response = match dribble {
        Some((total, pieces)) => dribbled(response, total, pieces).await,
        None => response,
    };
    let mut s = state.lock().unwrap();
    let mut recorded = Recorded::of(method, path, query, headers, response.status().as_u16());
    recorded.body = body.cloned();
    s.requests.push(recorded);
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

/// What a known token may do with the repository a request names.
struct Access {
    /// It can see the repository.
    sees: bool,
    /// For a fine-grained or installation token: what the endpoint needs (`issues=read`) and
    /// whether the token has it.
    grant: Option<(String, bool)>,
    /// An installation token.
    installation: bool,
}

/// The access of `token` to `repo` (lower case) for `method` on `path`; `None` for a token
/// GitHub does not know (or an expired installation token).
fn access(s: &GhState, token: &str, repo: Option<&str>, method: &str, path: &str) -> Option<Access> {
    let (readable, permissions, installation) = match s.installation_tokens.get(token) {
        Some(minted) => {
            if chrono::Utc::now().timestamp() >= minted.expires {
                return None;
            }
            let installation = s.installations.get(&minted.installation)?;
            (&installation.repos, Some(&installation.permissions), true)
        }
        None => (s.tokens.get(token)?, s.fine_grained.get(token), false),
    };
    let grant = permissions.map(|p| {
        let (name, level) = needs(method, path);
        (format!("{name}={level}"), grants(p, name, level))
    });
    Some(Access { sees: repo.is_some_and(|r| readable.contains(r)), grant, installation })
}

/// `POST /app/installations/{id}/access_tokens`: mints an installation token for a valid App
/// JWT (`401` for any fault in it, `404` for an unknown installation). Recorded, and answered by
/// a queued fault, like other requests (write faults pass it: it changes nothing).
async fn mint_installation_token(State(state): Shared, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let latency = state.lock().unwrap().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = state.lock().unwrap().faults.pop_front();
    let response = match fault {
        Some(f) => fault_response(f).await,
        None => with_rate_headers(mint(&mut state.lock().unwrap(), id, bearer(&headers))),
    };
    recorded(&state, "POST", format!("/app/installations/{id}/access_tokens"), &headers, response)
}

/// `GET /app/installations`: the App's installations, for a valid App JWT (`401` otherwise),
/// each with the owner of its first repository as its account. Recorded.
async fn list_installations(State(state): Shared, headers: HeaderMap) -> Response {
    let response = {
        let s = state.lock().unwrap();
        match app_jwt_refused(&s, bearer(&headers)) {
            Some(refused) => refused,
            None => {
                let mut ids: Vec<&i64> = s.installations.keys().collect();
                ids.sort();
                let listed: Vec<Value> = ids
                    .into_iter()
                    .map(|id| {
                        let mut repos: Vec<&String> = s.installations[id].repos.iter().collect();
                        repos.sort();
                        let login = repos.first().and_then(|r| r.split('/').next()).unwrap_or("acme");
                        installation_json(*id, login, &s.installations[id])
                    })
                    .collect();
                Json(listed).into_response()
            }
        }
    };
    recorded(&state, "GET", "/app/installations".into(), &headers, response)
}

/// An installation as GitHub shows it to its App.
fn installation_json(id: i64, login: &str, installation: &Installation) -> Value {
    let suspended_at = installation.suspended.then_some("2026-01-05T09:00:00Z");
    json!({"id": id, "account": {"login": login, "type": "Organization"},
        "repository_selection": "selected", "suspended_at": suspended_at})
}

/// A `GET` of the App's own look-ups: a queued fault ([`FakeGitHub::push_fault`]) if any,
/// else GitHub's 401 without a valid App JWT, else `answer`; recorded as `path`.
async fn app_look_up(
    state: &Arc<Mutex<GhState>>,
    headers: &HeaderMap,
    path: String,
    answer: impl FnOnce(&GhState) -> Response,
) -> Response {
    let fault = state.lock().unwrap().faults.pop_front();
    let response = match fault {
        Some(f) => fault_response(f).await,
        None => {
            let s = state.lock().unwrap();
            app_jwt_refused(&s, bearer(headers)).unwrap_or_else(|| answer(&s))
        }
    };
    recorded(state, "GET", path, headers, response)
}

/// `GET /app/installations/{id}`: one installation (with `suspended_at`), 404 once deleted.
async fn get_installation(State(state): Shared, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    app_look_up(&state, &headers, format!("/app/installations/{id}"), |s| match s.installations.get(&id) {
        Some(installation) => Json(installation_json(id, "acme", installation)).into_response(),
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    })
    .await
}

/// `GET /repos/{o}/{r}/installation`: the App's installation on the repository (404 when it
/// is not installed there).
async fn repo_installation(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let full = format!("{owner}/{repo}").to_ascii_lowercase();
    app_look_up(&state, &headers, format!("/repos/{owner}/{repo}/installation"), |s| {
        let mut ids: Vec<&i64> = s.installations.keys().collect();
        ids.sort();
        match ids.into_iter().find(|id| s.installations[id].repos.contains(&full)) {
            Some(id) => Json(installation_json(*id, &owner, &s.installations[id])).into_response(),
            None => github_error(StatusCode::NOT_FOUND, "Not Found"),
        }
    })
    .await
}

/// Records a request of the App's and account's own routes (no query) and passes its answer on.
fn recorded(
    state: &Arc<Mutex<GhState>>,
    method: &str,
    path: String,
    headers: &HeaderMap,
    response: Response,
) -> Response {
    let recorded = Recorded::of(method, path, String::new(), headers, response.status().as_u16());
    state.lock().unwrap().requests.push(recorded);
    response
}

/// GitHub's 401 when `jwt` is not a valid JWT of the App; `None` when it is.
fn app_jwt_refused(s: &GhState, jwt: Option<&str>) -> Option<Response> {
    let verified = match (&s.app, jwt) {
        (Some(app), Some(jwt)) => verify_app_jwt(jwt, app.id, &app.public_key_pem),
        _ => Err("no App, or no JWT".to_string()),
    };
    verified.is_err().then(|| github_error(StatusCode::UNAUTHORIZED, "A JSON web token could not be decoded"))
}

/// Mints a token for installation `id` if `jwt` is a valid JWT of the App.
fn mint(s: &mut GhState, id: i64, jwt: Option<&str>) -> Response {
    if let Some(refused) = app_jwt_refused(s, jwt) {
        return refused;
    }
    let lifetime = s.installation_token_lifetime.unwrap_or(Duration::from_secs(3600));
    let Some(installation) = s.installations.get_mut(&id) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if installation.suspended {
        return github_error(StatusCode::FORBIDDEN, "This installation has been suspended");
    }
    installation.minted += 1;
    let permissions = json!(installation.permissions);
    let lifetime = i64::try_from(lifetime.as_secs().min(100 * 365 * 86_400)).expect("a century fits");
    let expires = chrono::Utc::now().timestamp() + lifetime;
    let expires_at = chrono::DateTime::from_timestamp(expires, 0)
        .expect("a representable time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
    s.installation_tokens.insert(token.clone(), Minted { installation: id, expires });
    let body = json!({
        "token": token,
        "expires_at": expires_at,
        "permissions": permissions,
        "repository_selection": "selected",
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// A repository's state key: `owner/name` in lower case.
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
            // The token's person administers the repository unless the test denied it hooks.
            let admin = push && token.is_some_and(|t| !s.no_hooks.contains(t));
            Json(repo_json(&owner, &repo, push, admin)).into_response()
        },
    )
    .await
}

/// A listing request (`GET`, conditional with `If-None-Match`): recorded and answered by
/// `list` for the repository `repo` finds.
async fn listing(
    state: &Mutex<GhState>,
    headers: &HeaderMap,
    path: String,
    q: HashMap<String, String>,
    repo: impl FnOnce(&GhState) -> Option<String>,
    list: fn(&GhState, &str, &HashMap<String, String>, Option<&str>) -> Response,
) -> Response {
    let query = encode_query(&q);
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_string);
    answer(state, "GET", headers, path, query, repo, |s, key| list(s, key, &q, if_none_match.as_deref()))
        .await
}

async fn list_by_name(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    listing(
        &state,
        &headers,
        format!("/repos/{owner}/{repo}/issues"),
        q,
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        list,
    )
    .await
}

async fn list_by_id(
    State(state): Shared,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    listing(&state, &headers, format!("/repositories/{id}/issues"), q, |s| key_by_id(s, id), list).await
}

fn encode_query(q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<_> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join("&")
}

fn list(s: &GhState, key: &str, q: &HashMap<String, String>, if_none_match: Option<&str>) -> Response {
    let repo = &s.repos[key];
    if q.get("sort").is_some_and(|sort| sort == "created") {
        return list_by_creation(s, repo, q);
    }
    list_in_order(s, repo.id, &repo.items, "issues", q, if_none_match)
}

/// A page of `all` (kept in ascending `updated_at` order) as GitHub lists it: `since`
/// (inclusive), `direction`, `per_page`, `page`, a `Link` header under
/// `/repositories/{id}/{tail}`, a weak `ETag` and `304` for a matching `If-None-Match`.
fn list_in_order(
    s: &GhState,
    repo_id: i64,
    all: &[Value],
    tail: &str,
    q: &HashMap<String, String>,
    if_none_match: Option<&str>,
) -> Response {
    let since = q.get("since").cloned();
    let per_page = q.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let page = q.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let desc = q.get("direction").is_some_and(|d| d == "desc");
    // The items are kept in list order: `since` is a binary search, a page a slice.
    let first = since
        .as_deref()
        .map_or(0, |since| all.partition_point(|i| i["updated_at"].as_str().unwrap_or("") < since));
    let items = &all[first..];
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
    let text = match s.web_origin.as_deref() {
        None => serde_json::to_string(&body),
        Some(origin) => serde_json::to_string(
            &body.into_iter().map(|i| on_web_host(i.clone(), Some(origin))).collect::<Vec<_>>(),
        ),
    }
    .unwrap();
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let etag = format!("W/\"{:016x}\"", hasher.finish());
    let link_for = |p: usize| {
        let mut params: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k.as_str() != "page").map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort();
        params.push(("page".into(), p.to_string()));
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}/repositories/{repo_id}/{tail}?{}", s.base, query.join("&"))
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

async fn list_comments_by_name(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    listing(
        &state,
        &headers,
        format!("/repos/{owner}/{repo}/issues/comments"),
        q,
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        list_comments,
    )
    .await
}

async fn list_comments_by_id(
    State(state): Shared,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    listing(
        &state,
        &headers,
        format!("/repositories/{id}/issues/comments"),
        q,
        |s| key_by_id(s, id),
        list_comments,
    )
    .await
}

/// The repository's comments (pull requests' too) as `GET …/issues/comments` lists them:
/// sorted by `updated_at` (the only order ghsync asks for).
fn list_comments(
    s: &GhState,
    key: &str,
    q: &HashMap<String, String>,
    if_none_match: Option<&str>,
) -> Response {
    let repo = &s.repos[key];
    if q.get("sort").is_none_or(|sort| sort != "updated") {
        return github_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the test server lists comments by sort=updated only",
        );
    }
    list_in_order(s, repo.id, &repo.comments, "issues/comments", q, if_none_match)
}

async fn comment_by_name(
    State(state): Shared,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    answer(
        &state,
        "GET",
        &headers,
        format!("/repos/{owner}/{repo}/issues/comments/{id}"),
        String::new(),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| match s.repos[key].comments.iter().find(|c| c["id"].as_i64() == Some(id)) {
            Some(c) => Json(on_web_host(c.clone(), s.web_origin.as_deref())).into_response(),
            None => github_error(StatusCode::NOT_FOUND, "Not Found"),
        },
    )
    .await
}

/// The next comment's id and time in `repo`: after every comment and issue change there.
fn next_comment(repo: &RepoData) -> (i64, String) {
    // GitHub never reuses a comment's id, even after a deletion.
    static NEXT_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(7_000_001);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let issue_time = write_time(repo);
    let newest = repo.comments.last().and_then(|c| c["updated_at"].as_str()).unwrap_or("");
    let after_newest = match chrono::DateTime::parse_from_rfc3339(newest) {
        Ok(t) => (t + chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => issue_time.clone(),
    };
    // GitHub's own clock: now, or later than anything before (fixtures may be in the future).
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (id, after_newest.max(issue_time).max(now))
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments?since=`: one issue's comments, oldest
/// first (by creation), changed at or after `since`, one page.
async fn issue_comments(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    let query = encode_query(&q);
    answer(
        &state,
        "GET",
        &headers,
        format!("/repos/{owner}/{repo}/issues/{number}/comments"),
        query,
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let repo = &s.repos[key];
            if !repo.numbers.contains(&number) {
                return github_error(StatusCode::NOT_FOUND, "Not Found");
            }
            let since = q.get("since").map(String::as_str).unwrap_or("");
            let suffix = format!("/issues/{number}");
            let mut found: Vec<Value> = repo
                .comments
                .iter()
                .filter(|c| c["issue_url"].as_str().is_some_and(|u| u.ends_with(&suffix)))
                .filter(|c| c["updated_at"].as_str().unwrap_or("") >= since)
                .map(|c| on_web_host(c.clone(), s.web_origin.as_deref()))
                .collect();
            found.sort_by_key(|c| (c["created_at"].as_str().unwrap_or("").to_string(), c["id"].as_i64()));
            found.truncate(100);
            Json(Value::Array(found)).into_response()
        },
    )
    .await
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments`: a new comment by the token's login.
async fn create_comment(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    let full_name = format!("{owner}/{repo}");
    let token = bearer(&headers).map(str::to_string);
    answer_write(
        &state,
        "POST",
        &headers,
        format!("/repos/{owner}/{repo}/issues/{number}/comments"),
        String::new(),
        Some(&body),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let Some(text) = body.get("body").and_then(Value::as_str).filter(|b| !b.trim().is_empty()) else {
                return validation_failed("body");
            };
            if text.chars().count() > 65_536 {
                return validation_failed("body");
            }
            let login = login_of(s, token.as_deref());
            let repo = &s.repos[key];
            if !repo.numbers.contains(&number) {
                return github_error(StatusCode::NOT_FOUND, "Not Found");
            }
            let (id, at) = next_comment(repo);
            let comment = crate::fixtures::comment(&full_name, number, id, text, &login, &at, &at);
            s.apply(Mutation::UpsertComment { repo: full_name.clone(), comment: comment.clone() });
            (StatusCode::CREATED, Json(on_web_host(comment, s.web_origin.as_deref()))).into_response()
        },
    )
    .await
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{id}`: a new body.
async fn update_comment(
    State(state): Shared,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    let full_name = format!("{owner}/{repo}");
    answer_write(
        &state,
        "PATCH",
        &headers,
        format!("/repos/{owner}/{repo}/issues/comments/{id}"),
        String::new(),
        Some(&body),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let Some(text) = body.get("body").and_then(Value::as_str).filter(|b| !b.trim().is_empty()) else {
                return validation_failed("body");
            };
            let repo = &s.repos[key];
            let Some(mut comment) = repo.comments.iter().find(|c| c["id"].as_i64() == Some(id)).cloned()
            else {
                return github_error(StatusCode::NOT_FOUND, "Not Found");
            };
            if comment["body"].as_str() != Some(text) {
                comment["body"] = json!(text);
                comment["updated_at"] = json!(next_comment(repo).1);
                s.apply(Mutation::UpsertComment { repo: full_name.clone(), comment: comment.clone() });
            }
            Json(on_web_host(comment, s.web_origin.as_deref())).into_response()
        },
    )
    .await
}

/// `DELETE /repos/{owner}/{repo}/issues/comments/{id}`: 204, or 404 when there is none.
async fn delete_comment_request(
    State(state): Shared,
    Path((owner, repo, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
) -> Response {
    let key = key_of(&owner, &repo);
    let full_name = format!("{owner}/{repo}");
    answer_write(
        &state,
        "DELETE",
        &headers,
        format!("/repos/{owner}/{repo}/issues/comments/{id}"),
        String::new(),
        None,
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            if !s.repos[key].comment_ids.contains(&id) {
                return github_error(StatusCode::NOT_FOUND, "Not Found");
            }
            s.apply(Mutation::DeleteComment { repo: full_name.clone(), id });
            StatusCode::NO_CONTENT.into_response()
        },
    )
    .await
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
        |s, key| read_issue(s, key, number),
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
        |s, key| read_issue(s, key, number),
    )
    .await
}

/// The issues newest-created first (numbers grow with creation), `creator=` filtering by the
/// author's login: the one page ghsync reads when it looks for what a lost `POST` made.
fn list_by_creation(s: &GhState, repo: &RepoData, q: &HashMap<String, String>) -> Response {
    let per_page = q.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let creator = q.get("creator");
    let mut items: Vec<Value> = repo
        .items
        .iter()
        .filter(|i| creator.is_none_or(|c| i["user"]["login"].as_str() == Some(c.as_str())))
        .map(|i| on_web_host(i.clone(), s.web_origin.as_deref()))
        .collect();
    items.sort_by_key(|i| i["number"].as_i64().unwrap_or(0));
    let newest = repo.items.iter().filter_map(|i| i["number"].as_i64()).max();
    if s.listing_lags {
        items.retain(|i| i["number"].as_i64() != newest);
    }
    if q.get("direction").is_none_or(|d| d == "desc") {
        items.reverse();
    }
    items.truncate(per_page);
    Json(items).into_response()
}

/// The login `token` acts as: an installation token's App bot, a named personal token's
/// login, else `octocat`.
fn login_of(s: &GhState, token: Option<&str>) -> String {
    match token {
        Some(t) if s.installation_tokens.contains_key(t) => APP_BOT_LOGIN.to_string(),
        Some(t) => s.logins.get(t).cloned().unwrap_or_else(|| "octocat".to_string()),
        None => "octocat".to_string(),
    }
}

/// `GET /user`: the account a personal access token acts as (`401` for an unknown one; an
/// installation token gets GitHub's `403`). Recorded.
async fn get_user(State(state): Shared, headers: HeaderMap) -> Response {
    let response = {
        let s = state.lock().unwrap();
        match bearer(&headers) {
            Some(t) if s.installation_tokens.contains_key(t) => {
                github_error(StatusCode::FORBIDDEN, "Resource not accessible by integration")
            }
            Some(t) if s.tokens.contains_key(t) => {
                with_rate_headers(Json(crate::fixtures::user(&login_of(&s, Some(t)), 4242)).into_response())
            }
            _ => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
        }
    };
    recorded(&state, "GET", "/user".into(), &headers, response)
}

/// `GET /app`: the App a valid App JWT authenticates (its slug names its bot). Recorded.
async fn get_app(State(state): Shared, headers: HeaderMap) -> Response {
    let response = {
        let s = state.lock().unwrap();
        match app_jwt_refused(&s, bearer(&headers)) {
            Some(refused) => refused,
            None => {
                let id = s.app.as_ref().map_or(0, |a| a.id);
                let events = s.app.as_ref().map(|a| a.events.clone()).unwrap_or_default();
                let slug = APP_BOT_LOGIN.trim_end_matches("[bot]");
                Json(json!({"id": id, "slug": slug, "name": "ghsync test", "events": events})).into_response()
            }
        }
    };
    recorded(&state, "GET", "/app".into(), &headers, response)
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

/// `POST /_fake/fields {"repo", "number", "updated_at", "labels"?: [name], "assignees"?:
/// [login], "milestone"?: title | null}`: sets those fields of an issue as a person on GitHub
/// would (each label coloured `0e8a16`, the milestone numbered 1). Not part of GitHub's API.
async fn set_fields(State(state): Shared, Json(body): Json<Value>) -> StatusCode {
    let (Some(repo), Some(number), Some(updated_at)) =
        (body["repo"].as_str(), body["number"].as_i64(), body["updated_at"].as_str())
    else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    let mut s = state.lock().unwrap();
    let Some(mut item) = s
        .repos
        .get(&repo.to_ascii_lowercase())
        .and_then(|r| r.items.iter().find(|i| i["number"].as_i64() == Some(number)).cloned())
    else {
        return StatusCode::NOT_FOUND;
    };
    if let Some(labels) = body["labels"].as_array() {
        item["labels"] = labels
            .iter()
            .filter_map(Value::as_str)
            .map(|name| json!({"name": name, "color": "0e8a16", "default": false}))
            .collect();
    }
    if let Some(logins) = body["assignees"].as_array() {
        let users: Vec<Value> =
            logins.iter().filter_map(Value::as_str).map(|l| json!({"login": l})).collect();
        item["assignee"] = users.first().cloned().unwrap_or(Value::Null);
        item["assignees"] = Value::Array(users);
    }
    match &body["milestone"] {
        Value::String(title) => item["milestone"] = json!({"number": 1, "title": title, "state": "open"}),
        Value::Null if body.get("milestone").is_some() => item["milestone"] = Value::Null,
        _ => {}
    }
    item["updated_at"] = json!(updated_at);
    s.apply(Mutation::Upsert { repo: repo.to_string(), issue: item });
    StatusCode::NO_CONTENT
}

/// `POST /_fake/comment {"repo", "number", "id", "body", "login", "at"}`: a comment on issue
/// `number`, written by `login` at `at` (what [`FakeGitHub::upsert_comment`] does, for tests
/// that drive the binary over HTTP).
async fn add_comment(State(state): Shared, Json(body): Json<Value>) -> StatusCode {
    let (Some(repo), Some(number), Some(id), Some(text), Some(at)) = (
        body["repo"].as_str(),
        body["number"].as_i64(),
        body["id"].as_i64(),
        body["body"].as_str(),
        body["at"].as_str(),
    ) else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    let login = body["login"].as_str().unwrap_or("octocat");
    let comment = crate::fixtures::comment(repo, number, id, text, login, at, at);
    state.lock().unwrap().apply(Mutation::UpsertComment { repo: repo.to_string(), comment });
    StatusCode::NO_CONTENT
}

/// `POST /_fake/latency {"ms": n}`: every later request is answered after `n` ms (what
/// [`FakeGitHub::set_latency`] does, for tests that drive the binary over HTTP).
async fn latency(State(state): Shared, Json(body): Json<Value>) -> StatusCode {
    state.lock().unwrap().latency = Duration::from_millis(body["ms"].as_u64().unwrap_or(0));
    StatusCode::NO_CONTENT
}

/// `POST /_fake/read_only {"token", "read_only": bool}`: the token may no longer write (GitHub
/// answers its writes 403), or may again (what [`FakeGitHub::set_read_only`] and
/// [`FakeGitHub::set_writable`] do, for tests that drive the binary over HTTP).
async fn read_only(State(state): Shared, Json(body): Json<Value>) -> StatusCode {
    let token = body["token"].as_str().unwrap_or_default().to_string();
    let mut s = state.lock().unwrap();
    if body["read_only"].as_bool().unwrap_or(true) {
        s.read_only.insert(token);
    } else {
        s.read_only.remove(&token);
    }
    StatusCode::NO_CONTENT
}

fn one_issue(s: &GhState, key: &str, number: i64) -> Response {
    let repo = &s.repos[key];
    if let Some(item) = repo.items.iter().find(|i| i["number"].as_i64() == Some(number)) {
        return Json(on_web_host(item.clone(), s.web_origin.as_deref())).into_response();
    }
    gone_issue(s, repo, number)
}

/// A read of one issue: as [`one_issue`], or its previous version while the test makes reads
/// of it lag.
fn read_issue(s: &mut GhState, key: &str, number: i64) -> Response {
    let lag = s.lagging.get_mut(&(key.to_string(), number)).filter(|n| **n > 0);
    if let Some(left) = lag {
        *left -= 1;
        if let Some(old) = s.repos[key].previous.get(&number) {
            return Json(on_web_host(old.clone(), s.web_origin.as_deref())).into_response();
        }
    }
    one_issue(s, key, number)
}

/// The answer for issue `number` that is not in the repository: deleted, moved, or unknown.
fn gone_issue(s: &GhState, repo: &RepoData, number: i64) -> Response {
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
pub fn repo_json(owner: &str, repo: &str, push: bool, admin: bool) -> Value {
    let mut r = crate::fixtures::repository(&format!("{owner}/{repo}"));
    r["permissions"] =
        json!({ "admin": admin, "maintain": admin, "push": push, "triage": push, "pull": true });
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

/// `PATCH /repos/{owner}/{repo}/issues/{number}`: changes what the body names. As on GitHub,
/// `state_reason` changes only with `state`: on an issue that is closed already, a close with
/// another reason changes nothing; a write that changes nothing leaves `updated_at` alone.
async fn update_issue(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    let path = format!("/repos/{owner}/{repo}/issues/{number}");
    answer_write(
        &state,
        "PATCH",
        &headers,
        path,
        String::new(),
        Some(&body),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let repo = s.repos.get_mut(key).expect("the repository was found");
            let Some(before) = repo.items.iter().find(|i| i["number"].as_i64() == Some(number)).cloned()
            else {
                return one_issue(s, key, number);
            };
            let mut item = before.clone();
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
            match body.get("milestone") {
                None => {}
                Some(Value::Null) => item["milestone"] = Value::Null,
                Some(number) => match repo.milestones.iter().find(|m| m["number"] == *number) {
                    Some(milestone) => item["milestone"] = milestone.clone(),
                    None => return validation_failed("milestone"),
                },
            }
            let at = write_time(repo);
            let was_closed = item["state"] == "closed";
            match body.get("state").and_then(Value::as_str) {
                // GitHub ignores state_reason unless the state changes.
                Some("closed") if was_closed => {}
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
                    if was_closed {
                        item["state_reason"] = json!("reopened");
                    }
                    item["state"] = json!("open");
                    item["closed_at"] = Value::Null;
                }
                Some(_) => return validation_failed("state"),
                None => {}
            }
            if item != before {
                item["updated_at"] = json!(at);
                repo.upsert(item.clone());
            }
            Json(on_web_host(item, s.web_origin.as_deref())).into_response()
        },
    )
    .await
}

/// The name key of a label or login: GitHub compares them without case.
fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// A JSON list with a weak `ETag` of its body, or `304` when `If-None-Match` names it.
fn etagged_list(headers: &HeaderMap, items: Vec<Value>) -> Response {
    let text = serde_json::to_string(&items).unwrap();
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let etag = format!("W/\"{:016x}\"", hasher.finish());
    let matches = headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str());
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (StatusCode::OK, text).into_response();
        r.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        r
    };
    response.headers_mut().insert("etag", etag.parse().unwrap());
    response
}

/// `GET /repos/{owner}/{repo}/{what}`: one of a repository's lists (`pick`), one page, with
/// an ETag.
async fn repo_list(
    state: &Mutex<GhState>,
    (owner, repo): (String, String),
    headers: HeaderMap,
    what: &str,
    pick: fn(&RepoData) -> Vec<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    let path = format!("/repos/{owner}/{repo}/{what}");
    let h = headers.clone();
    let exists = |s: &GhState| s.repos.contains_key(&key).then(|| key.clone());
    answer(state, "GET", &headers, path, String::new(), exists, |s, key| {
        etagged_list(&h, pick(&s.repos[key]))
    })
    .await
}

/// `GET /repos/{owner}/{repo}/labels`: the repository's labels.
async fn list_repo_labels(
    State(state): Shared,
    Path(repo): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    repo_list(&state, repo, headers, "labels", |r| r.labels.clone()).await
}

/// `GET /repos/{owner}/{repo}/assignees`: the users the test made assignable (none unless set).
async fn list_repo_assignees(
    State(state): Shared,
    Path(repo): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let logins = |r: &RepoData| r.assignable.iter().flatten().map(|l| json!({"login": l})).collect();
    repo_list(&state, repo, headers, "assignees", logins).await
}

/// `GET /repos/{owner}/{repo}/milestones`: the repository's milestones (every state).
async fn list_repo_milestones(
    State(state): Shared,
    Path(repo): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    repo_list(&state, repo, headers, "milestones", |r| r.milestones.clone()).await
}

/// `POST /repos/{owner}/{repo}/labels {"name", "color"?}`: `201`, or `422 already_exists`
/// for a name it has in any case.
async fn create_repo_label(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = key_of(&owner, &repo);
    answer_write(
        &state,
        "POST",
        &headers,
        format!("/repos/{owner}/{repo}/labels"),
        String::new(),
        Some(&body),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let Some(name) = body["name"].as_str().filter(|n| !n.trim().is_empty()) else {
                return validation_failed("name");
            };
            let repo = s.repos.get_mut(key).expect("the repository was found");
            if repo.labels.iter().any(|l| l["name"].as_str().map(fold) == Some(fold(name))) {
                let body = json!({"message": "Validation Failed",
                    "errors": [{"resource": "Label", "code": "already_exists", "field": "name"}]});
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            let color = body["color"].as_str().unwrap_or("ededed");
            let label = json!({"name": name, "color": color});
            repo.labels.push(label.clone());
            (StatusCode::CREATED, Json(label)).into_response()
        },
    )
    .await
}

/// A write to issue `number` of `owner/repo` at `…/issues/{number}{tail}`, answered as any
/// write is (faults, holds, access): `change` changes its item (it returns whether anything
/// changed; then `updated_at` moves, as on GitHub), and `answer` answers with the new item.
#[allow(clippy::too_many_arguments)]
async fn write_item(
    state: &Mutex<GhState>,
    method: &'static str,
    headers: &HeaderMap,
    (owner, repo, number): (&str, &str, i64),
    tail: &str,
    body: Option<&Value>,
    change: impl FnOnce(&mut Value, &RepoData) -> Result<bool, Box<Response>>,
    answer: impl FnOnce(&Value) -> Response,
) -> Response {
    let key = key_of(owner, repo);
    let path = format!("/repos/{owner}/{repo}/issues/{number}{tail}");
    let exists = |s: &GhState| s.repos.contains_key(&key).then(|| key.clone());
    answer_write(state, method, headers, path, String::new(), body, exists, |s, key| {
        let web_origin = s.web_origin.clone();
        let repo = s.repos.get_mut(key).expect("the repository was found");
        let Some(mut item) = repo.items.iter().find(|i| i["number"].as_i64() == Some(number)).cloned() else {
            return one_issue(s, key, number);
        };
        match change(&mut item, repo) {
            Err(response) => return *response,
            Ok(true) => {
                item["updated_at"] = json!(write_time(repo));
                repo.upsert(item.clone());
            }
            Ok(false) => {}
        }
        answer(&on_web_host(item, web_origin.as_deref()))
    })
    .await
}

/// The strings of a JSON array (none for anything else).
fn strings(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_string)).collect()
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels {"labels": [name]}`: adds those it
/// lacks; a name the repository does not have is refused (this stand-in's rule: ghsync
/// creates labels first). Answers the issue's labels.
async fn add_issue_labels(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let names = strings(&body["labels"]);
    let add = |item: &mut Value, repo: &RepoData| {
        let mut changed = false;
        for name in &names {
            let Some(label) = repo.labels.iter().find(|l| l["name"].as_str().map(fold) == Some(fold(name)))
            else {
                return Err(Box::new(validation_failed("labels")));
            };
            let labels = item["labels"].as_array_mut().expect("an issue has labels");
            if !labels.iter().any(|l| l["name"] == label["name"]) {
                labels.push(json!({"name": label["name"], "color": label["color"], "default": false}));
                changed = true;
            }
        }
        Ok(changed)
    };
    let labels = |item: &Value| Json(item["labels"].clone()).into_response();
    write_item(&state, "POST", &headers, (&owner, &repo, number), "/labels", Some(&body), add, labels).await
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}`: `404 Label does not exist`
/// when the issue lacks it; else the issue's remaining labels.
async fn remove_issue_label(
    State(state): Shared,
    Path((owner, repo, number, name)): Path<(String, String, i64, String)>,
    headers: HeaderMap,
) -> Response {
    let remove = |item: &mut Value, _: &RepoData| {
        let labels = item["labels"].as_array_mut().expect("an issue has labels");
        let before = labels.len();
        labels.retain(|l| l["name"].as_str().map(fold) != Some(fold(&name)));
        if labels.len() == before {
            return Err(Box::new(github_error(StatusCode::NOT_FOUND, "Label does not exist")));
        }
        Ok(true)
    };
    let labels = |item: &Value| Json(item["labels"].clone()).into_response();
    let tail = format!("/labels/{name}");
    write_item(&state, "DELETE", &headers, (&owner, &repo, number), &tail, None, remove, labels).await
}

/// `POST` / `DELETE /repos/{owner}/{repo}/issues/{number}/assignees {"assignees": [login]}`:
/// adds (those the repository can assign; the rest are dropped without an error, and at most
/// ten are kept) or removes them. Answers the issue.
async fn change_issue_assignees(
    state: &Mutex<GhState>,
    method: &'static str,
    (owner, repo, number): (String, String, i64),
    headers: HeaderMap,
    body: Value,
) -> Response {
    let logins = strings(&body["assignees"]);
    let change = |item: &mut Value, repo: &RepoData| {
        let mut users: Vec<Value> = item["assignees"].as_array().cloned().unwrap_or_default();
        let before = users.clone();
        for login in &logins {
            let has =
                |users: &[Value]| users.iter().any(|u| u["login"].as_str().map(fold) == Some(fold(login)));
            if method == "POST" {
                let assignable =
                    repo.assignable.as_ref().is_none_or(|a| a.iter().any(|x| fold(x) == fold(login)));
                if assignable && !has(&users) && users.len() < 10 {
                    users.push(json!({"login": login}));
                }
            } else {
                users.retain(|u| u["login"].as_str().map(fold) != Some(fold(login)));
            }
        }
        item["assignee"] = users.first().cloned().unwrap_or(Value::Null);
        item["assignees"] = Value::Array(users.clone());
        Ok(users != before)
    };
    let issue = |item: &Value| {
        let status = if method == "POST" { StatusCode::CREATED } else { StatusCode::OK };
        (status, Json(item.clone())).into_response()
    };
    write_item(state, method, &headers, (&owner, &repo, number), "/assignees", Some(&body), change, issue)
        .await
}

async fn add_issue_assignees(
    State(state): Shared,
    Path(path): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    change_issue_assignees(&state, "POST", path, headers, body).await
}

async fn remove_issue_assignees(
    State(state): Shared,
    Path(path): Path<(String, String, i64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    change_issue_assignees(&state, "DELETE", path, headers, body).await
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
    let login = |s: &GhState| login_of(s, bearer(&headers));
    answer_write(
        &state,
        "POST",
        &headers,
        format!("/repos/{owner}/{repo}/issues"),
        String::new(),
        Some(&body),
        |s| s.repos.contains_key(&key).then(|| key.clone()),
        |s, key| {
            let author = login(s);
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
            item["user"] = crate::fixtures::user(&author, 4242);
            repo.upsert(item.clone());
            (StatusCode::CREATED, Json(on_web_host(item, s.web_origin.as_deref()))).into_response()
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
        let url = format!("{}/repos/acme/widgets/projects", gh.url);
        let reply =
            crate::http::send(axum::http::Method::POST, &url, &[("authorization", "Bearer t")], "{}").await;
        assert_eq!(reply.status.as_u16(), 500);
        assert!(reply.text().contains("no route for POST /repos/acme/widgets/projects"), "{}", reply.text());
        assert_eq!(gh.requests().last().unwrap().status, 500);
    }

    #[test]
    fn each_endpoint_needs_the_permission_github_names() {
        let table = [
            ("GET", "/repos/acme/widgets", ("metadata", "read")),
            ("GET", "/repos/acme/widgets/issues", ("issues", "read")),
            ("GET", "/repositories/1000/issues", ("issues", "read")),
            ("GET", "/repos/acme/widgets/issues/7", ("issues", "read")),
            ("GET", "/repositories/1000/issues/7", ("issues", "read")),
            ("PATCH", "/repos/acme/widgets/issues/7", ("issues", "write")),
            ("POST", "/repos/acme/widgets/issues", ("issues", "write")),
            ("GET", "/repos/acme/widgets/hooks", ("repository_hooks", "read")),
            ("POST", "/repos/acme/widgets/hooks", ("repository_hooks", "write")),
            ("PATCH", "/repos/acme/widgets/hooks/3", ("repository_hooks", "write")),
            ("DELETE", "/repos/acme/widgets/hooks/3", ("repository_hooks", "write")),
            // An owner or repository named like an endpoint is still the repository.
            ("GET", "/repos/issues/hooks", ("metadata", "read")),
        ];
        for (method, path, need) in table {
            assert_eq!(needs(method, path), need, "{method} {path}");
        }
    }

    #[test]
    fn write_covers_read_and_a_missing_permission_covers_nothing() {
        let p = permission_map(&[("issues", "write"), ("metadata", "read")]);
        assert!(grants(&p, "issues", "read"));
        assert!(grants(&p, "issues", "write"));
        assert!(grants(&p, "metadata", "read"));
        assert!(!grants(&p, "metadata", "write"));
        assert!(!grants(&p, "repository_hooks", "read"));
    }

    /// An App JWT with these claims, signed (RS256) with `key`.
    fn jwt(key: &str, claims: Value) -> String {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let key = EncodingKey::from_rsa_pem(key.as_bytes()).expect("a PKCS#1 PEM key");
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("sign")
    }

    #[test]
    fn an_app_jwt_is_checked_as_github_does() {
        let now = chrono::Utc::now().timestamp();
        let verify = |token: String| verify_app_jwt(&token, 42, app_public_key());
        let good = json!({ "iss": 42, "iat": now - 60, "exp": now + 540 });
        assert_eq!(verify(jwt(app_private_key(), good.clone())), Ok(()));
        assert_eq!(
            verify(jwt(app_private_key(), json!({ "iss": "42", "iat": now, "exp": now + 600 }))),
            Ok(())
        );
        assert!(verify(jwt(forged_app_key(), good)).is_err(), "forged key");
        let too_long = json!({ "iss": 42, "iat": now - 60, "exp": now + 541 });
        assert!(verify(jwt(app_private_key(), too_long)).is_err(), "exp - iat > 600");
        assert!(verify(jwt(app_private_key(), json!({ "iss": 43, "iat": now, "exp": now + 60 }))).is_err());
        assert!(verify(jwt(app_private_key(), json!({ "iss": "x", "iat": now, "exp": now + 60 }))).is_err());
        assert!(verify(jwt(app_private_key(), json!({ "iat": now, "exp": now + 60 }))).is_err(), "no iss");
        let expired = json!({ "iss": 42, "iat": now - 600, "exp": now - 1 });
        assert!(verify(jwt(app_private_key(), expired)).is_err(), "expired");
        let early = json!({ "iss": 42, "iat": now + 120, "exp": now + 300 });
        assert!(verify(jwt(app_private_key(), early)).is_err(), "iat ahead");
        assert!(verify(jwt(app_private_key(), json!({ "iss": 42, "iat": now }))).is_err(), "no exp");
        assert!(verify("not.a.jwt".to_string()).is_err(), "malformed");
        let hs256 = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({ "iss": 42, "iat": now, "exp": now + 60 }),
            &jsonwebtoken::EncodingKey::from_secret(app_public_key().as_bytes()),
        )
        .unwrap();
        assert!(verify(hs256).is_err(), "HS256 with the public key as secret");
    }

    /// Sends `method url` with `token` and a JSON body.
    async fn call(method: &str, url: &str, token: &str, body: &str) -> crate::http::Reply {
        let auth = format!("Bearer {token}");
        let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        crate::http::send(method, url, &headers, body.to_string()).await
    }

    #[tokio::test]
    async fn a_ghes_server_speaks_under_its_prefix() {
        let gh = FakeGitHub::start_ghes().await;
        let port = gh.url.strip_prefix("http://127.0.0.1:").unwrap().strip_suffix("/api/v3").unwrap();
        gh.add_repo("acme/widgets", "t");
        for n in 1..=3 {
            let at = format!("2026-01-0{n}T00:00:00Z");
            gh.upsert("acme/widgets", crate::fixtures::issue("acme/widgets", n, "T", None, "open", &at));
        }
        let list = call("GET", &format!("{}/repos/acme/widgets/issues?per_page=2", gh.url), "t", "").await;
        assert_eq!(list.status, 200);
        let link = list.headers["link"].to_str().unwrap();
        assert!(link.contains(&format!("<{}/repositories/", gh.url)), "{link}");
        let web = format!("https://127.0.0.1:{port}/acme/widgets/issues/1");
        assert_eq!(list.json()[0]["html_url"], json!(web));
        let one = call("GET", &format!("{}/repos/acme/widgets/issues/1", gh.url), "t", "").await;
        assert_eq!(one.json()["html_url"], json!(web));
        let patched =
            call("PATCH", &format!("{}/repos/acme/widgets/issues/1", gh.url), "t", r#"{"title":"U"}"#).await;
        assert_eq!(patched.json()["html_url"], json!(web));
        assert_eq!(
            gh.issue("acme/widgets", 1).unwrap()["html_url"],
            "https://github.com/acme/widgets/issues/1"
        );
        gh.mutate(Mutation::Transfer {
            repo: "acme/widgets".into(),
            number: 2,
            to_repo: "acme/gadgets".into(),
            to_number: 9,
            updated_at: "2026-01-05T00:00:00Z".into(),
        });
        gh.add_repo("acme/gadgets", "t");
        let moved = call("GET", &format!("{}/repos/acme/widgets/issues/2", gh.url), "t", "").await;
        assert_eq!(moved.status, 301);
        let location = moved.headers["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(&format!("{}/repositories/", gh.url)), "{location}");
        let target = call("GET", &location, "t", "").await;
        assert_eq!(
            target.json()["html_url"],
            json!(format!("https://127.0.0.1:{port}/acme/gadgets/issues/9"))
        );
        let unprefixed = call("GET", &format!("http://127.0.0.1:{port}/repos/acme/widgets"), "t", "").await;
        assert_eq!(unprefixed.status, 500);
        let paths: Vec<String> = gh.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths[..3],
            ["/repos/acme/widgets/issues", "/repos/acme/widgets/issues/1", "/repos/acme/widgets/issues/1"]
        );
    }

    #[tokio::test]
    async fn token_kinds_get_githubs_headers() {
        let gh = FakeGitHub::start().await;
        gh.add_repo("acme/widgets", "classic");
        gh.add_repo("acme/widgets", "fine");
        gh.set_classic_scopes("classic", "repo, admin:repo_hook");
        gh.set_fine_grained("fine", &[("issues", "read"), ("metadata", "read")]);
        let repo = format!("{}/repos/acme/widgets", gh.url);
        let classic = call("GET", &repo, "classic", "").await;
        assert_eq!(classic.headers["x-oauth-scopes"], "repo, admin:repo_hook");
        assert!(classic.headers.get("x-accepted-github-permissions").is_none());
        let fine = call("GET", &format!("{repo}/issues"), "fine", "").await;
        assert_eq!(fine.status, 200);
        assert_eq!(fine.headers["x-accepted-github-permissions"], "issues=read");
        assert!(fine.headers.get("x-oauth-scopes").is_none());
        let write = call("POST", &format!("{repo}/issues"), "fine", r#"{"title":"New"}"#).await;
        assert_eq!(write.status, 403);
        assert_eq!(write.headers["x-accepted-github-permissions"], "issues=write");
        assert_eq!(write.json()["message"], "Resource not accessible by personal access token");
        let hooks = call("GET", &format!("{repo}/hooks"), "fine", "").await;
        assert_eq!(hooks.status, 403);
        assert_eq!(hooks.headers["x-accepted-github-permissions"], "repository_hooks=read");
        gh.add_repo("acme/widgets", "plain");
        let plain = call("GET", &repo, "plain", "").await;
        assert_eq!(plain.status, 200);
        assert!(plain.headers.get("x-oauth-scopes").is_none());
        assert!(plain.headers.get("x-accepted-github-permissions").is_none());
    }

    #[tokio::test]
    async fn an_installation_token_follows_its_installation_until_it_expires() {
        let gh = FakeGitHub::start_ghes().await;
        gh.set_app(42, app_public_key());
        gh.add_installation(7, &["acme/widgets"], &[("issues", "write"), ("metadata", "read")]);
        let now = chrono::Utc::now().timestamp();
        let app_jwt = jwt(app_private_key(), json!({ "iss": 42, "iat": now - 60, "exp": now + 540 }));
        let mint_url = format!("{}/app/installations/7/access_tokens", gh.url);
        let forged = jwt(forged_app_key(), json!({ "iss": 42, "iat": now - 60, "exp": now + 540 }));
        let refused = call("POST", &mint_url, &forged, "").await;
        assert_eq!(refused.status, 401);
        assert_eq!(refused.json()["message"], "A JSON web token could not be decoded");
        let unknown =
            call("POST", &format!("{}/app/installations/8/access_tokens", gh.url), &app_jwt, "").await;
        assert_eq!(unknown.status, 404);
        let minted = call("POST", &mint_url, &app_jwt, "").await;
        assert_eq!(minted.status, 201, "{}", minted.text());
        let body = minted.json();
        let token = body["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("ghs_"), "{token}");
        assert_eq!(body["permissions"], json!({ "issues": "write", "metadata": "read" }));
        assert_eq!(body["repository_selection"], "selected");
        let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
        assert!((expires.timestamp() - now - 3600).abs() <= 5, "{expires}");
        assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(gh.tokens_minted(7), 1);
        assert!(
            gh.requests().iter().any(|r| r.path == "/app/installations/7/access_tokens" && r.status == 201)
        );
        assert!(gh.writes().is_empty());

        let repo = format!("{}/repos/acme/widgets", gh.url);
        let read = call("GET", &repo, &token, "").await;
        assert_eq!(read.status, 200);
        assert_eq!(read.headers["x-accepted-github-permissions"], "metadata=read");
        assert!(read.headers.get("github-authentication-token-expiration").is_none());
        assert!(read.headers.get("x-oauth-scopes").is_none());
        let hooks = call("GET", &format!("{repo}/hooks"), &token, "").await;
        assert_eq!(hooks.status, 403);
        assert_eq!(call("GET", &repo, &app_jwt, "").await.status, 401, "the JWT is no repository token");
        gh.remove_installation_repo(7, "acme/widgets");
        assert_eq!(call("GET", &repo, &token, "").await.status, 404);
        gh.add_installation_repo(7, "acme/widgets");
        assert_eq!(call("GET", &repo, &token, "").await.status, 200);

        gh.set_installation_token_lifetime(Duration::ZERO);
        let short = call("POST", &mint_url, &app_jwt, "").await.json()["token"].as_str().unwrap().to_string();
        let expired = call("GET", &repo, &short, "").await;
        assert_eq!(
            (expired.status.as_u16(), expired.json()["message"].clone()),
            (401, json!("Bad credentials"))
        );
        assert_eq!(gh.tokens_minted(7), 2);
    }
}
