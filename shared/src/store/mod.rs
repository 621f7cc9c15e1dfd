//! The store: one query layer over SQLite and PostgreSQL.
//!
//! Every query goes through sqlx's `Any` driver with `$n` placeholders, so one SQL text runs on
//! both backends. Ids and timestamps are TEXT (see [`crate::time`]), flags and counts are
//! integers decoded as `i64`. The only per-backend text is how a transaction locks what it
//! reads (`locking!`): `FOR UPDATE` on PostgreSQL; on SQLite the transaction
//! itself takes the write lock up front (`BEGIN IMMEDIATE`).
//!
//! Every operation that writes more than one row runs in one transaction.

#[macro_use]
mod rows;
mod apply;
mod board_comments;
mod comment_push;
mod comment_rows;
mod comments;
mod configs;
mod conflicts;
mod deliveries;
mod elements;
mod facets;
mod fields;
mod github_app;
mod gone;
mod history;
mod outbox;
mod pace;
mod projects;
mod publish;
mod push;
mod reconcile;
mod tasks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use uuid::Uuid;

use crate::domain::ValidationError;

pub use crate::sync::ApplyOutcome;
pub use crate::sync::Backoff;
pub use crate::sync::GoneOutcome;
pub(crate) use apply::{Scope, apply_issue_in, apply_page_in};
pub use board_comments::{CommentResolution, DEFAULT_AUTHOR, comment_author, comment_body};
pub use comment_push::{CommentClaim, CommentEnd, CommentJob};
pub use comments::{CommentPage, CommentsApplied, IssueOfComment, NotBoard, UnseenComment};
pub(crate) use comments::{IssueKey, SeenComment, apply_comment_in, issue_of_comment_in, note_not_board_in};
pub use configs::{ConfigWrite, Credential, Saved, TokenChecked};
pub use deliveries::{DELIVERY_RETENTION, REREAD_WITHIN};
pub(crate) use deliveries::{
    Reread, enabled_projects_for_repo_in, followed_repo_in, record_delivery_in, reread_soon_in,
    tenant_project_in,
};
pub use fields::{ChoiceKind, SetsEdit};
pub use github_app::{InstallationScope, PauseCause, StoredApp};
pub(crate) use github_app::{
    installation_configs_in, installation_projects_in, pause_installation_in, resume_installation_in,
};
pub(crate) use gone::carry_out_gone_in;
pub use outbox::PUSH_LEASE;
pub(crate) use outbox::{earliest_push_in, end_entries_in, park_one_way_in, rearm_in};
pub use pace::account_of;
pub use push::{EntryKind, Finished, PushClaim, PushEnd, PushJob, PushLink, WriteStart};
pub use reconcile::{Claimed, HISTORY_KEEP, HISTORY_MAX_AGE, Probe, RunEnd};
pub use rows::PushConfig;
pub use tasks::TaskFilter;

/// A database transaction of the store.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// What a `SELECT` built at run time appends to lock the rows it reads until the
    /// transaction ends (the `locking!` macro does the same for literal SQL): `FOR UPDATE`
    /// on PostgreSQL; on SQLite the transaction already holds the write lock.
    pub(crate) fn row_lock(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// What can go wrong in the store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A value breaks a rule of the data model (HTTP 422).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such row (HTTP 404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The row is not in a state that allows the change (HTTP 409).
    #[error("{0}")]
    StateConflict(String),
    /// The row changed since the version the caller names (HTTP 412): nothing was written.
    #[error("{0}")]
    Changed(String),
    /// The database cannot be reached or did not answer in time (HTTP 503): nothing was written.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database failure (HTTP 500).
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A stored value does not parse: the database was changed behind the store's back.
    #[error("stored {what} is invalid: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Database(e),
        }
    }
}

/// PostgreSQL: connection exceptions (08…), credentials refused (28…: a rotated password;
/// see [`crate::secrets::Secrets::reread`]), shutting down (57P…), too many connections;
/// SQLite: busy (5) and locked (6) after the busy timeout.
fn is_unavailable_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        c.starts_with("08")
            || c.starts_with("28")
            || c.starts_with("57P")
            || c == "53300"
            || c == "5"
            || c == "6"
    })
}

