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
use ghsync_shared::webhook::{Receiver, WebhookConfig};
use ghsync_shared::{Store, StoreError};
use testkit::fixtures::Signed;
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
        // As sqlx does on its own sockets: the relay must not add Nagle's delays.
        client.set_nodelay(true).expect("nodelay");
        server.set_nodelay(true).expect("nodelay");
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
    let server = args.get(1).expect("usage: bench-pg-webhook ADMIN_URL [DELIVERIES]").clone();
    // A database of its own: one project follows the repository, as in one tenant's stack.
    let admin = testkit::database_on(&server).await;
    let deliveries: i64 = args.get(2).map_or(2000, |n| n.parse().expect("a number"));
    let (host_port, rest) = admin
        .strip_prefix("postgres://postgres@")
        .and_then(|r| r.split_once('/'))
        .expect("postgres://postgres@HOST:PORT/DB");
    let server_admin = server.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let relayed = format!("postgres://postgres@{}/{rest}", listener.local_addr().expect("address"));
    let turns = Arc::new(Turns::default());
    tokio::spawn(relay(listener, host_port.to_string(), turns.clone()));

    let store = Store::connect(&admin, &StoreOptions::default()).await?;
    store.migrate().await?;
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"42".repeat(32)).expect("a key"));
    testkit::project_with_pat(&store, REPO, &keys, "ghp_benchToken").await;
    store.close().await;
    // The webhook function's pool: two connections, schema checked, not migrated. The timed
    // pass connects directly; the counting pass goes through the relay.
    let config = || WebhookConfig::github_com(WebhookSecrets::parse(SECRET));
    let direct = Receiver::new(Store::connect(&admin, &StoreOptions::deployed(2)).await?, config());
    let relayed = Receiver::new(Store::connect(&relayed, &StoreOptions::deployed(2)).await?, config());

    let mut report = Vec::new();
    type Body = Box<dyn Fn(i64) -> String>;
    let kinds: [(&str, Body); 2] = [
        ("opened", Box::new(|n| testkit::fixtures::realistic_opened_delivery(REPO, n))),
        ("edited", Box::new(|n| testkit::fixtures::versioned_edit(REPO, n, 2))),
    ];
    for (kind, body_of) in kinds {
        let deliver = async |receiver: &Receiver, n: i64, id: String| {
            let signed = Signed::new("issues", id, body_of(n), SECRET);
            let started = Instant::now();
            receiver.handle(signed.delivery()).await.expect("applied");
            started.elapsed().as_secs_f64() * 1000.0
        };
        let warm = deliveries / 10;
        let mut latencies = Vec::new();
        for n in 1..=deliveries {
            let ms = deliver(&direct, n, format!("{kind}-{n}")).await;
            if n > warm {
                latencies.push(ms);
            }
        }
        latencies.sort_by(f64::total_cmp);

        // Statements (logged by the server while counting) and round trips (the relay's).
        const COUNTED: i64 = 100;
        for n in 0..10 {
            deliver(&relayed, deliveries + 1 + n, format!("{kind}-relay-warm-{n}")).await;
        }
        let log = std::env::var("PG_LOG").ok();
        if log.is_some() {
            log_statements(&server_admin, true).await;
        }
        let from = log.as_ref().map_or(0, |l| std::fs::metadata(l).expect("the server log").len());
        let trips_before = turns.round_trips.load(Ordering::SeqCst);
        for n in 0..COUNTED {
            deliver(&relayed, deliveries + 11 + n, format!("{kind}-counted-{n}")).await;
        }
        let trips = turns.round_trips.load(Ordering::SeqCst) - trips_before;
        let statements = match &log {
            Some(log) => {
                log_statements(&server_admin, false).await;
                format!("{:.2}", statements_logged(log, from) as f64 / COUNTED as f64)
            }
            None => "-".into(),
        };
        report.push(format!(
            "{kind:<7} statements/delivery {statements:>5}  round trips/delivery {:>5.2}  handler p50 {:>6.2} ms  p99 {:>6.2} ms  ({} timed)",
            trips as f64 / COUNTED as f64,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.len(),
        ));
    }
    for line in report {
        println!("{line}");
    }
    Ok(())
}
