//! End to end over HTTP against `ghsync serve`: webhooks, local edits, conflicts and their
//! resolution, with a GitHub-speaking server behind it.

use std::process::Stdio;

use http::Method;
use serde_json::{Value, json};
use testkit::fixtures::{issue, issues_event};
use testkit::github::FakeGitHub;
use testkit::http::{Reply, send};
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "e2e-api-token";
const SECRET: &str = "e2e-webhook-secret";
const PAT: &str = "ghp_e2eTokenForWidgets000001";
const REPO: &str = "acme/widgets";

struct Serve {
    url: String,
    github: FakeGitHub,
    _child: tokio::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve() -> Serve {
    let github = FakeGitHub::start().await;
    github.add_repo(REPO, PAT);
    let dir = testkit::temp_dir("ghsync-e2e");
    let local_key = "ab".repeat(32);
    let env = [
        ("GHSYNC_API_TOKEN", TOKEN),
        ("GHSYNC_WEBHOOK_SECRET", SECRET),
        ("GHSYNC_LOCAL_KEY", local_key.as_str()),
        ("GITHUB_API_URL", github.url.as_str()),
        ("RUST_LOG", "warn"),
    ];
    let (child, url, _) = spawn_serve(&dir, &env).await;
    Serve { url, github, _child: child, dir }
}

impl Serve {
    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        send(
            method,
            &format!("{}{path}", self.url),
            &headers,
            body.map(|b| b.to_string()).unwrap_or_default(),
        )
        .await
    }

