//! One local reconcile tick over many unchanged configs at GitHub-like latency, as
//! `ghsync serve` runs it (SQLite file, local keys):
//! `bench-ticks --configs 2000 --latency-ms 150 --concurrency 16`.
//! Prints one JSON line: the tick's duration and GitHub requests per config.

use std::time::{Duration, Instant};

use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::time::Timestamp;
use ghsync_shared::{Store, StoreOptions};
use testkit::arg;
use testkit::github::FakeGitHub;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let configs: usize = arg(&args, "--configs", "2000").parse().expect("--configs");
    let latency = Duration::from_millis(arg(&args, "--latency-ms", "150").parse().expect("--latency-ms"));
    let concurrency: usize = arg(&args, "--concurrency", "16").parse().expect("--concurrency");
    let token = "ghp_benchTicksToken00000001";

    let dir = std::env::temp_dir().join(format!("ghsync-bench-ticks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("ghsync.db").display());
    let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"31".repeat(32)).unwrap());
    let gh = FakeGitHub::start().await;
    for i in 0..configs {
        let repo = format!("acme/repo{i}");
        gh.add_repo(&repo, token);
        for n in 1..=3 {
            gh.upsert(
                &repo,
                testkit::fixtures::issue(&repo, n, "An issue", None, "open", "2026-01-05T10:00:00Z"),
            );
        }
        testkit::project_with_pat(&store, &repo, &keys, token).await;
    }
    let github = GitHub::new(&gh.url, Duration::from_secs(10)).unwrap();
    let options = ReconcileOptions { concurrency, ..ReconcileOptions::default() };
    let reconciler = Reconciler::new(Services::new(store.clone(), keys, github), options);
    // The first tick imports every repository (no latency: set-up, not measured).
    let first = reconciler.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(first.configs.len(), configs);

    // Then every config is due again, nothing changed on GitHub, and GitHub is slow.
    sqlx::query("UPDATE github_sync_config SET next_sync_at = $1")
        .bind(Timestamp::now().to_sql())
        .execute(store.pool())
        .await
        .unwrap();
    gh.clear_requests();
    gh.set_latency(latency);
    let started = Instant::now();
    let tick = reconciler.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();

    let requests = gh.requests().len();
    let not_modified = tick.configs.iter().filter(|c| c.not_modified).count();
    println!(
        "{}",
        serde_json::json!({
            "configs": configs,
            "latency_ms": latency.as_millis() as u64,
            "concurrency": concurrency,
            "tick_seconds": (seconds * 100.0).round() / 100.0,
            "configs_synced": tick.configs.len(),
            "answered_304": not_modified,
            "requests": requests,
            "requests_per_config": requests as f64 / configs as f64,
        })
    );
    store.close().await;
    std::fs::remove_dir_all(dir).ok();
}
