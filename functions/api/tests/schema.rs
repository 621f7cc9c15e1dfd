//! The api function refuses to start on a database schema older than it needs, naming
//! the migration it lacks (migrations run once per deploy, not at cold start).

#[tokio::test]
async fn refuses_to_start_on_a_schema_behind_and_names_the_missing_migration() {
    testkit::schema::assert_refuses_to_start(
        env!("CARGO_BIN_EXE_ghsync-api"),
        &[("GHSYNC_LOCAL_KEY", &"ab".repeat(32)), ("GHSYNC_WEBHOOK_SECRET", "s"), ("GHSYNC_API_TOKEN", "t")],
    )
    .await;
}