impl StoreError {
    /// A race with another writer that a fresh attempt resolves: a unique key taken meanwhile
    /// (two creators of one issue's task), a serialization failure or a deadlock.
    pub fn is_transient_race(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                db.is_unique_violation() || matches!(db.code().as_deref(), Some("40001" | "40P01"))
            }
            _ => false,
        }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        StoreError::Corrupt { what, detail: detail.to_string() }
    }
}

/// How many times an operation that lost a race is run again.
pub(crate) const RACE_RETRIES: usize = 5;

/// An error that may be a lost race with another writer (see [`StoreError::is_transient_race`]).
pub trait MayBeRace {
    fn is_transient_race(&self) -> bool;
}

impl MayBeRace for StoreError {
    fn is_transient_race(&self) -> bool {
        StoreError::is_transient_race(self)
    }
}

/// Runs `attempt` (one whole transaction: begin, work, commit) and runs it again, up to
/// [`RACE_RETRIES`] times, when it lost a race with a concurrent writer. Every operation
/// that can race (a page of issues, a webhook delivery) goes through here.
pub async fn retry_races<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: MayBeRace,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Err(e) if e.is_transient_race() && retries < RACE_RETRIES => retries += 1,
            other => return other,
        }
    }
}

/// Pool settings; [`StoreOptions::default`] suits a local run.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Connections to PostgreSQL (SQLite always uses one: it admits one writer at a time, and
    /// one connection serialises writers in-process instead of busy-waiting on the file lock).
    pub max_connections: u32,
    /// How long an operation waits for a connection before answering "unavailable".
    pub acquire_timeout: Duration,
    /// What opening the store does with the schema.
    pub at_start: AtStart,
}

/// What a process does with the database schema when it opens the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AtStart {
    /// Applies the pending migrations (local runs, tests, the migration step of a deploy).
    #[default]
    Migrate,
    /// Only checks that every migration this build knows is applied, and refuses to start
    /// otherwise (deployed functions: migrations run once per deploy, and their database
    /// user needs no DDL rights).
    CheckSchema,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, acquire_timeout: Duration::from_secs(5), at_start: AtStart::Migrate }
    }
}

impl StoreOptions {
    /// A deployed function's pool: `max_connections` connections, schema checked only.
    pub fn deployed(max_connections: u32) -> Self {
        Self { max_connections, at_start: AtStart::CheckSchema, ..Self::default() }
    }
}

/// The database lacks a migration this build needs.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database schema is older than this build: migration {version} ({description}) is not applied; \
     run the migrations first (the stack's Migration step, or `ghsync migrate` with GHSYNC_DATABASE_URL)"
)]
pub struct SchemaBehind {
    pub version: i64,
    pub description: String,
}

/// A PostgreSQL connection idle this long is checked before it is used again.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);

