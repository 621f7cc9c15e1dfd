//! Labels and assignees on GitHub (docs/fields.md): the element writes of a push (the labels
//! added in one request, each removed label in its own, the assignees added and removed),
//! a label created before it is first used, and the repository's labels and assignable
//! users listed with their ETags.

use super::*;

/// A list of what a repository offers, conditionally read.
#[derive(Debug)]
pub enum Choices<T> {
    /// `304`: as it was when its ETag was taken.
    NotModified,
    /// Every page of it; the ETag only when it fit on one page (a later page's change would
    /// not change the first page's ETag).
    Listed { items: Vec<T>, etag: Option<String> },
}

impl<T> Choices<T> {
    /// The same listing with each item turned by `f`.
    fn map<U>(self, f: impl FnMut(T) -> U) -> Choices<U> {
        match self {
            Choices::NotModified => Choices::NotModified,
            Choices::Listed { items, etag } => {
                Choices::Listed { items: items.into_iter().map(f).collect(), etag }
            }
        }
    }
}

impl<T: Serialize> Choices<T> {
    /// A listing as the store keeps it: its items as JSON with its ETag (`None`: unchanged).
    pub fn json(self) -> Option<(String, Option<String>)> {
        match self {
            Choices::NotModified => None,
            Choices::Listed { items, etag } => {
                Some((serde_json::to_string(&items).expect("choices serialise"), etag))
            }
        }
    }
}

/// The most pages of a repository's labels or assignees read (10,000 of them).
const MAX_CHOICE_PAGES: usize = 100;

/// A label of a repository, as the list shows it.
#[derive(Debug, Deserialize)]
struct RepoLabel {
    name: String,
    #[serde(default)]
    color: Option<String>,
}

impl GitHub {
    /// Adds `names` to issue `number` (`POST …/issues/{n}/labels`, all at once; GitHub keeps
    /// those it had). Answers the issue's labels as they now are, by name.
    pub async fn add_labels(
        &self,
        repo: &RepoRef,
        number: i64,
        names: &[String],
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<Vec<String>, GitHubError> {
        let url = self.repo_url(repo, &["issues", &number.to_string(), "labels"]);
        let body = serde_json::json!({ "labels": names });
        let r = self.send(Method::POST, &url, pat, None, Some(&body), requests).await?;
        expect_success(&r)?;
        let labels: Vec<GhLabel> = r.json()?;
        Ok(labels.into_iter().map(|l| l.name).collect())
    }

    /// Removes label `name` from issue `number` (`DELETE …/issues/{n}/labels/{name}`). A 404
    /// means the label is not on the issue (any more): what was asked holds.
    pub async fn remove_label(
        &self,
        repo: &RepoRef,
        number: i64,
        name: &str,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["issues", &number.to_string(), "labels", name]);
        let r = self.send(Method::DELETE, &url, pat, None, None, requests).await?;
        match r.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(()),
            _ => expect_success(&r),
        }
    }

    /// Adds (`POST`) or removes (`DELETE`) `logins` as assignees of issue `number`
    /// (`…/issues/{n}/assignees`). Answers the issue as it now is: GitHub leaves out, without
    /// an error, a login it cannot assign.
    pub async fn change_assignees(
        &self,
        repo: &RepoRef,
        number: i64,
        add: bool,
        logins: &[String],
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<GhIssue, GitHubError> {
        let url = self.repo_url(repo, &["issues", &number.to_string(), "assignees"]);
        let body = serde_json::json!({ "assignees": logins });
        let method = if add { Method::POST } else { Method::DELETE };
        let r = self.send(method, &url, pat, None, Some(&body), requests).await?;
        expect_success(&r)?;
        r.json()
    }

    /// Creates label `name` in `repo` (`POST /repos/{o}/{r}/labels`). A 422 saying it exists
    /// already (someone made it meanwhile, or it differs only in case) is what was wanted.
    pub async fn create_label(
        &self,
        repo: &RepoRef,
        name: &str,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["labels"]);
        let body = serde_json::json!({ "name": name });
        let r = self.send(Method::POST, &url, pat, None, Some(&body), requests).await?;
        if r.status == StatusCode::UNPROCESSABLE_ENTITY && already_exists(&r.body) {
            return Ok(());
        }
        expect_success(&r)
    }

    /// The repository's labels (`GET /repos/{o}/{r}/labels`), with `etag` conditionally.
    pub async fn list_labels(
        &self,
        repo: &RepoRef,
        pat: &Secret,
        etag: Option<&str>,
        requests: &mut u32,
    ) -> Result<Choices<Label>, GitHubError> {
        let listed = self.list_choices::<RepoLabel>(repo, "labels", pat, etag, requests).await?;
        Ok(listed.map(|l| Label { name: l.name, color: l.color.unwrap_or_default() }))
    }

    /// The logins the repository can assign (`GET /repos/{o}/{r}/assignees`), with `etag`
    /// conditionally.
    pub async fn list_assignees(
        &self,
        repo: &RepoRef,
        pat: &Secret,
        etag: Option<&str>,
        requests: &mut u32,
    ) -> Result<Choices<String>, GitHubError> {
        let listed = self.list_choices::<GhUser>(repo, "assignees", pat, etag, requests).await?;
        Ok(listed.map(|u| u.login))
    }

    /// The repository's milestones, open and closed (`GET /repos/{o}/{r}/milestones?state=all`),
    /// with `etag` conditionally.
    pub async fn list_milestones(
        &self,
        repo: &RepoRef,
        pat: &Secret,
        etag: Option<&str>,
        requests: &mut u32,
    ) -> Result<Choices<crate::domain::Milestone>, GitHubError> {
        let listed = self.list_choices::<GhMilestone>(repo, "milestones", pat, etag, requests).await?;
        Ok(listed.map(|m| crate::domain::Milestone { number: m.number, title: m.title }))
    }

    async fn list_choices<T: serde::de::DeserializeOwned>(
        &self,
        repo: &RepoRef,
        what: &str,
        pat: &Secret,
        etag: Option<&str>,
        requests: &mut u32,
    ) -> Result<Choices<T>, GitHubError> {
        let mut url = self.repo_url(repo, &[what]);
        url.query_pairs_mut().append_pair("per_page", &PER_PAGE.to_string());
        if what == "milestones" {
            url.query_pairs_mut().append_pair("state", "all");
        }
        let mut items = Vec::new();
        let mut first_etag = None;
        for page in 0..MAX_CHOICE_PAGES {
            let r = self.get(&url, pat, if page == 0 { etag } else { None }, requests).await?;
            if r.status == StatusCode::NOT_MODIFIED {
                return Ok(Choices::NotModified);
            }
            expect_readable(&r, repo)?;
            items.extend(r.json::<Vec<T>>()?);
            match next_link(&r.headers) {
                Some(next) => {
                    let next = Url::parse(&next).map_err(|e| GitHubError::Malformed(format!("Link: {e}")))?;
                    if !self.is_own_url(&next) {
                        return Err(GitHubError::Malformed("a Link header points away from the API".into()));
                    }
                    url = next;
                }
                None => {
                    if page == 0 {
                        first_etag = r.header("etag").map(str::to_string);
                    }
                    break;
                }
            }
        }
        Ok(Choices::Listed { items, etag: first_etag })
    }
}

/// Whether a 422's body says the resource exists already (`errors[].code`).
fn already_exists(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).ok().is_some_and(|v| {
        v["errors"].as_array().is_some_and(|errors| errors.iter().any(|e| e["code"] == "already_exists"))
    })
}
