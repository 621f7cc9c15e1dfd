//! Test support shared by the workspace's test suites: a fresh, migrated store on each
//! backend, and a macro that runs one test body against both.
//!
//! PostgreSQL comes from `GHSYNC_TEST_POSTGRES_URL` (an admin URL of a server that the test
//! script starts); each test gets a database of its own.

pub mod events;
pub mod fixtures;
pub mod fuzz;
pub mod github;
pub mod http;
pub mod kms;
pub mod logs;
pub mod schema;
pub mod secrets;
pub mod two_way;

use ghsync_shared::domain::{Content, IssueState, RemoteIssue};
use ghsync_shared::store::Table;
use ghsync_shared::{Store, StoreOptions};
use sqlx::Connection;

/// The value after `name` among a tool's command-line `args`, else `default` (the bench and
/// stand-in binaries take a few `--name value` pairs).
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

/// A migrated in-memory SQLite store.
pub async fn sqlite() -> Store {
    let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    store
}

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("GHSYNC_TEST_POSTGRES_URL").expect(
        "GHSYNC_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts \
         a private PostgreSQL server, or point it at one (postgres://user@host:port/postgres)",
    )
}

/// A URL for a new, empty PostgreSQL database of its own.
pub async fn postgres_url() -> String {
    database_on(&postgres_admin_url()).await
}

/// A fresh, empty database on the server of `admin` (an admin URL); returns its URL.
pub async fn database_on(admin: &str) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    conn.close().await.ok();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.to_string(), String::new()),
    };
    let base = base.rsplit_once('/').map_or(base.as_str(), |(b, _)| b).to_string();
    format!("{base}/{name}{query}")
}

/// The PostgreSQL server the fault tests may stop: `GHSYNC_TEST_FAULT_PG_URL` (admin URL)
/// and `GHSYNC_TEST_FAULT_PG_CTL` (`… stop` / `… start`), both set by scripts/test.sh.
/// Only one test at a time may use it: each fault test has a test binary of its own.
pub struct StoppablePostgres {
    admin: String,
    ctl: String,
}

impl StoppablePostgres {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with scripts/test.sh, which starts a PostgreSQL server the fault tests may stop")
            })
        };
        Self { admin: var("GHSYNC_TEST_FAULT_PG_URL"), ctl: var("GHSYNC_TEST_FAULT_PG_CTL") }
    }

    /// A migrated store on a fresh database of this server.
    pub async fn store(&self, options: &StoreOptions) -> Store {
        let url = database_on(&self.admin).await;
        let store = Store::connect(&url, options).await.expect("open postgres");
        store.migrate().await.expect("migrate postgres");
        store
    }

    /// Stops the server at once (`pg_ctl stop -m fast`: sessions are cut, open transactions
    /// roll back); returns when it is down. It starts again when the guard is dropped (also
    /// when a test fails meanwhile), or at [`Stopped::start`].
    pub fn stop(&self) -> Stopped<'_> {
        self.ctl("stop");
        Stopped(Some(self))
    }

    fn ctl(&self, action: &str) {
        let status = std::process::Command::new(&self.ctl)
            .arg(action)
            .status()
            .expect("run the PostgreSQL control script");
        assert!(status.success(), "{} {action} failed: {status}", self.ctl);
    }
}

/// A migrated store on a fresh PostgreSQL database.
pub async fn postgres() -> Store {
    let url = postgres_url().await;
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    store
}

/// Runs each named `async fn(Store)` once on SQLite and once on PostgreSQL:
/// `both_backends!(redelivery_changes_nothing, ...)` makes `sqlite::…` and `postgres::…` tests.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::sqlite().await).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::postgres().await).await
                }
            )+
        }
    };
}

/// A remote issue snapshot of `acme/widgets`, as a test describes it.
pub fn issue(number: i64, title: &str, body: Option<&str>, state: &str, updated_at: &str) -> RemoteIssue {
    let (state, reason) = match state {
        "open" => ("open", None),
        "completed" => ("closed", Some("completed")),
        "not_planned" => ("closed", Some("not_planned")),
        other => panic!("unknown state {other}"),
    };
    RemoteIssue {
        node_id: format!("I_kwDOtest{number:06}"),
        number,
        html_url: format!("https://github.com/acme/widgets/issues/{number}"),
        content: Content::new(title, body.map(str::to_string)).expect("valid content"),
        state: IssueState::from_github(state, reason).expect("valid state"),
        updated_at: updated_at.parse().expect("RFC 3339 time"),
        extras: Default::default(),
        marker: None,
    }
}

/// Row counts of every table, to show that a refused operation wrote nothing.
pub async fn row_counts(store: &Store) -> Vec<(Table, i64)> {
    let mut counts = Vec::new();
    for table in Table::ALL {
        counts.push((table, store.count_rows(table).await.expect("count rows")));
    }
    counts
}

/// A new, empty folder of its own under the system's temporary folder, named `prefix-…`.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// A loopback address nothing listens on: the privileged discard port, which no test server
/// binds (they take ephemeral ports), so a connection is refused at once. (A port picked free
/// and released could be taken meanwhile by another test's server running in parallel.)
pub const UNREACHABLE: &str = "http://127.0.0.1:9";

/// A new project whose enabled sync config follows `repo` (`owner/name`), with
/// `encrypted_pat` stored as its PAT blob (tests that never decrypt pass any bytes).
pub async fn configured_project(store: &Store, repo: &str, encrypted_pat: Vec<u8>) -> uuid::Uuid {
    let project = store.create_project("Widgets").await.expect("create project").id;
    put_config(store, project, repo, encrypted_pat).await;
    project
}

