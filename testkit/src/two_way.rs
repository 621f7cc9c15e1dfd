//! A two-way world for tests: a project following `acme/widgets` on the GitHub stand-in, its
//! issues imported, the services and a reconciler, and the moves a test makes: edit a task and
//! push it as the API does, edit the issue on GitHub, deliver GitHub's webhook, look at the
//! outbox.

use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::contract::Pushed;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::TaskComment;
use ghsync_shared::domain::{ConflictResolution, ConflictStatus, TaskPatch, TaskStatus, TaskWithLink};
use ghsync_shared::github::{GitHub, Retries};
use ghsync_shared::paging::PageRequest;
use ghsync_shared::services::Services;
use ghsync_shared::services::comment_push::CommentPushed;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::Backoff;
use ghsync_shared::webhook::{Delivery, Handled, WebhookConfig, WebhookError, handle, sign};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{issue, issues_event};
use crate::github::FakeGitHub;

pub const REPO: &str = "acme/widgets";
pub const PAT: &str = "ghp_twoWayTestToken0000000001";
pub const SECRET: &str = "two-way-secret";

/// The world of one test.
pub struct World {
    pub store: Store,
    pub gh: FakeGitHub,
    pub keys: KeyProvider,
    pub services: Services,
    pub rec: Reconciler,
    pub project: Uuid,
    deliveries: u32,
}

