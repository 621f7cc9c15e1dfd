//! A deployed function against a database whose schema is behind: it must refuse to start
//! and name the migration it lacks.

use ghsync_shared::{Store, StoreOptions};

/// A fresh database of `backend` ("sqlite" or "postgres") with every migration but the last
/// applied, as an older build left it; returns its URL and what the function must name (`migration N (description)`).
pub async fn one_migration_behind(backend: &str) -> (String, String) {
    migrated_before(backend, i64::MAX).await
}

/// A fresh database of `backend` with the migrations before `version` applied (every one but
/// the last for `i64::MAX`); returns its URL and the first migration it lacks.
pub async fn migrated_before(backend: &str, version: i64) -> (String, String) {
    let url = match backend {
        "sqlite" => {
            format!("sqlite://{}?mode=rwc", crate::temp_dir("ghsync-schema").join("behind.db").display())
        }
        _ => crate::postgres_url().await,
    };
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("open the database");
    let every = match backend {
        "sqlite" => sqlx::migrate!("../migrations/sqlite"),
        _ => sqlx::migrate!("../migrations/postgres"),
    };
    let mut migrations = every.iter().cloned().collect::<Vec<_>>();
    if version != i64::MAX {
        migrations.retain(|m| m.version <= version);
    }
    let last = migrations.pop().expect("a migration");
    let (version, description) = (last.version, last.description.to_string());
    sqlx::migrate::Migrator::with_migrations(migrations)
        .run(store.pool())
        .await
        .expect("migrate all but the last");
    store.close().await;
    (url, format!("migration {version} ({description})"))
}

/// Runs a function's binary against a database one migration behind, on each backend, and
/// checks that it exits at once naming the missing migration. `env` adds what the function
/// needs besides its database (keys, secrets).
pub async fn assert_refuses_to_start(binary: &str, env: &[(&str, &str)]) {
    for backend in ["sqlite", "postgres"] {
        let (url, missing) = one_migration_behind(backend).await;
        let output = tokio::process::Command::new(binary)
            .env_clear()
            .env("GHSYNC_DATABASE_URL", &url)
            .env("RUST_LOG", "info")
            // Where a Lambda runtime API would be: the function must stop before using it.
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .envs(env.iter().copied())
            .output()
            .await
            .expect("run the function");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{backend}: {binary} started on a schema behind: {stderr}");
        assert!(
            stderr.contains(&missing) && stderr.contains("cannot start"),
            "{backend}: expected {missing:?} in: {stderr}"
        );
    }
}