/// A new project whose enabled sync config follows `repo` with `pat` sealed by `keys`
/// (for tests that reconcile, and so open the PAT).
pub async fn project_with_pat(
    store: &Store,
    repo: &str,
    keys: &ghsync_shared::crypto::KeyProvider,
    pat: &str,
) -> uuid::Uuid {
    let project = store.create_project("Widgets").await.expect("create project").id;
    let sealed = keys.seal(project, &ghsync_shared::crypto::Secret::new(pat)).await.expect("seal the PAT");
    put_config(store, project, repo, sealed).await;
    project
}

/// Saves `pat` again as the project's credential (sealed by `keys`), as a person fixing the
/// token does; the config keeps following `repo` (the store's write, as the API's after GitHub
/// accepted the token).
pub async fn save_pat(
    store: &Store,
    project: uuid::Uuid,
    repo: &str,
    keys: &ghsync_shared::crypto::KeyProvider,
    pat: &str,
) {
    let sealed = keys.seal(project, &ghsync_shared::crypto::Secret::new(pat)).await.expect("seal the PAT");
    let write = ghsync_shared::store::ConfigWrite {
        credential: Some(ghsync_shared::store::Credential::Pat(sealed)),
        ..write_for(repo)
    };
    store.put_config(project, &write).await.expect("save the PAT");
}

/// A config write for `repo` (`owner/name`) that keeps everything else as stored.
fn write_for(repo: &str) -> ghsync_shared::store::ConfigWrite {
    let (owner, name) = repo.split_once('/').expect("owner/name");
    ghsync_shared::store::ConfigWrite::new(
        ghsync_shared::domain::RepoOwner::parse(owner).expect("owner"),
        ghsync_shared::domain::RepoName::parse(name).expect("name"),
    )
}

/// Turns two-way sync of the project's config on or off (the store's write: no token check).
pub async fn set_two_way(store: &Store, project: uuid::Uuid, on: bool) {
    let config = store.get_config(project).await.expect("the project has a config");
    let repo = format!("{}/{}", config.repo_owner, config.repo_name);
    let write = ghsync_shared::store::ConfigWrite { two_way: Some(on), ..write_for(&repo) };
    store.put_config(project, &write).await.expect("set two-way");
}

/// Points the project's config at another repository (`owner/name`), keeping its PAT.
pub async fn switch_repo(store: &Store, project: uuid::Uuid, repo: &str) {
    store.put_config(project, &write_for(repo)).await.expect("switch the repository");
}

async fn put_config(store: &Store, project: uuid::Uuid, repo: &str, encrypted_pat: Vec<u8>) {
    let write = ghsync_shared::store::ConfigWrite {
        credential: Some(ghsync_shared::store::Credential::Pat(encrypted_pat)),
        sync_enabled: Some(true),
        ..write_for(repo)
    };
    store.put_config(project, &write).await.expect("put config");
}

/// A stopped [`StoppablePostgres`].
pub struct Stopped<'a>(Option<&'a StoppablePostgres>);

impl Stopped<'_> {
    /// Starts the server again; returns when it accepts connections.
    pub fn start(mut self) {
        if let Some(pg) = self.0.take() {
            pg.ctl("start");
        }
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if let Some(pg) = self.0.take() {
            pg.ctl("start");
        }
    }
}

/// The secret GitHub must sign deliveries to config `config_id`'s own URL with, in its
/// current generation, under the deployment's webhook `secret`.
pub async fn config_secret(store: &Store, secret: &str, config_id: uuid::Uuid) -> String {
    use secrecy::ExposeSecret;
    let (key, _) = store.tenant_key(config_id).await.expect("read the key").expect("a config");
    let secrets = ghsync_shared::config::WebhookSecrets::parse(secret).expect("a secret");
    secrets.for_config(config_id, &key).current().expose_secret().to_string()
}

/// Hands `payload` to `webhook::handle` as GitHub sends it to the deployment-wide URL: event
/// `event`, delivery id `id`, signed with the deployment secret `secret` (github.com).
pub async fn deliver(
    store: &Store,
    secret: &str,
    event: &str,
    id: &str,
    payload: &serde_json::Value,
) -> Result<ghsync_shared::webhook::Handled, ghsync_shared::webhook::WebhookError> {
    use ghsync_shared::webhook::{Delivery, WebhookConfig, handle, sign};
    let body = serde_json::to_vec(payload).expect("a JSON payload");
    let signature = sign(secret, &body);
    let delivery = Delivery {
        event: Some(event),
        delivery_id: Some(id),
        signature_256: Some(&signature),
        signature_sha1: None,
        body: &body,
        tenant: None,
        app: false,
    };
    let secrets = ghsync_shared::config::WebhookSecrets::parse(secret).expect("a webhook secret");
    handle(store, &WebhookConfig::github_com(Some(secrets)), delivery).await
}

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// What a webhook sender does to `deliveries`: a quarter dropped, a fifth of the rest sent
    /// twice, all in a shuffled order.
    pub fn chaotic<T: Clone>(&mut self, deliveries: impl IntoIterator<Item = T>) -> Vec<T> {
        let mut batch = Vec::new();
        for d in deliveries {
            if self.chance(25) {
                continue;
            }
            if self.chance(20) {
                batch.push(d.clone());
            }
            batch.push(d);
        }
        for i in (1..batch.len()).rev() {
            batch.swap(i, self.below(i as u64 + 1) as usize);
        }
        batch
    }
}

/// How many random histories a property test runs: `GHSYNC_CONVERGENCE_CASES`, default 12.
pub fn cases() -> u64 {
    std::env::var("GHSYNC_CONVERGENCE_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12)
}
