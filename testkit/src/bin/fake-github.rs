//! The GitHub-speaking test server as a process, for benchmarks and local trials:
//! `fake-github --port 7100 --repo acme/big --token T --issues 10000 --prs 100
//! [--comments 50000] [--latency-ms 300] [--extra-repo acme/huge --extra-issues 5000]` (every
//! request answered after that long, as real GitHub; the comments spread over the issues; the
//! extra repository, with the same token, holds only open issues).
//! Prints `listening on http://…` and serves until killed.

use std::net::SocketAddr;

use testkit::arg;
use testkit::fixtures::{comment, issue, pull_request_issue};
use testkit::github::FakeGitHub;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port", "7100").parse().expect("--port");
    let repo = arg(&args, "--repo", "acme/big");
    let token = arg(&args, "--token", "bench-token");
    let issues: i64 = arg(&args, "--issues", "10000").parse().expect("--issues");
    let prs: i64 = arg(&args, "--prs", "100").parse().expect("--prs");
    let comments: i64 = arg(&args, "--comments", "0").parse().expect("--comments");
    let latency_ms: u64 = arg(&args, "--latency-ms", "0").parse().expect("--latency-ms");
    let gh = FakeGitHub::start_on(SocketAddr::from(([127, 0, 0, 1], port))).await;
    gh.add_repo(&repo, &token);
    let body = "Steps to reproduce, expected and actual behaviour, and the environment. ".repeat(6);
    for n in 1..=issues + prs {
        let t = chrono_like_time(n);
        if n <= issues {
            gh.upsert(&repo, issue(&repo, n, &format!("Issue number {n}"), Some(&body), "open", &t));
        } else {
            gh.upsert(&repo, pull_request_issue(&repo, n, &format!("Pull request {n}"), &t));
        }
    }
    if comments > 0 && issues > 0 {
        let text = "I can reproduce this on the latest release; the log shows the same error. ".repeat(3);
        let seeded = (1..=comments)
            .map(|id| {
                let t = chrono_like_time(id * issues / comments);
                comment(&repo, 1 + id % issues, id, &text, "reviewer", &t, &t)
            })
            .collect();
        gh.seed_comments(&repo, seeded);
    }
    let extra_repo = arg(&args, "--extra-repo", "");
    let extra_issues: i64 = arg(&args, "--extra-issues", "0").parse().expect("--extra-issues");
    if !extra_repo.is_empty() {
        gh.add_repo(&extra_repo, &token);
        for n in 1..=extra_issues {
            gh.upsert(
                &extra_repo,
                issue(&extra_repo, n, &format!("Issue number {n}"), None, "open", &chrono_like_time(n)),
            );
        }
    }
    gh.set_latency(std::time::Duration::from_millis(latency_ms));
    println!("listening on {} ({issues} issues, {prs} pull requests, {comments} comments in {repo})", gh.url);
    std::future::pending::<()>().await;
}

/// `2026-01-01T00:00:00Z` plus `n` seconds.
fn chrono_like_time(n: i64) -> String {
    let days = n / 86_400;
    let rem = n % 86_400;
    format!("2026-01-{:02}T{:02}:{:02}:{:02}Z", 1 + days, rem / 3600, rem % 3600 / 60, rem % 60)
}