/// `2026-03-01T00:00:00Z` plus `i` seconds, as GitHub writes times.
pub fn at(i: i64) -> String {
    let t =
        chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap() + chrono::Duration::seconds(i);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn title(t: &str) -> TaskPatch {
    TaskPatch { title: Some(t.into()), ..Default::default() }
}

pub fn status(s: TaskStatus) -> TaskPatch {
    TaskPatch { status: Some(s), ..Default::default() }
}

impl World {
    /// A project following [`REPO`] with issues 1..=n imported; two-way when `two_way`.
    pub async fn new(store: Store, issues: i64, two_way: bool) -> World {
        let gh = FakeGitHub::start().await;
        gh.add_repo(REPO, PAT);
        for n in 1..=issues {
            gh.upsert(REPO, issue(REPO, n, &format!("Issue {n}"), Some("body"), "open", &at(n)));
        }
        let keys = KeyProvider::Local(LocalKeys::from_hex(&"7b".repeat(32)).unwrap());
        // One attempt per request: a queued fault is a failed push, not a retried one.
        let github = GitHub::new(&gh.url, Duration::from_secs(5))
            .unwrap()
            .with_retries(Retries { attempts: 1, base: Duration::from_millis(1) });
        let services = Services::new(store.clone(), keys.clone(), github);
        let options =
            ReconcileOptions { attempts: 1, retry_base: Duration::from_millis(1), ..Default::default() };
        let project = crate::project_with_pat(&store, REPO, &keys, PAT).await;
        let rec = Reconciler::new(services.clone(), options);
        rec.run_project(project).await.unwrap();
        crate::set_two_way(&store, project, two_way).await;
        gh.clear_requests();
        World { store, gh, keys, services, rec, project, deliveries: 0 }
    }

    /// The task of issue `number`.
    pub async fn task(&self, number: i64) -> TaskWithLink {
        self.store
            .list_tasks(self.project)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.github.as_ref().is_some_and(|g| g.issue_number == number))
            .expect("the issue has a task")
    }

    pub async fn task_id(&self, number: i64) -> Uuid {
        self.task(number).await.task.id
    }

    /// A local edit through the store, then the push the API makes after it.
    pub async fn edit(&self, number: i64, patch: TaskPatch) -> Pushed {
        let task = self.task_id(number).await;
        self.store.update_task(task, &patch).await.unwrap();
        self.services.push_task(task).await.unwrap()
    }

    /// A local edit through the store, not pushed (the request's budget ran out, say).
    pub async fn edit_only(&self, number: i64, patch: TaskPatch) {
        let task = self.task_id(number).await;
        self.store.update_task(task, &patch).await.unwrap();
    }

    /// Issue `number` as GitHub holds it.
    pub fn github(&self, number: i64) -> Value {
        self.gh.issue(REPO, number).expect("the issue is on GitHub")
    }

    /// Delivers GitHub's webhook for issue `number` as GitHub now holds it.
    pub async fn deliver(&mut self, action: &str, number: i64) {
        let snapshot = self.github(number);
        self.deliver_snapshot(action, snapshot).await.unwrap();
    }

    /// Delivers GitHub's webhook carrying `snapshot`.
    pub async fn deliver_snapshot(&mut self, action: &str, snapshot: Value) -> Result<Handled, WebhookError> {
        self.deliver_event("issues", &issues_event(action, snapshot, REPO, json!({}))).await
    }

    /// Delivers a webhook of `event` with `payload`, signed with the world's secret, under the
    /// world's next delivery id.
    pub async fn deliver_event(&mut self, event: &str, payload: &Value) -> Result<Handled, WebhookError> {
        self.deliveries += 1;
        let body = serde_json::to_vec(payload).unwrap();
        let signature = sign(SECRET, &body);
        let id = self.delivery_id(self.deliveries);
        let d = Delivery {
            event: Some(event),
            delivery_id: Some(&id),
            signature_256: Some(&signature),
            signature_sha1: None,
            body: &body,
            tenant: None,
            app: false,
        };
        let config = WebhookConfig::github_com(Some(WebhookSecrets::parse(SECRET).unwrap()));
        handle(&self.store, &config, d).await
    }

    /// The id of the world's `n`-th delivery (ids are unique across the worlds of a database).
    pub fn delivery_id(&self, n: u32) -> String {
        format!("two-way-{}-{n}", self.project)
    }

    /// An edit on GitHub by someone else (no delivery): issue `number` with `title` (its body
    /// kept) in `state` (`open`, `completed`, `not_planned`, `reopened`).
    pub fn edit_on_github(&self, number: i64, title: &str, state: &str) {
        let old = self.github(number);
        let at = self.gh.next_write_time(REPO);
        self.gh.upsert(REPO, issue(REPO, number, title, old["body"].as_str(), state, &at));
    }

    /// An edit of the body on GitHub by someone else (no delivery); title and state stay.
    pub fn edit_body_on_github(&self, number: i64, body: &str) {
        let mut edited = self.github(number);
        edited["body"] = json!(body);
        edited["updated_at"] = json!(self.gh.next_write_time(REPO));
        self.gh.upsert(REPO, edited);
    }

    pub async fn pending_conflicts(&self) -> Vec<ConflictResolution> {
        self.store.list_conflicts(self.project, Some(ConflictStatus::Pending)).await.unwrap()
    }

    pub async fn pending_pushes(&self) -> i64 {
        self.store.pending_pushes(self.project).await.unwrap()
    }

    /// (GET, PATCH or POST) requests since the last clear.
    pub fn methods(&self) -> Vec<String> {
        self.gh.requests().into_iter().map(|r| r.method).collect()
    }

    /// The JSON bodies of the writes to issue `number` since the last clear.
    pub fn patches(&self, number: i64) -> Vec<Value> {
        let path = format!("/repos/{REPO}/issues/{number}");
        self.gh.writes().into_iter().filter(|r| r.path == path).filter_map(|r| r.body).collect()
    }

    /// Lets time pass for a claim: the task's outbox lease ends now, as if its pusher had
    /// stalled past it (another pusher may take the entry).
    pub async fn expire_claim(&self, task: Uuid) {
        sqlx::query("UPDATE sync_outbox SET lease_until = $2 WHERE task_id = $1")
            .bind(task.to_string())
            .bind("2000-01-01T00:00:00.000Z")
            .execute(self.store.pool())
            .await
            .unwrap();
    }

    /// Lets time pass for a retry: the task's outbox entry is due now.
    pub async fn make_due(&self, task: Uuid) {
        sqlx::query("UPDATE sync_outbox SET next_attempt_at = $2 WHERE task_id = $1")
            .bind(task.to_string())
            .bind("2000-01-01T00:00:00.000Z")
            .execute(self.store.pool())
            .await
            .unwrap();
    }

    /// A column of the task's outbox entry (`None` without an entry, or NULL).
    pub async fn entry(&self, task: Uuid, column: &str) -> Option<String> {
        let sql = format!("SELECT {column} FROM sync_outbox WHERE task_id = $1");
        sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql))
            .bind(task.to_string())
            .fetch_optional(self.store.pool())
            .await
            .unwrap()
            .flatten()
    }

    /// The config's `next_sync_at`.
    pub async fn next_sync_at(&self) -> ghsync_shared::time::Timestamp {
        self.store.get_config(self.project).await.unwrap().next_sync_at.expect("a next sync time")
    }

    /// Saves the config's PAT again (a person fixing the token): what GitHub refused goes
    /// again.
    pub async fn save_credential(&self) {
        crate::save_pat(&self.store, self.project, REPO, &self.keys, PAT).await;
    }

    // --- the thread ---------------------------------------------------------------------

    /// Writes a comment on issue `number`'s task as the API does: stored, then pushed.
    pub async fn comment(&self, number: i64, body: &str, author: Option<&str>) -> TaskComment {
        let task = self.task_id(number).await;
        let written = self.store.add_comment(task, body, author).await.unwrap();
        self.push_comment(written.id).await;
        self.store.get_comment(written.id).await.unwrap()
    }

    /// The push the API makes after a change of board comment `id`.
    pub async fn push_comment(&self, id: Uuid) -> CommentPushed {
        let options = self.services.push_options;
        self.services.push_comment(id, &options, Backoff::Respect, &mut 0).await.unwrap()
    }

    /// Issue `number`'s task's thread.
    pub async fn thread(&self, number: i64) -> Vec<TaskComment> {
        let task = self.task_id(number).await;
        self.store.task_comments(task, &PageRequest::everything()).await.unwrap()
    }

    /// Issue `number`'s comments as GitHub holds them.
    pub fn github_comments(&self, number: i64) -> Vec<Value> {
        let suffix = format!("/issues/{number}");
        self.gh
            .comments(REPO)
            .into_iter()
            .filter(|c| c["issue_url"].as_str().is_some_and(|u| u.ends_with(&suffix)))
            .collect()
    }

    /// Delivers GitHub's `issue_comment` webhook (`created`, `edited`, `deleted`) for
    /// `comment`, with its issue as GitHub holds it.
    pub async fn deliver_comment(&mut self, action: &str, comment: Value) -> Handled {
        self.deliveries += 1;
        let number: i64 =
            comment["issue_url"].as_str().and_then(|u| u.rsplit('/').next()).unwrap().parse().unwrap();
        let payload = json!({
            "action": action,
            "issue": self.github(number),
            "comment": comment,
            "repository": crate::fixtures::repository(REPO),
            "sender": crate::fixtures::user("mona", 9),
        });
        let id = self.delivery_id(self.deliveries);
        crate::deliver(&self.store, SECRET, "issue_comment", &id, &payload).await.unwrap()
    }

    /// An edit of GitHub comment `id` by someone on GitHub (no delivery): its raw body.
    pub fn edit_comment_on_github(&self, id: i64, body: &str) -> Value {
        let mut comment = self
            .gh
            .comments(REPO)
            .into_iter()
            .find(|c| c["id"].as_i64() == Some(id))
            .expect("the comment is on GitHub");
        let after = chrono::DateTime::parse_from_rfc3339(comment["updated_at"].as_str().unwrap()).unwrap()
            + chrono::Duration::seconds(1);
        let after = after.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        comment["body"] = json!(body);
        comment["updated_at"] = json!(after.max(self.gh.next_write_time(REPO)));
        self.gh.upsert_comment(REPO, comment.clone());
        comment
    }

    /// Lets time pass for a retry: board comment `id`'s entry is due now.
    pub async fn make_comment_due(&self, id: Uuid) {
        sqlx::query("UPDATE comment_outbox SET next_attempt_at = $2 WHERE comment_id = $1")
            .bind(id.to_string())
            .bind("2000-01-01T00:00:00.000Z")
            .execute(self.store.pool())
            .await
            .unwrap();
    }
}
