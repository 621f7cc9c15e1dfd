//! `ghsync serve`: one process with every HTTP route and the reconcile loop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;
use ghsync_api::ApiState;
use ghsync_shared::config::{ApiToken, Config, WebhookSecrets};
use ghsync_shared::secrets::Secrets;
use ghsync_shared::services::hooks::HookSettings;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::services::runs::RunQueue;
use ghsync_shared::webhook::WebhookConfig;
use ghsync_webhook::WebhookState;

use crate::local;

/// Serves until interrupted (Ctrl-C or SIGTERM).
pub async fn run(config: Config) -> Result<()> {
    let services = local::services(&config).await?;
    let dir = local::state_dir(&config.database_url);
    let secrets = match &config.webhook_secrets {
        Some(secrets) => secrets.clone(),
        None => {
            let secret = kept_and_printed(&dir, "ghsync.webhook-secret", "webhook secret")?;
            WebhookSecrets::parse(&secret).context("empty webhook secret file")?
        }
    };
    let token = match &config.api_token {
        Some(token) => token.clone(),
        None => ApiToken::new(kept_and_printed(&dir, "ghsync.api-token", "API token")?)
            .context("empty API token file")?,
    };
    let secrets = Secrets::fixed(Some(secrets), Some(token));
    let hooks = HookSettings::new(secrets.clone(), &config);
    let webhook = WebhookState::new(
        services.store.clone(),
        WebhookConfig {
            secrets: secrets.clone(),
            web_host: services.github.web_host().clone(),
            app: ghsync_shared::services::app::AppAccess::new(
                services.store.clone(),
                services.keys.clone(),
                services.github.clone(),
            ),
        },
    );
    // "Sync now" in the API queues a run and wakes this worker at once.
    let (runs, wake) = RunQueue::local();
    let reconciler = Reconciler::new(services.clone(), ReconcileOptions::for_config(&config));
    let background = tokio::spawn(ghsync_shared::services::runs::work(reconciler, wake, RECONCILE_EVERY));
    let app = router(
        ApiState { services, secrets, runs, hooks, push: ghsync_shared::services::push::PushOptions::api() },
        webhook,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (GHSYNC_LISTEN)", config.listen))?;
    println!("ghsync listening on http://{}", listener.local_addr()?);
    let limits = Limits { trusted_proxies: config.trusted_proxies.clone(), ..Limits::default() };
    serve_with(listener, app, limits, shutdown_signal()).await;
    background.abort();
    Ok(())
}

/// How `ghsync serve` holds out against slow and greedy clients.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A request's head (line and headers) must arrive within this, or the connection closes.
    pub header_read: Duration,
    /// A body that sends nothing for this long is cut.
    pub body_idle: Duration,
    /// A whole body must arrive within this (a trickle of one byte a second is cut too).
    pub body_total: Duration,
    /// Connections open at once; a connection beyond it is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Connections one client may hold open at once (a trusted proxy's are not counted: it
    /// speaks for many clients).
    pub max_connections_per_client: usize,
    /// Peers whose `X-Forwarded-For` is believed (`GHSYNC_TRUSTED_PROXIES`): behind one, the
    /// client is the address it appended last, else the peer itself.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(10),
            body_total: Duration::from_secs(30),
            max_connections: 512,
            max_connections_per_client: 64,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then lets the
/// requests in flight finish (for at most 10 s).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let app = app
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(limits.body_total))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_idle));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_client = ghsync_webhook::PerClient::default();
    let trusted: Arc<[std::net::IpAddr]> = limits.trusted_proxies.clone().into();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "connection refused: too many open");
            drop(stream);
            continue;
        };
        let proxied = trusted.contains(&peer.ip());
        let client_slot = if proxied {
            None
        } else {
            match per_client.take(peer.ip(), limits.max_connections_per_client) {
                Some(held) => Some(held),
                None => {
                    tracing::warn!(%peer, "connection refused: the client holds its share of connections");
                    drop(stream);
                    continue;
                }
            }
        };
        // Each request carries its client, for the webhook's per-client body slots.
        let service = tower::ServiceBuilder::new()
            .map_request(move |mut request: axum::http::Request<hyper::body::Incoming>| {
                let client = if proxied { forwarded_client(request.headers()) } else { None };
                request.extensions_mut().insert(ghsync_webhook::Client(client.unwrap_or(peer.ip())));
                request
            })
            .service(app.clone());
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
            drop(client_slot);
        });
    }
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after 10 s were cut at shutdown");
    }
}

/// The client a trusted proxy forwards: the last address of `X-Forwarded-For` (the one the
/// proxy itself appended; those before it are the client's own word).
fn forwarded_client(headers: &axum::http::HeaderMap) -> Option<std::net::IpAddr> {
    let list = headers.get_all("x-forwarded-for").iter().rev().find_map(|v| v.to_str().ok())?;
    list.rsplit(',').next()?.trim().parse().ok()
}

