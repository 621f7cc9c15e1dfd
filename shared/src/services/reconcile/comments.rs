//! One config's comments, after its issues: the conditional probe, the repository-wide
//! listing page by page (each page a checkpoint of the comments' own watermark), the issues
//! its comments name that ghsync does not know yet read first, and a full pass's look-up of
//! the comments its listing did not show (docs/comments.md).

use std::collections::{HashMap, HashSet};

use url::Url;
use uuid::Uuid;

use crate::domain::{RemoteComment, RepoRef};
use crate::github::{CommentLookup, GhComment, GitHubError, Lookup, MalformedItem, PER_PAGE, Page};
use crate::services::Connection;
use crate::store::{Checkpoint, Claimed, CommentPage, NotBoard, Probe, UnseenComment};
use crate::sync::{self, CommentIssue};
use crate::time::Timestamp;

use super::pull::{Listing, Tally};
use super::{Limits, ReconcileError, Reconciler};

/// Where this run's listing of comments starts.
#[derive(Clone, Copy, Debug)]
pub(super) struct CommentsFrom {
    pub(super) since: Option<Timestamp>,
    /// The full pass whose issues are done, when one is in progress.
    pub(super) pass: Option<Timestamp>,
    /// That pass has listed every comment already: only look-ups are left.
    pub(super) pass_listed: bool,
}

/// What the comment phase of a run came to.
pub(super) enum CommentsPulled {
    /// The probe answered `304`.
    NotModified,
    Done,
    /// The deadline (or the budget) stopped it after its last checkpoint.
    Cut {
        resume_at: Option<Timestamp>,
    },
}

/// The URL of the listing's next page: from the time of the page's last comment (`since`,
/// which GitHub takes inclusively), so that a comment deleted from a page already read does
/// not shift one that follows out of sight, as an offset (`Link`'s `page=`) would. A page all
/// of one second cannot be stepped past that way: `Link` then.
fn next_page(github: &crate::github::GitHub, repo: &RepoRef, link: Url, times: &[Timestamp]) -> Url {
    match (times.first(), times.last()) {
        (Some(first), Some(last)) if last > first => github.comments_listing(repo, Some(*last)),
        _ => link,
    }
}

impl Reconciler {
    /// Whether the issue of a comment GitHub no longer finds is still there: read once, and
    /// when it is gone (deleted, or transferred away) its link is marked as the issue rules
    /// say (its task and thread stay).
    async fn issue_still_there(
        &self,
        c: &Claimed,
        conn: &Connection,
        unseen: &UnseenComment,
        tally: &mut Tally,
    ) -> Result<bool, ReconcileError> {
        let store = &self.services.store;
        let (github, pat) = (&conn.github, &conn.token);
        let repo = c.config.repo().map_err(|e| ReconcileError::Store(e.into()))?;
        let (disappearance, new) =
            match github.get_issue(&repo, unseen.issue_number, pat, &mut tally.requests).await? {
                Lookup::Found(_) => return Ok(true),
                Lookup::Gone => (crate::sync::Disappearance::Deleted, None),
                Lookup::Moved(moved) => crate::github::moved_to(moved, github.web_host(), &repo),
            };
        let outcome =
            store.apply_gone(c.config.project_id, &unseen.issue_node_id, disappearance, new.as_ref()).await?;
        sync::count_gone(&mut tally.counts, &[outcome]);
        Ok(false)
    }

