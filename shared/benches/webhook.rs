//! The in-process cost of one webhook delivery, without HTTP: signature verification alone,
//! then the whole of `webhook::handle` (verify + parse + apply) on an in-memory SQLite store,
//! for a new issue (a task is created) and for an issue already applied (the common
//! redelivery / unchanged case). Payloads are GitHub-shaped, ~11 KB.
//! Run: `cargo bench -p ghsync-shared --bench webhook`.

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::webhook::{self, Delivery, Handled, sign, verify_signature};

const SECRET: &str = "bench-secret";
const REPO: &str = "acme/widgets";

fn deliveries(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = runtime.block_on(async {
        let store = testkit::sqlite().await;
        testkit::configured_project(&store, REPO, vec![2, 0, 0]).await;
        store
    });
    let secrets = WebhookSecrets::parse(SECRET).unwrap();
    let body = testkit::fixtures::realistic_opened_delivery(REPO, 1);
    let signature = sign(SECRET, body.as_bytes());

    let mut group = c.benchmark_group("webhook");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("verify_signature", |b| {
        b.iter(|| verify_signature(Some(&secrets), Some(black_box(&signature)), black_box(body.as_bytes())))
    });

    // Fresh delivery ids throughout; `handle_created` a fresh issue number each time too
    // (prepared and signed outside the measurement).
    let ids = AtomicU64::new(0);
    let fresh_id = || format!("bench-{}", ids.fetch_add(1, Ordering::Relaxed));
    let numbers = AtomicI64::new(2);
    let config = webhook::WebhookConfig::github_com(Some(secrets.clone()));
    let (store, config) = (&store, &config);
    group.bench_function("handle_created", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                let body = testkit::fixtures::realistic_opened_delivery(
                    REPO,
                    numbers.fetch_add(1, Ordering::Relaxed),
                );
                testkit::fixtures::Signed::new("issues", fresh_id(), body, SECRET)
            },
            |signed| async move { webhook::handle(store, config, signed.delivery()).await.unwrap() },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("handle_unchanged", |b| {
        b.to_async(&runtime).iter(|| async {
            let id = fresh_id();
            let d = Delivery {
                event: Some("issues"),
                delivery_id: Some(&id),
                signature_256: Some(&signature),
                signature_sha1: None,
                body: body.as_bytes(),
                tenant: None,
                app: false,
            };
            let handled = webhook::handle(store, config, d).await.unwrap();
            assert!(matches!(handled, Handled::Applied { .. }));
        })
    });
    group.finish();
}

criterion_group!(benches, deliveries);
criterion_main!(benches);
