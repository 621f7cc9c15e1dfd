//! What the API's test binaries share: an app on a loopback port with its store, keys and
//! GitHub stand-in. Each binary uses part of it.
#![allow(dead_code)]

use ghsync_api::{ApiState, router};
use ghsync_shared::Store;
use ghsync_shared::config::ApiToken;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use http::Method;
use serde_json::{Value, json};
use testkit::github::FakeGitHub;
use testkit::http::{Reply, send};

pub const TOKEN: &str = "test-api-token";
pub const GOOD_PAT: &str = "ghp_goodTokenForWidgets0001";
pub const OTHER_PAT: &str = "ghp_secondTokenForWidgets02";
/// The stand-in's test GitHub App, its webhook secret, and its installation on acme/widgets.
pub const APP_ID: i64 = 424242;
pub const APP_SECRET: &str = "app-webhook-secret, with a comma";
pub const INSTALLATION: i64 = 77;

pub struct App {
    pub url: String,
    pub store: Store,
    pub keys: KeyProvider,
    pub github: FakeGitHub,
    /// The further API bases the operator allows.
    pub hosts: Vec<String>,
}

pub async fn spawn_app_with(store: Store, token: Option<&str>, github_url: Option<String>) -> App {
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"42".repeat(32)).unwrap());
    spawn_app_with_keys(store, token, github_url, keys).await
}

pub async fn spawn_app_with_keys(
    store: Store,
    token: Option<&str>,
    github_url: Option<String>,
    keys: KeyProvider,
) -> App {
    spawn(store, token, github_url, keys, None, &[]).await
}

/// An app whose operator allows configs the further GitHub API bases `hosts`
/// (`GHSYNC_GITHUB_HOSTS`).
pub async fn spawn_app_allowing(store: Store, hosts: &[&str]) -> App {
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"42".repeat(32)).unwrap());
    spawn(store, Some(TOKEN), None, keys, None, hosts).await
}

/// The deployment webhook secret of [`spawn_app_hooked`].
pub const DEPLOY_SECRET: &str = "deployment-webhook-secret";

/// An app that knows its public URL (`public_url`) and its webhook secret: it installs hooks.
pub async fn spawn_app_hooked(store: Store, public_url: &str) -> App {
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"42".repeat(32)).unwrap());
    spawn(store, Some(TOKEN), None, keys, Some(public_url.parse().unwrap()), &[]).await
}

async fn spawn(
    store: Store,
    token: Option<&str>,
    github_url: Option<String>,
    keys: KeyProvider,
    public_url: Option<url::Url>,
    hosts: &[&str],
) -> App {
    let github = FakeGitHub::start().await;
    github.add_repo("acme/widgets", GOOD_PAT);
    github.add_repo("acme/widgets", OTHER_PAT);
    github.add_repo("acme/gadgets", GOOD_PAT);
    github.add_token("ghp_canSeeNothing");
    let gh_client =
        GitHub::new(github_url.as_deref().unwrap_or(&github.url), std::time::Duration::from_secs(5))
            .unwrap()
            .allowing(hosts)
            .unwrap();
    let services = Services::new(store.clone(), keys.clone(), gh_client);
    let secrets = ghsync_shared::secrets::Secrets::fixed(
        ghsync_shared::config::WebhookSecrets::parse(DEPLOY_SECRET),
        token.and_then(ApiToken::new),
    );
    let hooks = ghsync_shared::services::hooks::HookSettings { secrets: secrets.clone(), public_url };
    // The webhook receiver beside the API, as `ghsync serve` mounts them: App deliveries.
    let webhook = ghsync_webhook::WebhookState::new(
        store.clone(),
        ghsync_shared::webhook::WebhookConfig {
            secrets: secrets.clone(),
            web_host: services.github.web_host().clone(),
            app: ghsync_shared::services::app::AppAccess::new(
                store.clone(),
                keys.clone(),
                services.github.clone(),
            ),
        },
    );
    let app = router(ApiState { services, secrets, runs: Default::default(), hooks, push: api_push() })
        .merge(ghsync_webhook::router(webhook));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App { url, store, keys, github, hosts: hosts.iter().map(|h| h.to_string()).collect() }
}

/// The API's push pacing in tests: its own, with a read budget a test can outlast without
/// waiting seconds.
pub fn api_push() -> ghsync_shared::services::push::PushOptions {
    ghsync_shared::services::push::PushOptions {
        read_budget: Some(std::time::Duration::from_millis(300)),
        ..ghsync_shared::services::push::PushOptions::api()
    }
}

pub async fn spawn_app(store: Store) -> App {
    spawn_app_with(store, Some(TOKEN), None).await
}

impl App {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {TOKEN}");
        self.call_as(method, path, body, Some(&auth)).await
    }

    pub async fn call_as(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: Option<&str>,
    ) -> Reply {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        send(method, &format!("{}{path}", self.url), &headers, body).await
    }

    pub async fn project(&self) -> String {
        let r = self.call(Method::POST, "/api/projects", Some(json!({"name": "Widgets"}))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// The reconcile worker of this app's store and GitHub.
    pub fn worker(&self) -> ghsync_shared::services::reconcile::Reconciler {
        let github = GitHub::new(&self.github.url, std::time::Duration::from_secs(5))
            .unwrap()
            .allowing(&self.hosts)
            .unwrap();
        let services = Services::new(self.store.clone(), self.keys.clone(), github);
        ghsync_shared::services::reconcile::Reconciler::new(services, Default::default())
    }

    /// The reconcile worker of this app's store, with the deployment's GitHub at `api_url`.
    pub fn worker_at(&self, api_url: &str) -> ghsync_shared::services::reconcile::Reconciler {
        let github = GitHub::new(api_url, std::time::Duration::from_secs(5)).unwrap();
        let services = Services::new(self.store.clone(), self.keys.clone(), github);
        ghsync_shared::services::reconcile::Reconciler::new(services, Default::default())
    }

    /// Sets the GitHub App (the stand-in's test App, installation [`INSTALLATION`] on
    /// acme/widgets with Issues: read and write) through the API.
    pub async fn with_app(&self) {
        self.github.set_app(APP_ID, testkit::github::app_public_key());
        self.github.add_installation(
            INSTALLATION,
            &["acme/widgets"],
            &[("issues", "write"), ("metadata", "read")],
        );
        let body = json!({"app_id": APP_ID, "private_key": testkit::github::app_private_key(), "webhook_secret": APP_SECRET});
        let r = self.call(Method::PUT, "/api/github-app", Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    /// Delivers `body` as GitHub would to the App's URL, signed with `secret`.
    pub async fn deliver_to_app(&self, event: &str, body: &Value, secret: &str) -> Reply {
        self.deliver_to("/webhooks/github/app", event, body.to_string(), secret).await
    }

    /// Delivers `body` as GitHub would to `path`, signed with `secret`.
    pub async fn deliver_to(&self, path: &str, event: &str, body: String, secret: &str) -> Reply {
        let signature = ghsync_shared::webhook::sign(secret, body.as_bytes());
        let delivery = uuid::Uuid::new_v4().to_string();
        let headers = [
            ("content-type", "application/json"),
            ("x-github-event", event),
            ("x-github-delivery", delivery.as_str()),
            ("x-hub-signature-256", signature.as_str()),
        ];
        send(Method::POST, &format!("{}{path}", self.url), &headers, body).await
    }

    pub async fn stored_blob(&self, project: &str) -> Vec<u8> {
        self.store.find_config(project.parse().unwrap()).await.unwrap().unwrap().encrypted_pat
    }
}