    /// Lists the comments changed since the comments' watermark (everything, in a full
    /// pass), applying each page as a checkpoint; then, for a full pass, looks up what its
    /// listing did not show.
    pub(super) async fn pull_comments(
        &self,
        c: &Claimed,
        conn: &Connection,
        run_id: Uuid,
        tally: &mut Tally,
        limits: Limits,
        from: CommentsFrom,
    ) -> Result<CommentsPulled, ReconcileError> {
        let store = &self.services.store;
        let (github, pat) = (&conn.github, &conn.token);
        let project = c.config.project_id;
        let repo = c.config.repo().map_err(|e| ReconcileError::Store(e.into()))?;
        if let Some(pass) = from.pass
            && from.pass_listed
        {
            return self.look_up_unseen_comments(c, conn, pass, tally, limits).await;
        }
        if let Some(reset) = self.waits_for_budget(pat, limits) {
            return Ok(CommentsPulled::Cut { resume_at: Some(reset) });
        }
        if from.pass.is_none()
            && let Some(probe) = &c.comments_probe
            && let Ok(url) = Url::parse(&probe.url)
            && github.is_own_url(&url)
            && let Page::NotModified = github
                .list_page::<GhComment>(&repo, &url, pat, Some(&probe.etag), &mut tally.requests)
                .await?
        {
            return Ok(CommentsPulled::NotModified);
        }

        let since = from.since;
        let mut url = github.comments_listing(&repo, since);
        let mut listing = Listing::default();
        // The earliest comment any page held the watermark at (its issue not known).
        let mut held: Option<Timestamp> = None;
        // The watermark as this run last left it.
        let mut left = since;
        let (last_url, etag, len) = loop {
            let Page::Listed { items, next, etag } =
                github.list_page::<GhComment>(&repo, &url, pat, None, &mut tally.requests).await?
            else {
                return Err(
                    GitHubError::Malformed("304 for a request that was not conditional".into()).into()
                );
            };
            let listed = items.len();
            let mut comments = Vec::with_capacity(listed);
            let mut times = Vec::with_capacity(listed);
            for item in items {
                let comment = item.and_then(|item| {
                    let id = item.id;
                    item.into_remote(github.web_host(), &repo)
                        .map_err(|e| MalformedItem { number: Some(id), reason: e.to_string() })
                });
                match comment {
                    Ok(comment) => {
                        listing.saw(comment.id.to_string(), comment.updated_at);
                        times.push(comment.updated_at);
                        comments.push(comment);
                    }
                    Err(malformed) => tally.skip_comment(malformed),
                }
            }
            let comments = self.know_their_issues(c, conn, comments, tally).await?;
            let checkpoint =
                Checkpoint { claimed: c, run_id, watermark: None, pass: from.pass, list_page: true };
            let reach = Timestamp::earliest(listing.watermark(since, self.options.overlap), held);
            let page = CommentPage { comments: &comments, listed, reach, since, left };
            let applied = store.apply_comment_page(project, page, &checkpoint).await?;
            left = applied.watermark.or(left);
            held = Timestamp::earliest(held, applied.held);
            tally.counts.pages_fetched += 1;
            tally.counts.comments.fetched += listed as i64;
            sync::count_comments(&mut tally.counts.comments, &applied.outcomes);
            self.report_progress(c, tally, false);
            let Some(next) = next else {
                break (url, etag, listed);
            };
            let budget_reset = self.waits_for_budget(pat, limits);
            if limits.deadline.passed() || budget_reset.is_some() {
                store.comments_listed(c, None, false, left).await?;
                return Ok(CommentsPulled::Cut { resume_at: budget_reset });
            }
            url = next_page(github, &repo, next, &times);
        };
        let keep = sync::keeps_probe(etag.is_some(), len, PER_PAGE, listing.moved());
        let probe = etag.filter(|_| keep).map(|etag| Probe { url: last_url.to_string(), etag });
        store.comments_listed(c, probe.as_ref(), from.pass.is_some(), left).await?;
        match from.pass {
            Some(pass) => self.look_up_unseen_comments(c, conn, pass, tally, limits).await,
            None => Ok(CommentsPulled::Done),
        }
    }

