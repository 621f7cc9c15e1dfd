//! Configuration from the environment (the same variable names everywhere; docs/operations.md, "Configuration").
//!
//! Read once at start-up through a lookup function, so tests build configs from a map
//! instead of changing the process environment.

use std::fmt;
use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};

/// A required variable is missing or a variable does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The default local database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://ghsync.db?mode=rwc";
/// The default address of `ghsync serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// GitHub's public REST API.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

/// The accepted webhook secrets: several during a rotation. `Debug` never shows them.
#[derive(Clone)]
pub struct WebhookSecrets(Vec<SecretString>);

impl WebhookSecrets {
    /// Parses a comma-separated list; blank entries are ignored; `None` when none remain.
    pub fn parse(list: &str) -> Option<Self> {
        let secrets: Vec<SecretString> =
            comma_list(list).map(|s| SecretString::from(s.to_string())).collect();
        (!secrets.is_empty()).then_some(Self(secrets))
    }

    /// Exactly one secret, taken whole (a GitHub App's webhook secret may hold commas).
    pub fn one(secret: SecretString) -> Self {
        Self(vec![secret])
    }

    pub fn iter(&self) -> impl Iterator<Item = &SecretString> {
        self.0.iter()
    }

    /// The secrets of one config's own webhook (`/webhooks/github/{config_id}`) in its
    /// current generation, one per deployment secret (during a rotation of the deployment
    /// secret both derivations verify). Nothing secret is stored per tenant and the webhook
    /// function needs no KMS call.
    ///
    /// - Generation 0, the first derivation: the hex HMAC-SHA256, under the deployment
    ///   secret, of a label and the config id. Kept so that hooks installed before
    ///   generations existed still verify.
    /// - Later generations: HKDF-SHA256 with the generation's random salt, the deployment
    ///   secret as input key material and the config id and generation as context. The
    ///   deployment secret is never the key of an HMAC here, so no secret of a config is the
    ///   MAC of anything on the shared route, and a new salt makes every earlier secret of
    ///   the config worthless.
    pub fn for_config(&self, config_id: uuid::Uuid, key: &crate::domain::TenantKey) -> WebhookSecrets {
        use hmac::{Hmac, KeyInit, Mac};
        let id = config_id.as_hyphenated().to_string();
        let derived = self
            .0
            .iter()
            .map(|secret| {
                let secret = secret.expose_secret().as_bytes();
                let bytes: [u8; 32] = match key.salt.as_deref() {
                    None => {
                        let mut h = Hmac::<sha2::Sha256>::new_from_slice(secret)
                            .expect("HMAC accepts keys of any length");
                        h.update(b"ghsync config webhook v1:");
                        h.update(id.as_bytes());
                        h.finalize().into_bytes().into()
                    }
                    Some(salt) => {
                        let info = format!("ghsync config webhook v2:{id}:{}", key.generation);
                        let mut out = [0u8; 32];
                        hkdf::Hkdf::<sha2::Sha256>::new(Some(salt.as_bytes()), secret)
                            .expand(info.as_bytes(), &mut out)
                            .expect("32 bytes is a valid HKDF-SHA256 length");
                        out
                    }
                };
                SecretString::from(hex::encode(bytes))
            })
            .collect();
        WebhookSecrets(derived)
    }

    /// The first (current) secret, for what ghsync hands out.
    pub fn current(&self) -> &SecretString {
        &self.0[0]
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets([{} redacted])", self.0.len())
    }
}

/// The management API's bearer token. `Debug` never shows it.
#[derive(Clone)]
pub struct ApiToken(SecretString);