/// The database, shared by every operation of a process.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Connects to `sqlite:…` or `postgres:…` (does not migrate; see [`Store::migrate`]).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(
                ValidationError::new("GHSYNC_DATABASE_URL", "must start with sqlite: or postgres:").into()
            );
        };
        let connect_options = AnyConnectOptions::from_str(url).map_err(StoreError::Unavailable)?;
        let pool_options =
            AnyPoolOptions::new().acquire_timeout(options.acquire_timeout).test_before_acquire(false);
        let pool = match backend {
            Backend::Sqlite => {
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                pool_options
                    .max_connections(1)
                    .min_connections(1)
                    // An in-memory database lives as long as its one connection.
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(move |conn, _meta| {
                        Box::pin(async move {
                            if !in_memory {
                                conn.execute("PRAGMA journal_mode = WAL").await?;
                            }
                            conn.execute(
                                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                                 PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(connect_options)
                    .await?
            }
            Backend::Postgres => {
                pool_options
                    .max_connections(options.max_connections)
                    // sqlx checks each connection as it comes back to the pool; one that has
                    // sat idle since (a frozen Lambda instance, a proxy's idle cut) is checked
                    // again before use. A busy one goes straight to work: one round trip less
                    // per delivery.
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= CHECK_AFTER_IDLE {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(connect_options)
                    .await?
            }
        };
        Ok(Self { pool, backend })
    }

    /// Applies the backend's pending migrations. Migrations newer than this build (a newer
    /// build ran before) are left alone: an older build still runs on the newer schema.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator =
            sqlx::migrate::Migrator::with_migrations(self.migrator().iter().cloned().collect());
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Database(sqlx::Error::Migrate(Box::new(other))),
        })
    }

    /// Connects from now on with `url` (a rotated password; the host and database stay).
    pub fn set_database_url(&self, url: &str) -> Result<(), StoreError> {
        let options = AnyConnectOptions::from_str(url).map_err(StoreError::Unavailable)?;
        self.pool.set_connect_options(options);
        Ok(())
    }

    /// The first migration this build knows that the database lacks, if any.
    pub async fn missing_migration(&self) -> Result<Option<SchemaBehind>, StoreError> {
        let applied: Vec<i64> = match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await
        {
            Ok(applied) => applied,
            // No migration table: nothing was ever applied.
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("42P01") || e.message().contains("no such table") =>
            {
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        Ok(self
            .migrator()
            .iter()
            .find(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| SchemaBehind { version: m.version, description: m.description.to_string() }))
    }

    /// The newest migration this build knows: the schema version it needs.
    pub fn schema_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the few callers that run their own statements (tests, the local runner).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once, so a
    /// transaction never fails half-way for want of upgrading a read lock.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Counts the rows of one of the store's tables (tests).
    #[cfg(any(test, feature = "testing"))]
    pub async fn count_rows(&self, table: Table) -> Result<i64, StoreError> {
        let sql = match table {
            Table::Projects => "SELECT COUNT(*) FROM projects",
            Table::Tasks => "SELECT COUNT(*) FROM tasks",
            Table::SyncConfigs => "SELECT COUNT(*) FROM github_sync_config",
            Table::Metadata => "SELECT COUNT(*) FROM task_github_metadata",
            Table::SyncHistory => "SELECT COUNT(*) FROM sync_history",
            Table::Conflicts => "SELECT COUNT(*) FROM conflict_resolution",
            Table::Deliveries => "SELECT COUNT(*) FROM webhook_deliveries",
            Table::Comments => "SELECT COUNT(*) FROM task_comments",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }
}

/// The store's tables, for `Store::count_rows` (tests).
#[cfg(any(test, feature = "testing"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Projects,
    Tasks,
    SyncConfigs,
    Metadata,
    SyncHistory,
    Conflicts,
    Deliveries,
    /// Comments, tombstones included.
    Comments,
}

#[cfg(any(test, feature = "testing"))]
impl Table {
    pub const ALL: [Table; 8] = [
        Table::Projects,
        Table::Tasks,
        Table::SyncConfigs,
        Table::Metadata,
        Table::SyncHistory,
        Table::Conflicts,
        Table::Deliveries,
        Table::Comments,
    ];
}

/// A new row id: a time-ordered UUID (v7), so a bulk import appends to the primary-key
/// indexes instead of scattering writes over them.
pub(crate) fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// Where a run stands after a page: written in the page's transaction, so a run cut at
/// any point continues from its last applied page.
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint<'a> {
    pub claimed: &'a Claimed,
    /// The run's history row: its counts grow with each page (a running sync's progress).
    pub run_id: Uuid,
    /// The listing's new `since` (`None` keeps the stored one).
    pub watermark: Option<crate::time::Timestamp>,
    /// The full pass in progress: the page's issues are marked as seen by it.
    pub pass: Option<crate::time::Timestamp>,
    /// Whether this is a list page (counted in `pages_fetched`) or a single look-up.
    pub list_page: bool,
}

/// Whether a write guarded by the run's lease token found its config: when not, the claim
/// was taken over (the lease expired) and the run must stop writing.
pub(crate) fn claim_held(rows_affected: u64) -> Result<(), StoreError> {
    if rows_affected == 0 {
        return Err(StoreError::StateConflict(
            "the run's claim on the config expired; another run took it".into(),
        ));
    }
    Ok(())
}