    /// Makes sure ghsync knows the issue of every comment of a page before the page is
    /// applied: an issue it has not imported yet (changed after the issue listing ran) is
    /// read and imported, a pull request or an issue gone from the repository is remembered
    /// as not the board's. A comment whose issue GitHub shows malformed is left out (counted
    /// and named); the next full pass lists it again.
    async fn know_their_issues(
        &self,
        c: &Claimed,
        conn: &Connection,
        comments: Vec<RemoteComment>,
        tally: &mut Tally,
    ) -> Result<Vec<RemoteComment>, ReconcileError> {
        let store = &self.services.store;
        let (github, pat) = (&conn.github, &conn.token);
        let project = c.config.project_id;
        let repo = c.config.repo().map_err(|e| ReconcileError::Store(e.into()))?;
        let numbers: Vec<i64> = comments.iter().map(|c| c.issue_number).collect();
        let known = store.issues_of_comments(project, &numbers).await?;
        let mut unreadable = HashSet::new();
        let mut unknown: Vec<i64> =
            known.iter().filter(|(_, issue)| **issue == CommentIssue::Unknown).map(|(n, _)| *n).collect();
        unknown.sort_unstable();
        for &number in &unknown {
            match github.get_issue(&repo, number, pat, &mut tally.requests).await? {
                Lookup::Found(issue) if issue.pull_request.is_some() => {
                    store.note_not_board(project, number, NotBoard::PullRequest).await?;
                }
                Lookup::Found(issue) => match tally.snapshot(issue, github.web_host(), &repo) {
                    Some(snapshot) => tally.count(store.apply_page(project, &[snapshot]).await?),
                    None => {
                        unreadable.insert(number);
                    }
                },
                Lookup::Gone | Lookup::Moved(_) => {
                    store.note_not_board(project, number, NotBoard::Gone).await?
                }
            }
        }
        // An issue read and applied that is still not linked (its snapshot older than what the
        // project knows, or an identity retired by a transfer) would hold the watermark at
        // every run: its comments are left out instead, and the next full pass lists them.
        let read: Vec<i64> = unknown.iter().copied().filter(|n| !unreadable.contains(n)).collect();
        for (number, issue) in store.issues_of_comments(project, &read).await? {
            if issue == CommentIssue::Unknown {
                unreadable.insert(number);
            }
        }
        let (kept, left): (Vec<_>, Vec<_>) =
            comments.into_iter().partition(|comment| !unreadable.contains(&comment.issue_number));
        for comment in left {
            tally.skip_comment(MalformedItem {
                number: Some(comment.id),
                reason: format!("its issue #{} could not be imported", comment.issue_number),
            });
        }
        Ok(kept)
    }

    /// Looks up each comment of a live link that the full pass's listing did not show:
    /// GitHub's `404` means it was deleted while no delivery said so. Each answer is written
    /// at once, so a run cut here continues with the rest.
    async fn look_up_unseen_comments(
        &self,
        c: &Claimed,
        conn: &Connection,
        pass: Timestamp,
        tally: &mut Tally,
        limits: Limits,
    ) -> Result<CommentsPulled, ReconcileError> {
        let store = &self.services.store;
        let (github, pat) = (&conn.github, &conn.token);
        let project = c.config.project_id;
        let repo = c.config.repo().map_err(|e| ReconcileError::Store(e.into()))?;
        // What GitHub said of an issue whose comment was not found, once per issue.
        let mut issues: HashMap<i64, bool> = HashMap::new();
        for (i, unseen) in store.comments_unseen_by_pass(project, pass).await?.into_iter().enumerate() {
            if let Some(resume_at) = self.stops_before(i, pat, limits) {
                return Ok(CommentsPulled::Cut { resume_at });
            }
            let found = match github.get_comment(&repo, unseen.id, pat, &mut tally.requests).await? {
                CommentLookup::Found(comment) => match comment.into_remote(github.web_host(), &repo) {
                    Ok(comment) => Some(comment),
                    Err(e) => {
                        tally.skip_comment(MalformedItem { number: Some(unseen.id), reason: e.to_string() });
                        continue;
                    }
                },
                // Its issue was transferred: the issue rules deal with it, the thread stays.
                CommentLookup::Moved => continue,
                CommentLookup::Gone => {
                    // Deleted, or is its issue gone? Only a comment of an issue still there is
                    // a deleted comment: a gone issue keeps its task, and its task the thread.
                    let there = match issues.get(&unseen.issue_number) {
                        Some(there) => *there,
                        None => {
                            let there = self.issue_still_there(c, conn, &unseen, tally).await?;
                            issues.insert(unseen.issue_number, there);
                            there
                        }
                    };
                    if !there {
                        continue;
                    }
                    None
                }
            };
            let outcome = store.apply_comment_lookup(project, unseen.id, found.as_ref(), pass).await?;
            sync::count_comments(&mut tally.counts.comments, &[outcome]);
        }
        Ok(CommentsPulled::Done)
    }
}