/// How often the local reconcile loop looks for due configs.
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs a reconcile pass every [`RECONCILE_EVERY`], for ever (`ghsync reconcile` without
/// `--once`).
pub async fn reconcile_loop(reconciler: Reconciler) {
    ghsync_shared::services::runs::work(
        reconciler,
        std::sync::Arc::new(tokio::sync::Notify::new()),
        RECONCILE_EVERY,
    )
    .await
}

/// A secret generated on first start and kept in `dir/file`. Printed once, when it is
/// generated (so the user can paste it); later starts only say where it is kept.
fn kept_and_printed(dir: &std::path::Path, file: &str, what: &str) -> Result<String> {
    let (secret, created) = local::kept_secret(dir, file, 32)?;
    let path = dir.join(file);
    if created {
        println!("{what} (generated in {}, mode 600): {secret}", path.display());
    } else {
        println!("{what}: kept in {}", path.display());
    }
    Ok(secret)
}

/// Every route of the system in one router.
pub fn router(api: ApiState, webhook: WebhookState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }))
        .merge(ghsync_webhook::router(webhook))
        .merge(ghsync_api::router(api))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server of `/healthz` and an echo of bodies, within `limits`; its address.
    async fn server(limits: Limits) -> String {
        let app = Router::new().route("/healthz", get(|| async { "ok" })).route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(serve_with(listener, app, limits, std::future::pending()));
        addr
    }

    /// Everything the server sends until it closes the connection (bounded: a server that
    /// never closes fails the test instead of hanging it).
    async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut got))
            .await
            .expect("the server closed the connection");
        // A server that closes with unread input resets the connection: closed all the same.
        if let Err(e) = read {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    fn quick() -> Limits {
        Limits {
            header_read: Duration::from_millis(300),
            body_idle: Duration::from_millis(300),
            body_total: Duration::from_secs(2),
            max_connections: 2,
            max_connections_per_client: 2,
            trusted_proxies: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let addr = server(quick()).await;
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let answer = until_closed(&mut stream).await;
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    }

    #[tokio::test]
    async fn a_body_that_stalls_or_trickles_is_cut_off() {
        let addr = server(Limits { max_connections: 8, ..quick() }).await;
        // Stalls: 10 of 1,000 bytes, then nothing.
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
            .await
            .unwrap();
        let answer = until_closed(&mut stream).await;
        assert!(!answer.starts_with("HTTP/1.1 200"), "a stalled body was taken: {answer}");
        // Trickles: a byte every 100 ms never idles 300 ms, but passes the 2 s deadline.
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n").await.unwrap();
        let trickle = async {
            for _ in 0..1000 {
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(20), trickle).await;
        let answer = until_closed(&mut stream).await;
        assert!(!answer.starts_with("HTTP/1.1 200"), "a trickled body was taken: {answer}");
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_and_a_freed_slot_serves_again() {
        let addr = server(Limits { header_read: Duration::from_secs(30), ..quick() }).await;
        let get = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        // Two idle connections take both slots (each answered once, so they are surely open).
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            held.push(s);
        }
        let mut third = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let _ = third.write_all(get).await;
        assert_eq!(until_closed(&mut third).await, "", "closed unanswered");
        drop(held.pop());
        // The freed slot serves a new connection (the server notices the close first).
        let mut answered = String::new();
        for _ in 0..100 {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let _ = s.write_all(get).await;
            answered = until_closed(&mut s).await;
            if !answered.is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    }
    /// One client fills its share of the webhook's body slots with slow bodies; another
    /// client's signed delivery still goes through.
    #[tokio::test]
    async fn one_client_holding_its_slow_bodies_leaves_another_room() {
        let store = testkit::sqlite().await;
        let secrets = ghsync_shared::config::WebhookSecrets::parse("s3cret");
        let webhook = ghsync_webhook::router(ghsync_webhook::WebhookState::github_com(store, secrets));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            body_idle: Duration::from_secs(60),
            body_total: Duration::from_secs(60),
            ..Limits::default()
        };
        tokio::spawn(serve_with(listener, webhook, limits, std::future::pending()));

        // Client A (127.0.0.1): as many slow bodies as there are slots, each with a
        // well-formed signature and 10 of its 1,000 bytes sent.
        let fake = format!("sha256={}", "0".repeat(64));
        let head = format!(
            "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             X-GitHub-Event: ping\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: {fake}\r\n\
             Content-Length: 1000\r\n\r\n0123456789"
        );
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..ghsync_webhook::MAX_BODIES_READ {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(head.as_bytes()).await.unwrap();
            held.push(s);
        }
        // Those beyond A's share are turned away at once; the rest hold their slots.
        for s in held.iter_mut().rev() {
            let mut buf = [0u8; 12];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await
                && String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503")
            {
                refused += 1;
            }
        }
        assert_eq!(refused, ghsync_webhook::MAX_BODIES_READ - ghsync_webhook::MAX_BODIES_PER_CLIENT);

        // Client B (127.0.0.2): a signed delivery is taken.
        let body = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
        let signature = ghsync_shared::webhook::sign("s3cret", body.as_bytes());
        let request = format!(
            "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\
             X-GitHub-Event: ping\r\nX-GitHub-Delivery: b-1\r\nX-Hub-Signature-256: {signature}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut b = socket.connect(addr).await.unwrap();
        b.write_all(request.as_bytes()).await.unwrap();
        let answer = until_closed(&mut b).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(held);
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_address_it_appended() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(forwarded_client(&headers), None);
        headers.append("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        assert_eq!(forwarded_client(&headers), Some("198.51.100.7".parse().unwrap()));
        headers.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        assert_eq!(forwarded_client(&headers), Some("192.0.2.1".parse().unwrap()));
    }
}
