//! GitHub-shaped JSON: issues as the REST API and webhooks show them, and webhook payloads,
//! following the shapes of GitHub's documentation (fields ghsync ignores included, so that
//! sizes and parsing are realistic).

use serde_json::{Value, json};

/// A GitHub user object.
pub fn user(login: &str, id: i64) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("https://api.github.com/users/{login}"),
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("https://api.github.com/users/{login}/followers"),
        "following_url": format!("https://api.github.com/users/{login}/following{{/other_user}}"),
        "gists_url": format!("https://api.github.com/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("https://api.github.com/users/{login}/subscriptions"),
        "organizations_url": format!("https://api.github.com/users/{login}/orgs"),
        "repos_url": format!("https://api.github.com/users/{login}/repos"),
        "events_url": format!("https://api.github.com/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("https://api.github.com/users/{login}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false
    })
}

/// The node id the fixtures give issue `number` of `repo`.
pub fn node_id(repo: &str, number: i64) -> String {
    let tag: String = repo.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("I_kwDO{tag}{number:06}")
}

/// An issue object. `state` is `open`, `completed` or `not_planned` (the last two closed).
pub fn issue(
    repo: &str,
    number: i64,
    title: &str,
    body: Option<&str>,
    state: &str,
    updated_at: &str,
) -> Value {
    let api = format!("https://api.github.com/repos/{repo}/issues/{number}");
    let (gh_state, reason, closed_at) = match state {
        "open" => ("open", Value::Null, Value::Null),
        "reopened" => ("open", json!("reopened"), Value::Null),
        "completed" | "not_planned" | "duplicate" => ("closed", json!(state), json!(updated_at)),
        other => panic!("unknown state {other}"),
    };
    json!({
        "url": api,
        "repository_url": format!("https://api.github.com/repos/{repo}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("https://github.com/{repo}/issues/{number}"),
        "id": 1_000_000 + number,
        "node_id": node_id(repo, number),
        "number": number,
        "title": title,
        "user": user("octocat", 583231),
        "labels": [{
            "id": 208045946,
            "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
            "url": format!("https://api.github.com/repos/{repo}/labels/bug"),
            "name": "bug",
            "description": "Something isn't working",
            "color": "d73a4a",
            "default": true
        }],
        "state": gh_state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": 0,
        "created_at": "2026-01-01T09:00:00Z",
        "updated_at": updated_at,
        "closed_at": closed_at,
        "author_association": "MEMBER",
        "type": null,
        "active_lock_reason": null,
        "sub_issues_summary": { "total": 0, "completed": 0, "percent_completed": 0 },
        "body": body,
        "closed_by": null,
        "reactions": {
            "url": format!("{api}/reactions"),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        },
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": reason
    })
}

/// The same as [`issue`], shaped as the pull request the issues API also lists.
pub fn pull_request_issue(repo: &str, number: i64, title: &str, updated_at: &str) -> Value {
    let mut pr = issue(repo, number, title, Some("A change"), "open", updated_at);
    pr["node_id"] = json!(format!("PR_kwDO{number:06}"));
    pr["html_url"] = json!(format!("https://github.com/{repo}/pull/{number}"));
    pr["pull_request"] = json!({
        "url": format!("https://api.github.com/repos/{repo}/pulls/{number}"),
        "html_url": format!("https://github.com/{repo}/pull/{number}"),
        "diff_url": format!("https://github.com/{repo}/pull/{number}.diff"),
        "patch_url": format!("https://github.com/{repo}/pull/{number}.patch"),
        "merged_at": null
    });
    pr
}

/// An issue comment as the REST API and `issue_comment` deliveries show it: comment `id` of
/// issue `number` of `repo` (`pull`: a pull request's, whose page is `/pull/{n}`).
pub fn comment(
    repo: &str,
    number: i64,
    id: i64,
    body: &str,
    login: &str,
    created_at: &str,
    updated_at: &str,
) -> Value {
    let api = format!("https://api.github.com/repos/{repo}/issues/comments/{id}");
    json!({
        "url": api,
        "html_url": format!("https://github.com/{repo}/issues/{number}#issuecomment-{id}"),
        "issue_url": format!("https://api.github.com/repos/{repo}/issues/{number}"),
        "id": id,
        "node_id": format!("IC_kwDO{id:08}"),
        "user": user(login, 4_000 + login.len() as i64),
        "created_at": created_at,
        "updated_at": updated_at,
        "author_association": "CONTRIBUTOR",
        "body": body,
        "reactions": {
            "url": format!("{api}/reactions"),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        },
        "performed_via_github_app": null
    })
}

/// The same as [`comment`], on a pull request's conversation.
pub fn pull_request_comment(repo: &str, number: i64, id: i64, body: &str, updated_at: &str) -> Value {
    let mut c = comment(repo, number, id, body, "reviewer", updated_at, updated_at);
    c["html_url"] = json!(format!("https://github.com/{repo}/pull/{number}#issuecomment-{id}"));
    c
}

/// A repository object as webhooks carry it.
pub fn repository(full_name: &str) -> Value {
    let (owner, name) = full_name.split_once('/').expect("owner/name");
    json!({
        "id": 1296269,
        "node_id": "R_kgDOABCDEF",
        "name": name,
        "full_name": full_name,
        "private": false,
        "owner": user(owner, 9919),
        "html_url": format!("https://github.com/{full_name}"),
        "description": "A repository whose issues feed the board",
        "fork": false,
        "url": format!("https://api.github.com/repos/{full_name}"),
        "issues_url": format!("https://api.github.com/repos/{full_name}/issues{{/number}}"),
        "created_at": "2011-01-26T19:01:12Z",
        "updated_at": "2026-01-05T10:00:00Z",
        "pushed_at": "2026-01-05T10:00:00Z",
        "homepage": null,
        "size": 108,
        "stargazers_count": 80,
        "watchers_count": 80,
        "language": "Rust",
        "has_issues": true,
        "has_projects": true,
        "forks_count": 9,
        "archived": false,
        "disabled": false,
        "open_issues_count": 5,
        "license": null,
        "topics": [],
        "visibility": "public",
        "forks": 9,
        "open_issues": 5,
        "watchers": 80,
        "default_branch": "main"
    })
}

/// An `issues` webhook payload. `extra` adds action-specific fields (`changes`, `label`, …).
pub fn issues_event(action: &str, issue: Value, repo: &str, extra: Value) -> Value {
    let mut payload = json!({
        "action": action,
        "issue": issue,
        "repository": repository(repo),
        "sender": user("octocat", 583231),
    });
    if let Value::Object(fields) = extra {
        for (k, v) in fields {
            payload[k] = v;
        }
    }
    payload
}

/// A `ping` payload, sent when a hook is created.
pub fn ping_event(repo: &str) -> Value {
    json!({
        "zen": "Keep it logically awesome.",
        "hook_id": 109948940,
        "hook": {
            "type": "Repository",
            "id": 109948940,
            "name": "web",
            "active": true,
            "events": ["issues"],
            "config": { "content_type": "json", "insecure_ssl": "0", "url": "https://example.com/webhooks/github" }
        },
        "repository": repository(repo),
        "sender": user("octocat", 583231)
    })
}

/// A `pull_request` webhook payload (an event ghsync ignores).
pub fn pull_request_event(repo: &str, number: i64) -> Value {
    json!({
        "action": "opened",
        "number": number,
        "pull_request": pull_request_issue(repo, number, "Add a feature", "2026-01-05T10:00:00Z"),
        "repository": repository(repo),
        "sender": user("octocat", 583231)
    })
}

/// An `issues` `opened` delivery body of a realistic size (~11 KB: a few kilobytes of
/// Markdown in the issue body plus GitHub's user and repository objects), for benchmarks.
pub fn realistic_opened_delivery(repo: &str, number: i64) -> String {
    let paragraph = "Steps to reproduce: open the board, drag a card to *In review*, reload. \
                     Expected: the card stays. Actual: it jumps back to *To do* and the sync log \
                     shows a conflict. Browser: Firefox 121 on Linux. ";
    let body_text = paragraph.repeat(34);
    let issue = issue(
        repo,
        number,
        &format!("Card jumps back after reload #{number}"),
        Some(&body_text),
        "open",
        "2026-01-05T10:00:00Z",
    );
    issues_event("opened", issue, repo, json!({})).to_string()
}

/// An `issues` `edited` delivery body for issue `number` of `repo` in its `version`-th form
/// (title "Issue N vV"; later versions are later on GitHub), for tests that send many.
pub fn versioned_edit(repo: &str, number: i64, version: usize) -> String {
    let t = format!("2026-01-05T10:{version:02}:{:02}Z", number % 60);
    let issue = issue(repo, number, &format!("Issue {number} v{version}"), None, "open", &t);
    issues_event("edited", issue, repo, json!({})).to_string()
}

/// A delivery signed with a secret, owning what a [`Delivery`] borrows (tests and benches
/// that hand the handler many deliveries).
pub struct Signed {
    event: &'static str,
    id: String,
    body: String,
    signature: String,
}

impl Signed {
    pub fn new(event: &'static str, id: impl Into<String>, body: impl Into<String>, secret: &str) -> Self {
        let body = body.into();
        let signature = ghsync_shared::webhook::sign(secret, body.as_bytes());
        Self { event, id: id.into(), body, signature }
    }

    /// The delivery as the receiver takes it, on the deployment-wide route.
    pub fn delivery(&self) -> ghsync_shared::webhook::Delivery<'_> {
        ghsync_shared::webhook::Delivery {
            event: Some(self.event),
            delivery_id: Some(&self.id),
            signature_256: Some(&self.signature),
            signature_sha1: None,
            body: self.body.as_bytes(),
            tenant: None,
            app: false,
        }
    }
}
