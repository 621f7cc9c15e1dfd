//! The `ghsync` binary as an operator uses it, against a GitHub-speaking server.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use testkit::github::FakeGitHub;
use tokio::io::AsyncWriteExt;

const PAT: &str = "ghp_cliTokenForWidgets00001";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

struct Env {
    dir: PathBuf,
    github: FakeGitHub,
}

impl Env {
    async fn new() -> Self {
        let dir = testkit::temp_dir("ghsync-cli");
        let github = FakeGitHub::start().await;
        github.add_repo("acme/widgets", PAT);
        Self { dir, github }
    }

    async fn ghsync(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ghsync"))
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("GITHUB_API_URL", &self.github.url)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        let run = Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!run.stdout.contains(PAT) && !run.stderr.contains(PAT), "the PAT was printed: {args:?}");
        run
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn json(run: &Run) -> Value {
    assert!(run.ok, "failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[tokio::test]
async fn an_operator_configures_a_project_from_the_command_line() {
    let env = Env::new().await;
    let project = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await);
    let id = project["id"].as_str().unwrap();

    let set = env
        .ghsync(
            &["config", "set", "--project", id, "--repo", "acme/widgets", "--interval", "120"],
            &format!("{PAT}\n"),
        )
        .await;
    let config = json(&set);
    assert_eq!(config["repo_name"], "widgets");
    assert_eq!(config["sync_interval_seconds"], 120);
    assert!(env.dir.join("ghsync.key").exists(), "a local master key was generated");
    assert!(set.stderr.contains("generated a local master key"), "with a warning: {}", set.stderr);

    let shown = json(&env.ghsync(&["config", "show", "--project", id], "").await);
    assert_eq!(shown["repo_owner"], "acme");
    assert_eq!(shown["sync_enabled"], true);

    // Empty input keeps the stored PAT.
    let kept = json(&env.ghsync(&["config", "set", "--project", id, "--repo", "acme/widgets"], "").await);
    assert_eq!(kept["sync_interval_seconds"], 120);

    let disabled = json(&env.ghsync(&["config", "disable", "--project", id], "").await);
    assert_eq!(disabled["sync_enabled"], false);
    let enabled = json(&env.ghsync(&["config", "enable", "--project", id], "").await);
    assert_eq!(enabled["sync_enabled"], true);
}

#[tokio::test]
async fn an_operator_retries_a_refused_push_and_answers_the_two_way_offer() {
    let env = Env::new().await;
    env.github.upsert(
        "acme/widgets",
        testkit::fixtures::issue("acme/widgets", 1, "First", Some("one"), "open", "2026-01-05T10:00:00Z"),
    );
    let project = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await);
    let id = project["id"].as_str().unwrap();
    let set = ["config", "set", "--project", id, "--repo", "acme/widgets"];
    json(&env.ghsync(&set, &format!("{PAT}\n")).await);
    json(&env.ghsync(&["reconcile", "--once", "--project", id], "").await);
    let tasks = json(&env.ghsync(&["tasks", "--project", id], "").await);
    let task = tasks[0]["id"].as_str().unwrap().to_string();
    // The board's column and filters: one page newest-updated first, a label in any case.
    let column =
        ["tasks", "--project", id, "--status", "todo", "--sort", "updated", "--label", "BUG", "--limit", "1"];
    let page = json(&env.ghsync(&column, "").await);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    // An empty filter keeps every task.
    let empty = json(&env.ghsync(&["tasks", "--project", id, "--q", "", "--label", ""], "").await);
    assert_eq!(empty, tasks);
    let none = json(&env.ghsync(&["tasks", "--project", id, "--assignee", "nobody"], "").await);
    assert_eq!(none, serde_json::json!([]));
    let refused = env.ghsync(&["tasks", "--project", id, "--sort", "newest"], "").await;
    assert!(!refused.ok && refused.stderr.contains("--sort"), "{}", refused.stderr);
    // An edit made while one-way: nothing to retry, and it is offered once two-way is on.
    let store_url = format!("sqlite://{}/ghsync.db?mode=rwc", env.dir.display());
    let store = ghsync_shared::Store::connect(&store_url, &Default::default()).await.unwrap();
    let patch =
        ghsync_shared::domain::TaskPatch { title: Some("Edited one-way".into()), ..Default::default() };
    store.update_task(task.parse().unwrap(), &patch).await.unwrap();
    let refused = env.ghsync(&["push", "retry", "--task", &task], "").await;
    assert!(!refused.ok && refused.stderr.contains("two-way sync is off"), "{}", refused.stderr);
    let two_way = [&set[..], &["--two-way", "true"]].concat();
    json(&env.ghsync(&two_way, "").await);
    assert_eq!(
        json(&env.ghsync(&["config", "offer", "--project", id], "").await),
        serde_json::json!({"tasks": 1, "comments": 0})
    );

    // Accepted, and the token may not write: refused, and retried once fixed.
    env.github.set_read_only(PAT);
    assert_eq!(json(&env.ghsync(&["config", "offer", "--project", id, "--accept"], "").await)["tasks"], 1);
    let pushed = json(&env.ghsync(&["push", "retry", "--task", &task], "").await);
    assert_eq!(pushed["pushed"], "refused", "{pushed}");
    assert!(pushed["message"].as_str().unwrap().contains("403"), "{pushed}");
    env.github.set_writable(PAT);
    let pushed = json(&env.ghsync(&["push", "retry", "--task", &task], "").await);
    assert_eq!(pushed, serde_json::json!({"pushed": "sent"}));
    assert_eq!(env.github.issue("acme/widgets", 1).unwrap()["title"], "Edited one-way");

    // Its labels from the command line: a label new to the repository is created, then added.
    let edit = ["task", "edit", "--task", &task, "--labels", "bug, triage", "--assignees", ""];
    let edited = json(&env.ghsync(&edit, "").await);
    assert_eq!(edited["pushed"], serde_json::json!({"pushed": "sent"}), "{edited}");
    let labels: Vec<&str> = edited["task"]["github"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["bug", "triage"]);
    assert!(env.github.repo_labels("acme/widgets").contains(&"triage".to_string()));
    let on_github = env.github.issue("acme/widgets", 1).unwrap();
    assert_eq!(on_github["labels"].as_array().unwrap().len(), 2, "{on_github}");
    let refused = env.ghsync(&["task", "edit", "--task", &task, "--milestone", "soon"], "").await;
    assert!(!refused.ok && refused.stderr.contains("--milestone"), "{}", refused.stderr);
    store.close().await;
}

#[tokio::test]
async fn an_operator_sets_the_github_app_and_a_config_works_through_it() {
    let env = Env::new().await;
    env.github.set_app(31337, testkit::github::app_public_key());
    env.github.add_installation(5, &["acme/widgets"], &[("issues", "read"), ("metadata", "read")]);
    let key_file = env.dir.join("app.pem");
    std::fs::write(&key_file, testkit::github::app_private_key()).unwrap();
    let secret = "the App's webhook secret";
    let key = key_file.to_str().unwrap();
    let set =
        env.ghsync(&["app", "set", "--app-id", "31337", "--key-file", key], &format!("{secret}\n")).await;
    assert_eq!(json(&set), serde_json::json!({"app_id": 31337, "configured": true, "warnings": []}));
    let id = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let args = ["config", "set", "--project", &id, "--repo", "acme/widgets", "--installation-id", "5"];
    let config = env.ghsync(&args, "").await;
    assert_eq!(json(&config)["token_permissions"]["source"], "app");
    let once = env.ghsync(&["reconcile", "--once", "--project", &id], "").await;
    assert!(once.ok, "{}", once.stderr);
    assert_eq!(env.github.tokens_minted(5), 2, "one token per process");

    // At debug level, no process printed the key, the secret, a JWT or a token.
    let private_key_line = testkit::github::app_private_key().lines().nth(1).unwrap();
    for run in [&set, &config, &once] {
        let printed = format!("{}{}", run.stdout, run.stderr);
        for shown in [private_key_line, secret, "ghs_", "eyJ"] {
            assert!(!printed.contains(shown), "{shown:?} was printed:\n{printed}");
        }
    }
    assert_eq!(json(&env.ghsync(&["app", "show"], "").await)["configured"], true);
    assert!(env.ghsync(&["app", "remove"], "").await.ok);
    assert_eq!(json(&env.ghsync(&["app", "show"], "").await)["configured"], false);
}

#[tokio::test]
async fn a_refused_pat_fails_with_a_clear_message() {
    let env = Env::new().await;
    let id = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = env.ghsync(&["config", "set", "--project", &id, "--repo", "acme/widgets"], "ghp_wrong\n").await;
    assert!(!run.ok);
    assert!(run.stderr.contains("GitHub refused the PAT for acme/widgets"), "{}", run.stderr);
    assert!(!run.stderr.contains("ghp_wrong"));
    let show = env.ghsync(&["config", "show", "--project", &id], "").await;
    assert!(!show.ok && show.stderr.contains("sync config not found"), "{}", show.stderr);
}

#[tokio::test]
async fn reconcile_once_prints_a_summary_and_project_forces_a_sync() {
    let env = Env::new().await;
    for n in 1..=3 {
        env.github.upsert(
            "acme/widgets",
            testkit::fixtures::issue("acme/widgets", n, "Hello", None, "open", "2026-01-05T10:00:00Z"),
        );
    }
    let id = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    json(&env.ghsync(&["config", "set", "--project", &id, "--repo", "acme/widgets"], PAT).await);

    let summary = json(&env.ghsync(&["reconcile", "--once"], "").await);
    assert_eq!(summary["configs"][0]["history"]["status"], "success");
    assert_eq!(summary["configs"][0]["history"]["tasks_created"], 3);
    let again = json(&env.ghsync(&["reconcile", "--once"], "").await);
    assert_eq!(again["configs"].as_array().unwrap().len(), 0, "nothing is due yet");

    let forced = json(&env.ghsync(&["reconcile", "--once", "--project", &id], "").await);
    assert_eq!(forced["history"]["status"], "success");
    assert_eq!(forced["not_modified"], true);
}

#[tokio::test]
async fn an_operator_lists_and_resolves_conflicts() {
    let env = Env::new().await;
    let id = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Two conflicts, made through the library on the same database file.
    let store = ghsync_shared::Store::connect(
        &format!("sqlite://{}/ghsync.db", env.dir.display()),
        &Default::default(),
    )
    .await
    .unwrap();
    let project: uuid::Uuid = id.parse().unwrap();
    for n in [1, 2] {
        store
            .apply_issue(project, &testkit::issue(n, "A", None, "open", "2026-01-05T10:00:00Z"))
            .await
            .unwrap();
    }
    for t in store.list_tasks(project).await.unwrap() {
        let patch = ghsync_shared::domain::TaskPatch { title: Some("Local".into()), ..Default::default() };
        store.update_task(t.task.id, &patch).await.unwrap();
    }
    for n in [1, 2] {
        store
            .apply_issue(project, &testkit::issue(n, "Remote", None, "open", "2026-01-05T11:00:00Z"))
            .await
            .unwrap();
    }
    store.close().await;

    let pending = json(&env.ghsync(&["conflicts", "--project", &id], "").await);
    let ids: Vec<String> =
        pending.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);
    let kept = json(&env.ghsync(&["resolve", &ids[0], "--keep-local"], "").await);
    assert_eq!(kept["resolution_action"], "keep_local");
    let merged = json(
        &env.ghsync(&["resolve", &ids[1], "--merge", "-"], r#"{"title": "Both", "description": "merged"}"#)
            .await,
    );
    assert_eq!(merged["merged_content"]["title"], "Both");
    let again = env.ghsync(&["resolve", &ids[1], "--accept-github"], "").await;
    assert!(!again.ok && again.stderr.contains("already resolved"), "{}", again.stderr);
    let none = env.ghsync(&["resolve", &ids[1]], "").await;
    assert!(!none.ok, "an action is required");
    assert!(json(&env.ghsync(&["conflicts", "--project", &id], "").await).as_array().unwrap().is_empty());
    assert_eq!(
        json(&env.ghsync(&["conflicts", "--project", &id, "--status", "all"], "").await)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let tasks = json(&env.ghsync(&["tasks", "--project", &id], "").await);
    let titles: Vec<&str> = tasks.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Local") && titles.contains(&"Both"), "{titles:?}");
    let history = json(&env.ghsync(&["history", "--project", &id], "").await);
    assert_eq!(history["last_100_syncs"].as_array().unwrap().len(), 0);
}

/// Runs `ghsync args` on a pseudo-terminal (Python's `pty`, as a person's shell would),
/// answers its PAT prompt with `answer`, and returns everything the terminal showed and
/// whether it succeeded.
async fn on_a_terminal(env: &Env, args: &[&str], answer: &str) -> (bool, String) {
    const DRIVER: &str = r#"
import json, os, pty, select, sys, termios
binary, answer, env, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execve(binary, [binary] + args, env)
shown = b""
def read(until):
    global shown
    while until not in shown:
        ready, _, _ = select.select([fd], [], [], 20)
        if not ready:
            raise SystemExit("no " + repr(until) + " on the terminal; it showed: " + repr(shown))
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        shown += chunk
read(b"GitHub token")
# The prompt is printed before echo is turned off: answer once it is off, as a person (who
# takes longer than that to type) would. Bounded, like every read here.
for _ in range(4000):
    if not termios.tcgetattr(fd)[3] & termios.ECHO:
        break
    select.select([], [], [], 0.005)
else:
    raise SystemExit("echo was never turned off")
os.write(fd, answer.encode() + b"\n")
read(b"\x00never")
_, status = os.waitpid(pid, 0)
print(json.dumps({"ok": os.waitstatus_to_exitcode(status) == 0, "shown": shown.decode(errors="replace")}))
"#;
    let vars = serde_json::json!({"GITHUB_API_URL": env.github.url, "RUST_LOG": "warn", "HOME": env.dir});
    let output = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(env!("CARGO_BIN_EXE_ghsync"))
        .arg(answer)
        .arg(vars.to_string())
        .args(args)
        .current_dir(&env.dir)
        .output()
        .await
        .expect("python3 runs the terminal driver");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    (result["ok"].as_bool().unwrap(), result["shown"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn on_a_terminal_config_set_asks_for_the_pat_without_echoing_it() {
    let env = Env::new().await;
    let project = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await);
    let id = project["id"].as_str().unwrap();
    let (ok, shown) =
        on_a_terminal(&env, &["config", "set", "--project", id, "--repo", "acme/widgets"], PAT).await;
    assert!(ok, "{shown}");
    assert!(shown.contains("GitHub token (input hidden"), "{shown}");
    assert!(!shown.contains(PAT), "the PAT was echoed: {shown}");
    let config = json(&env.ghsync(&["config", "show", "--project", id], "").await);
    assert_eq!(config["repo_name"], "widgets");
}

#[tokio::test]
async fn an_operator_reads_a_tasks_comments() {
    let env = Env::new().await;
    let repo = "acme/widgets";
    env.github.upsert(repo, testkit::fixtures::issue(repo, 1, "First", None, "open", "2026-01-05T10:00:00Z"));
    for (id, body, at) in [(11, "one", "2026-01-05T10:01:00Z"), (12, "two", "2026-01-05T10:02:00Z")] {
        env.github.upsert_comment(repo, testkit::fixtures::comment(repo, 1, id, body, "ana", at, at));
    }
    let project = json(&env.ghsync(&["project", "create", "--name", "Widgets"], "").await);
    let id = project["id"].as_str().unwrap();
    json(&env.ghsync(&["config", "set", "--project", id, "--repo", repo], &format!("{PAT}\n")).await);
    json(&env.ghsync(&["reconcile", "--once", "--project", id], "").await);
    let tasks = json(&env.ghsync(&["tasks", "--project", id], "").await);
    let task = tasks[0]["id"].as_str().unwrap();

    let all = json(&env.ghsync(&["comments", "--task", task], "").await);
    let bodies: Vec<&str> = all.as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(all[0]["github"]["author_login"], "ana");
    let page = json(&env.ghsync(&["comments", "--task", task, "--limit", "1"], "").await);
    assert_eq!(page["items"][0]["body"], "one");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = json(&env.ghsync(&["comments", "--task", task, "--limit", "1", "--cursor", cursor], "").await);
    assert_eq!((next["items"][0]["body"].clone(), next["next_cursor"].clone()), ("two".into(), Value::Null));
    let unknown = env.ghsync(&["comments", "--task", &uuid::Uuid::new_v4().to_string()], "").await;
    assert!(!unknown.ok && unknown.stderr.contains("not found"), "{}", unknown.stderr);
}
