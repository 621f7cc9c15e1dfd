//! The webhook fuzz target's input format, shared by the fuzzer (`fuzz/`) and the regression
//! test that replays its corpus (`shared/tests/fuzz_corpus.rs`).
//!
//! Byte 0 picks `X-GitHub-Event`, byte 1 the signature and route (bit 0: signed with the
//! secret, bit 1: a SHA-1-only header, bit 2: no delivery id, bit 3: on the config's own URL
//! `/webhooks/github/{config_id}`, signed with its derived secret; bit 4 with bit 3: signed
//! with the deployment secret instead, which must not verify there), byte 2 the delivery id
//! (few ids, so redeliveries happen); the rest is the body.

use ghsync_shared::Store;
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::webhook::{Delivery, Handled, WebhookConfig, WebhookError, handle, sign};

/// The secret fuzzed deliveries are signed with.
pub const SECRET: &str = "fuzz-secret";
const EVENTS: [&str; 5] = ["issues", "ping", "pull_request", "issue_comment", ""];

/// Runs one input through the webhook entry. Never panics on its own account: any panic is
/// a finding.
pub async fn run_one(store: &Store, data: &[u8]) -> Result<Handled, WebhookError> {
    let (event, flags, id, body) = match data {
        [e, f, i, rest @ ..] => (EVENTS[*e as usize % EVENTS.len()], *f, *i, rest),
        _ => ("issues", 1, 0, data),
    };
    let secrets = WebhookSecrets::parse(SECRET).expect("a secret");
    let tenant = (flags & 8 == 8).then_some(CONFIG_ID);
    let key = match tenant {
        Some(config_id) if flags & 16 == 0 => {
            use secrecy::ExposeSecret;
            secrets
                .for_config(config_id, &ghsync_shared::domain::TenantKey::FIRST)
                .current()
                .expose_secret()
                .to_string()
        }
        _ => SECRET.to_string(),
    };
    let signature = if flags & 1 == 1 {
        sign(&key, body)
    } else {
        String::from_utf8_lossy(&data[..data.len().min(71)]).into_owned()
    };
    let id = format!("fuzz-{id}");
    let delivery = Delivery {
        event: Some(event).filter(|e| !e.is_empty()),
        delivery_id: (flags & 4 == 0).then_some(id.as_str()),
        signature_256: (flags & 2 == 0).then_some(signature.as_str()),
        signature_sha1: (flags & 2 == 2).then_some("sha1=0000000000000000000000000000000000000000"),
        body,
        tenant,
        app: false,
    };
    let result = handle(store, &WebhookConfig::github_com(Some(secrets)), delivery).await;
    if tenant.is_some() && flags & 16 == 16 {
        assert!(result.is_err(), "the deployment secret opened a config's own URL");
    }
    result
}

/// The id of the fuzz store's config (fixed, so inputs replay the same).
pub const CONFIG_ID: uuid::Uuid = uuid::uuid!("0b5e7a10-0000-4000-8000-00000000c0f1");

/// A migrated in-memory store with a project following `acme/widgets`, whose config has the
/// id [`CONFIG_ID`] and the first generation of secret.
pub async fn store() -> Store {
    let store = crate::sqlite().await;
    let project = crate::configured_project(&store, "acme/widgets", vec![2, 0, 0]).await;
    // Generation 0 (no salt): the fuzzer's signatures stay the same from run to run.
    sqlx::query("UPDATE github_sync_config SET id = $1, secret_generation = 0, secret_salt = NULL WHERE project_id = $2")
        .bind(CONFIG_ID.to_string())
        .bind(project.to_string())
        .execute(store.pool())
        .await
        .expect("fix the config id");
    store
}

/// An input for the fuzzer's seed corpus: `body` as a signed delivery of `event`.
pub fn seed(event: &str, id: u8, body: &[u8]) -> Vec<u8> {
    let e = EVENTS.iter().position(|x| *x == event).unwrap_or(0) as u8;
    let mut input = vec![e, 1, id];
    input.extend_from_slice(body);
    input
}