    /// "Sync now": queued (202; 409 while ghsync's own loop holds the config, retried),
    /// then the run's row once the woken worker has finished it. `ghsync serve` is another
    /// process: its runs are observed through the API, polled with a bound.
    async fn sync_now(&self, project: &str) -> Value {
        let path = format!("/api/projects/{project}/github-sync/run");
        let mut accepted = None;
        for _ in 0..100 {
            let r = self.api(Method::POST, &path, None).await;
            if r.status == 409 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(r.status, 202, "{}", r.text());
            accepted = Some(r.json()["history_id"].as_str().unwrap().to_string());
            break;
        }
        let id = accepted.expect("the config stayed busy");
        for _ in 0..400 {
            let runs =
                ok(self.api(Method::GET, &format!("/api/projects/{project}/sync-history/runs"), None).await);
            if let Some(run) = runs["items"].as_array().unwrap().iter().find(|r| r["id"] == id.as_str())
                && run["status"] != "in_progress"
            {
                return run.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the queued run {id} did not finish in 10 s");
    }

    async fn deliver(&self, action: &str, issue: Value) -> Reply {
        let body = issues_event(action, issue, REPO, json!({})).to_string();
        let sig = ghsync_shared::webhook::sign(SECRET, body.as_bytes());
        let id = uuid::Uuid::new_v4().to_string();
        let headers = [
            ("x-github-event", "issues"),
            ("x-github-delivery", id.as_str()),
            ("x-hub-signature-256", sig.as_str()),
        ];
        send(Method::POST, &format!("{}/webhooks/github", self.url), &headers, body).await
    }
}

fn ok(r: Reply) -> Value {
    assert!(r.status.is_success(), "{}: {}", r.status, r.text());
    if r.body.is_empty() { Value::Null } else { r.json() }
}

#[tokio::test]
async fn a_conflict_is_raised_once_and_each_resolution_settles_it() {
    let s = serve().await;
    assert_eq!(send(Method::GET, &format!("{}/healthz", s.url), &[], "").await.status, 200);
    let project = ok(s.api(Method::POST, "/api/projects", Some(json!({"name": "Widgets"}))).await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(s.api(
        Method::PUT,
        &format!("/api/projects/{project}/github-sync"),
        Some(json!({"repo_owner": "acme", "repo_name": "widgets", "pat": PAT})),
    )
    .await);

    for (n, action, merged, want) in [
        (1, "keep_local", None, ("Local 1", Some("local body"))),
        (2, "accept_github", None, ("GitHub 2", Some("body"))),
        (3, "merge", Some(json!({"title": "Merged 3", "description": "both"})), ("Merged 3", Some("both"))),
    ] {
        let original = issue(REPO, n, &format!("Issue {n}"), Some("body"), "open", "2026-01-05T10:00:00Z");
        assert_eq!(s.deliver("opened", original).await.status, 200);
        let tasks = ok(s.api(Method::GET, &format!("/api/projects/{project}/tasks"), None).await);
        let task = tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["github"]["issue_number"] == n)
            .unwrap()
            .clone();
        let task_id = task["id"].as_str().unwrap();

        // A local edit, then a GitHub edit of the same issue.
        ok(s.api(
            Method::PATCH,
            &format!("/api/tasks/{task_id}"),
            Some(json!({"title": format!("Local {n}"), "description": "local body"})),
        )
        .await);
        let edited = issue(REPO, n, &format!("GitHub {n}"), Some("body"), "open", "2026-01-05T11:00:00Z");
        s.github.upsert(REPO, edited.clone());
        assert_eq!(s.deliver("edited", edited.clone()).await.status, 200);

        let pending =
            ok(s.api(Method::GET, &format!("/api/projects/{project}/conflicts?status=pending"), None).await);
        let pending = pending["items"].as_array().unwrap();
        assert_eq!(pending.len(), 1, "one pending conflict");
        assert_eq!(pending[0]["local_content_snapshot"]["title"], format!("Local {n}"));
        assert_eq!(pending[0]["remote_content_snapshot"]["title"], format!("GitHub {n}"));
        let conflict_id = pending[0]["id"].as_str().unwrap().to_string();
        let task_now = ok(s.api(Method::GET, &format!("/api/projects/{project}/tasks"), None).await);
        let t = task_now["items"].as_array().unwrap().iter().find(|t| t["id"] == task_id).unwrap();
        assert_eq!(t["title"], format!("Local {n}"), "the task is left alone");
        assert_eq!(t["github"]["sync_conflict_status"], "pending");

        let mut body = json!({"action": action});
        if let Some(m) = merged {
            body["merged_content"] = m;
        }
        let resolved = ok(s
            .api(Method::POST, &format!("/api/conflicts/{conflict_id}/resolve"), Some(body.clone()))
            .await);
        assert_eq!(resolved["resolution_action"], action);
        let again = s.api(Method::POST, &format!("/api/conflicts/{conflict_id}/resolve"), Some(body)).await;
        assert_eq!(again.status, 409, "resolving twice");

        let tasks = ok(s.api(Method::GET, &format!("/api/projects/{project}/tasks"), None).await);
        let t = tasks["items"].as_array().unwrap().iter().find(|t| t["id"] == task_id).unwrap().clone();
        assert_eq!((t["title"].as_str(), t["description"].as_str()), (Some(want.0), want.1));
        assert_eq!(t["github"]["sync_conflict_status"], "resolved");

        // The next sync of that issue, by webhook and by a reconcile run, raises nothing again.
        assert_eq!(s.deliver("edited", edited).await.status, 200);
        let run = s.sync_now(&project).await;
        assert_eq!(run["status"], "success", "{run}");
        assert_eq!(run["conflicts_detected"], 0);
        let pending =
            ok(s.api(Method::GET, &format!("/api/projects/{project}/conflicts?status=pending"), None).await);
        assert!(pending["items"].as_array().unwrap().is_empty());
        let tasks = ok(s.api(Method::GET, &format!("/api/projects/{project}/tasks"), None).await);
        let t = tasks["items"].as_array().unwrap().iter().find(|t| t["id"] == task_id).unwrap().clone();
        assert_eq!((t["title"].as_str(), t["description"].as_str()), (Some(want.0), want.1));
    }
    let resolved =
        ok(s.api(Method::GET, &format!("/api/projects/{project}/conflicts?status=resolved"), None).await);
    assert_eq!(resolved["items"].as_array().unwrap().len(), 3);
    let history = ok(s.api(Method::GET, &format!("/api/projects/{project}/sync-history"), None).await);
    assert_eq!(history["last_100_syncs"].as_array().unwrap().len(), 3);
    assert_eq!(history["success_rate"], 100.0);
}

/// Starts `ghsync serve` on its defaults in `dir` (no secrets given) and returns it with what
/// it printed before listening.
async fn serve_on_defaults(dir: &std::path::Path) -> (tokio::process::Child, Vec<String>) {
    let (child, _, printed) = spawn_serve(dir, &[("RUST_LOG", "error")]).await;
    (child, printed)
}

/// Starts `ghsync serve` in `dir` with only `env` (and a free loopback port); returns it, its
/// URL and what it printed before listening.
async fn spawn_serve(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String, Vec<String>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ghsync"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("GHSYNC_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    loop {
        let line = lines.next_line().await.unwrap().expect("ghsync serve exited before listening");
        if let Some(url) = line.strip_prefix("ghsync listening on ") {
            return (child, url.to_string(), printed);
        }
        printed.push(line);
    }
}

#[tokio::test]
async fn generated_secrets_are_printed_once_and_every_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = testkit::temp_dir("ghsync-defaults");
    let (mut first, printed) = serve_on_defaults(&dir).await;
    let secret = std::fs::read_to_string(dir.join("ghsync.webhook-secret")).unwrap();
    let token = std::fs::read_to_string(dir.join("ghsync.api-token")).unwrap();
    let text = printed.join("\n");
    assert!(text.contains(secret.trim()) && text.contains(token.trim()), "printed when generated: {text}");
    for file in [
        "ghsync.db",
        "ghsync.db-wal",
        "ghsync.db-shm",
        "ghsync.webhook-secret",
        "ghsync.api-token",
        "ghsync.key",
    ] {
        let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    first.kill().await.unwrap();
    first.wait().await.unwrap();

    // A later start says where they are kept, and prints neither.
    std::fs::set_permissions(dir.join("ghsync.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (mut again, printed) = serve_on_defaults(&dir).await;
    let text = printed.join("\n");
    assert!(text.contains("kept in"), "{text}");
    assert!(!text.contains(secret.trim()) && !text.contains(token.trim()), "printed again: {text}");
    let mode = std::fs::metadata(dir.join("ghsync.db")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a widened database is narrowed again");
    again.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