impl ApiToken {
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        let token = token.trim();
        (!token.is_empty()).then(|| Self(SecretString::from(token.to_string())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

/// Everything ghsync reads from the environment. `Debug` hides the secrets and the
/// database passwords.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// The migration step's own database user (`GHSYNC_MIGRATE_DATABASE_URL`, with DDL
    /// rights); `None`: migrations run as `database_url`'s user.
    pub migrate_database_url: Option<String>,
    /// `None`: no secret configured: every delivery is refused.
    pub webhook_secrets: Option<WebhookSecrets>,
    /// AWS KMS key for PAT envelope encryption; `None` selects the local key provider.
    pub kms_key_id: Option<String>,
    /// Hex master key of the local key provider (`GHSYNC_LOCAL_KEY`).
    pub local_key_hex: Option<SecretString>,
    /// `None`: no token configured: every API request is refused.
    pub api_token: Option<ApiToken>,
    pub listen: SocketAddr,
    pub github_api_url: String,
    /// Further API bases a config's `api_url` may name (`GHSYNC_GITHUB_HOSTS`: GitHub
    /// Enterprise Servers the operator trusts with its users' tokens). `GITHUB_API_URL` is
    /// always allowed.
    pub github_hosts: Vec<String>,
    /// Proxies in front of `ghsync serve` whose `X-Forwarded-For` names the client
    /// (`GHSYNC_TRUSTED_PROXIES`, comma-separated IP addresses): per-client limits then count
    /// the forwarded client, not the proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Configs one process syncs at once (`GHSYNC_RECONCILE_CONCURRENCY`).
    pub reconcile_concurrency: usize,
    /// The SQS queue the scheduled tick fans claimed configs out to
    /// (`GHSYNC_RECONCILE_QUEUE_URL`; in AWS). Unset: the tick syncs them itself.
    pub reconcile_queue_url: Option<String>,
    /// Where GitHub reaches ghsync (`GHSYNC_PUBLIC_URL`, https, or http on loopback for
    /// tests): with it ghsync installs each config's repository webhook itself.
    pub public_url: Option<url::Url>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("migrate_database_url", &self.migrate_database_url.as_deref().map(redact_url))
            .field("webhook_secrets", &self.webhook_secrets)
            .field("kms_key_id", &self.kms_key_id)
            .field("local_key_hex", &self.local_key_hex.as_ref().map(|_| "[redacted]"))
            .field("api_token", &self.api_token)
            .field("listen", &self.listen)
            .field("github_api_url", &self.github_api_url)
            .field("github_hosts", &self.github_hosts)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("reconcile_concurrency", &self.reconcile_concurrency)
            .field("reconcile_queue_url", &self.reconcile_queue_url)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// A database URL without its secrets, for logs, errors and `Debug`: the password of its user
/// part, and the value of every query parameter whose name says it holds one (`password`,
/// `sslpassword`, `passwd`, `pwd`, `secret`, `token`, `key`, in any case).
pub fn redact_url(url: &str) -> String {
    const SECRET_PARAMETERS: [&str; 5] = ["pass", "pwd", "secret", "token", "key"];
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &base[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &base[..scheme_end + 3], user, &base[at..])
        }
        _ => base.to_string(),
    };
    let Some(query) = query else { return base };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMETERS.iter().any(|s| name.to_ascii_lowercase().contains(s)) => {
                format!("{name}=***")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// The entries of a comma-separated list, trimmed; blank ones left out.
fn comma_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|entry| !entry.is_empty())
}

/// Configs synced at once by one process unless `GHSYNC_RECONCILE_CONCURRENCY` says otherwise.
pub const DEFAULT_RECONCILE_CONCURRENCY: usize = 16;

impl Config {
    /// Reads variables through `get` (a map in tests), with the local defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let listen_text = get("GHSYNC_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text.parse().map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
            name: "GHSYNC_LISTEN",
            reason: format!("{e} (expected host:port, e.g. {DEFAULT_LISTEN})"),
        })?;
        let github_api_url = get("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_GITHUB_API_URL.to_string());
        if !(github_api_url.starts_with("https://") || github_api_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "GITHUB_API_URL",
                reason: "must be an http(s) URL".into(),
            });
        }
        let reconcile_concurrency = match get("GHSYNC_RECONCILE_CONCURRENCY") {
            None => DEFAULT_RECONCILE_CONCURRENCY,
            Some(v) => v.trim().parse().ok().filter(|n| (1..=1024).contains(n)).ok_or_else(|| {
                ConfigError::Invalid {
                    name: "GHSYNC_RECONCILE_CONCURRENCY",
                    reason: format!("must be a whole number from 1 to 1024, not {v:?}"),
                }
            })?,
        };
        let public_url = match get("GHSYNC_PUBLIC_URL") {
            None => None,
            Some(text) => {
                let invalid =
                    |reason: &str| ConfigError::Invalid { name: "GHSYNC_PUBLIC_URL", reason: reason.into() };
                let url = url::Url::parse(text.trim().trim_end_matches('/'))
                    .map_err(|e| invalid(&format!("must be a URL: {e}")))?;
                if !crate::domain::is_https_or_loopback(&url) {
                    return Err(invalid("must be https (plain http only on loopback, for tests)"));
                }
                Some(url)
            }
        };
        let github_hosts: Vec<String> =
            comma_list(&get("GHSYNC_GITHUB_HOSTS").unwrap_or_default()).map(str::to_string).collect();
        for host in &github_hosts {
            crate::github::api_base(host).map_err(|e| ConfigError::Invalid {
                name: "GHSYNC_GITHUB_HOSTS",
                reason: format!(
                    "{e} (a comma-separated list of API base URLs, such as https://ghe.example/api/v3)"
                ),
            })?;
        }
        let trusted_proxies = comma_list(&get("GHSYNC_TRUSTED_PROXIES").unwrap_or_default())
            .map(|p| {
                p.parse().map_err(|_| ConfigError::Invalid {
                    name: "GHSYNC_TRUSTED_PROXIES",
                    reason: format!("{p:?} is not an IP address (a comma-separated list of them)"),
                })
            })
            .collect::<Result<Vec<std::net::IpAddr>, _>>()?;
        Ok(Self {
            trusted_proxies,
            github_hosts,
            public_url,
            reconcile_concurrency,
            reconcile_queue_url: get("GHSYNC_RECONCILE_QUEUE_URL"),
            database_url: get("GHSYNC_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            migrate_database_url: get("GHSYNC_MIGRATE_DATABASE_URL"),
            webhook_secrets: get("GHSYNC_WEBHOOK_SECRET").and_then(|s| WebhookSecrets::parse(&s)),
            kms_key_id: get("GHSYNC_KMS_KEY_ID"),
            local_key_hex: get("GHSYNC_LOCAL_KEY").map(SecretString::from),
            api_token: get("GHSYNC_API_TOKEN").and_then(ApiToken::new),
            listen,
            github_api_url: github_api_url.trim_end_matches('/').to_string(),
        })
    }

    /// A deployed (Lambda) function's settings through `get` (see
    /// [`crate::startup::deployed_config`]): as [`Config::from_lookup`], but
    /// `GHSYNC_DATABASE_URL` is required (a Lambda instance has no disk worth a database on).
    pub fn lambda_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        if get("GHSYNC_DATABASE_URL").is_none_or(|v| v.trim().is_empty()) {
            return Err(ConfigError::Missing("GHSYNC_DATABASE_URL"));
        }
        Self::from_lookup(get)
    }

    /// The GitHub web host issue URLs must be on (from `GITHUB_API_URL`).
    pub fn github_web_host(&self) -> crate::domain::WebHost {
        url::Url::parse(&self.github_api_url)
            .map_or_else(|_| crate::domain::WebHost::github_com(), |u| crate::domain::WebHost::of_api(&u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_local_ones() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.github_api_url, DEFAULT_GITHUB_API_URL);
        assert!(c.webhook_secrets.is_none() && c.api_token.is_none() && c.kms_key_id.is_none());
    }

    #[test]
    fn secrets_are_a_list_and_never_shown() {
        let c = config(&[
            ("GHSYNC_WEBHOOK_SECRET", "old-secret, new-secret,"),
            ("GHSYNC_API_TOKEN", "tok-123"),
            ("GHSYNC_DATABASE_URL", "postgres://app:db-pass-9@db/x"),
            ("GHSYNC_MIGRATE_DATABASE_URL", "postgres://owner:owner-pass-9@db/x"),
            ("GHSYNC_LOCAL_KEY", "local-key-hex-9"),
        ])
        .unwrap();
        let secrets: Vec<&str> =
            c.webhook_secrets.as_ref().unwrap().iter().map(|s| s.expose_secret()).collect();
        assert_eq!(secrets, ["old-secret", "new-secret"]);
        let shown = format!("{c:?}");
        assert!(shown.contains("postgres://app:***@db/x"), "{shown}");
        assert_eq!(redact_url("postgres://app:hunter2@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("sqlite://ghsync.db"), "sqlite://ghsync.db");
        let table = [
            ("sqlite://ghsync.db?mode=rwc", "sqlite://ghsync.db?mode=rwc"),
            ("postgres://db/x?user=app&password=hunter2", "postgres://db/x?user=app&password=***"),
            (
                "postgres://u:p@db/x?sslmode=require&sslpassword=k3y",
                "postgres://u:***@db/x?sslmode=require&sslpassword=***",
            ),
            ("postgres://db/x?PASSWORD=a&pwd=b&token=c", "postgres://db/x?PASSWORD=***&pwd=***&token=***"),
        ];
        for (url, shown) in table {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        for secret in ["old-secret", "new-secret", "tok-123", "db-pass-9", "owner-pass-9", "local-key-hex-9"]
        {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(config(&[("GHSYNC_WEBHOOK_SECRET", " , ")]).unwrap().webhook_secrets.is_none());
    }

    #[test]
    fn a_lambda_names_its_missing_database_instead_of_defaulting() {
        let map: HashMap<String, String> = HashMap::new();
        let e = Config::lambda_from_lookup(|k| map.get(k).cloned()).unwrap_err();
        assert_eq!(e.to_string(), "GHSYNC_DATABASE_URL is not set");
        let map: HashMap<String, String> =
            [("GHSYNC_DATABASE_URL".to_string(), "postgres://db/x".to_string())].into();
        let c = Config::lambda_from_lookup(|k| map.get(k).cloned()).unwrap();
        assert_eq!(c.database_url, "postgres://db/x");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = config(&[("GHSYNC_LISTEN", "nowhere")]).unwrap_err();
        assert!(e.to_string().starts_with("GHSYNC_LISTEN is invalid"), "{e}");
        let e = config(&[("GITHUB_API_URL", "ftp://x")]).unwrap_err();
        assert!(e.to_string().starts_with("GITHUB_API_URL is invalid"), "{e}");
    }
}
