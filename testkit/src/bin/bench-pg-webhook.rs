//! The webhook on PostgreSQL as Lambda runs it: one delivery at a time on a pool of two
//! connections (the webhook function's), durable commits (the server's defaults), through a
//! TCP relay that counts the round trips each delivery costs (a round trip: the client
//! speaks, then the server answers). Prints statements and round trips per delivery and the
//! handler's p50/p99, for `opened` (a new task) and `edited` (an update) deliveries.
//!
//! Usage: bench-pg-webhook ADMIN_URL [DELIVERIES] (bench/pg-webhook.sh starts a durable
//! cluster and passes it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::store::StoreOptions;
use ghsync_shared::webhook::{Delivery, Receiver, WebhookConfig, sign};
use ghsync_shared::{Store, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "bench-secret";
const REPO: &str = "acme/widgets";

/// Client turns: how many times the client spoke after the server had answered.
#[derive(Default)]
struct Turns {
    round_trips: AtomicU64,
}

/// Relays `listener`'s connections to `upstream`, counting round trips in `turns`.
async fn relay(listener: tokio::net::TcpListener, upstream: String, turns: Arc<Turns>) {
    loop {
        let (client, _) = listener.accept().await.expect("accept");
        let server = tokio::net::TcpStream::connect(&upstream).await.expect("reach PostgreSQL");
        let turns = turns.clone();
        tokio::spawn(async move {
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            // Set when the server has spoken since the client last did.
            let answered = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let a = answered.clone();
            let up = async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = cr.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    if a.swap(false, Ordering::SeqCst) {
                        turns.round_trips.fetch_add(1, Ordering::SeqCst);
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let down = async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = sr.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    answered.store(true, Ordering::SeqCst);
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            tokio::join!(up, down);
        });
    }
}

/// The statements the server logged (`log_statement = all`) in its log file `log` after byte
/// `from`: simple-protocol statements and extended-protocol executes.
fn statements_logged(log: &str, from: u64) -> u64 {
    let text = std::fs::read(log).expect("read the server log");
    let text = String::from_utf8_lossy(&text[from as usize..]);
    text.lines().filter(|l| l.contains("LOG:  statement: ") || l.contains("LOG:  execute ")).count() as u64
}

async fn log_statements(admin: &str, on: bool) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("admin connection");
    let value = if on { "all" } else { "none" };
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER SYSTEM SET log_statement = '{value}'")))
        .execute(&mut conn)
        .await
        .expect("set log_statement");
    sqlx::query("SELECT pg_reload_conf()").execute(&mut conn).await.expect("reload");
    conn.close().await.ok();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let args: Vec<String> = std::env::args().collect();
    let admin = args.get(1).expect("usage: bench-pg-webhook ADMIN_URL [DELIVERIES]").clone();
    let deliveries: i64 = args.get(2).map_or(2000, |n| n.parse().expect("a number"));
    let (host_port, rest) = admin
        .strip_prefix("postgres://postgres@")
        .and_then(|r| r.split_once('/'))
        .expect("postgres://postgres@HOST:PORT/DB");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let relayed = format!("postgres://postgres@{}/{rest}", listener.local_addr().expect("address"));
    let turns = Arc::new(Turns::default());
    tokio::spawn(relay(listener, host_port.to_string(), turns.clone()));

    let store = Store::connect(&relayed, &StoreOptions::default()).await?;
    store.migrate().await?;
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"42".repeat(32)).expect("a key"));
    testkit::project_with_pat(&store, REPO, &keys, "ghp_benchToken").await;
    store.close().await;
    // The webhook function's pool: two connections, schema checked, not migrated.
    let store = Store::connect(&relayed, &StoreOptions::deployed(2)).await?;
    let receiver = Receiver::new(store.clone(), WebhookConfig::github_com(WebhookSecrets::parse(SECRET)));

    let mut report = Vec::new();
    for (kind, body_of) in [
        ("opened", Box::new(|n: i64| testkit::fixtures::realistic_opened_delivery(REPO, n)) as Box<dyn Fn(i64) -> String>),
        ("edited", Box::new(|n: i64| testkit::fixtures::versioned_edit(REPO, n, 2))),
    ] {
        let bodies: Vec<(String, String)> =
            (1..=deliveries).map(|n| (body_of(n), format!("{kind}-{n}"))).collect();
        let warm = deliveries / 10;
        let mut latencies = Vec::new();
        let (mut trips_before, mut measured) = (0, 0u64);
        for (i, (body, id)) in bodies.iter().enumerate() {
            if i as i64 == warm {
                trips_before = turns.round_trips.load(Ordering::SeqCst);
            }
            let signature = sign(SECRET, body.as_bytes());
            let delivery = Delivery {
                event: Some("issues"),
                delivery_id: Some(id),
                signature_256: Some(&signature),
                signature_sha1: None,
                body: body.as_bytes(),
                tenant: None,
            };
            let started = Instant::now();
            receiver.handle(delivery).await.expect("applied");
            if i as i64 >= warm {
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                measured += 1;
            }
        }
        let trips = turns.round_trips.load(Ordering::SeqCst) - trips_before;
        latencies.sort_by(f64::total_cmp);
        // Statements, counted apart (logging every statement would slow the timed pass).
        let statements = match std::env::var("PG_LOG") {
            Ok(log) => {
                log_statements(&admin, true).await;
                let from = std::fs::metadata(&log).expect("the server log").len();
                const COUNTED: i64 = 100;
                for n in 0..COUNTED {
                    let body = body_of(deliveries + 1 + n);
                    let id = format!("{kind}-counted-{n}");
                    let signature = sign(SECRET, body.as_bytes());
                    let delivery = Delivery {
                        event: Some("issues"),
                        delivery_id: Some(&id),
                        signature_256: Some(&signature),
                        signature_sha1: None,
                        body: body.as_bytes(),
                        tenant: None,
                    };
                    receiver.handle(delivery).await.expect("applied");
                }
                log_statements(&admin, false).await;
                format!("{:.2}", statements_logged(&log, from) as f64 / COUNTED as f64)
            }
            Err(_) => "-".into(),
        };
        report.push(format!(
            "{kind:<7} deliveries {measured:>5}  statements/delivery {statements:>5}  round trips/delivery {:>5.2}  handler p50 {:>6.2} ms  p99 {:>6.2} ms",
            trips as f64 / measured as f64,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        ));
    }
    for line in report {
        println!("{line}");
    }
    Ok(())
}
