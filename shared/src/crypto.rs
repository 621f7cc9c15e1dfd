//! Envelope encryption of stored secrets (a config's PAT, the App's key and webhook secret;
//! docs/credentials.md): a fresh AES-256 data key per secret, wrapped by a key provider.
//!
//! Blob layout (all integers big-endian):
//!
//! ```text
//! [0]        format: 0x01 = data key wrapped by AWS KMS, 0x02 = by the local master key
//! [1..3]     length L of the wrapped data key
//! [3..3+L]   wrapped data key
//! [3+L..+12] AES-GCM nonce (random, 96 bits)
//! [..]       AES-256-GCM ciphertext of the PAT, then its 16-byte tag
//! ```
//!
//! The same envelope seals the deployment's GitHub App key and webhook secret, with the
//! contexts `{"purpose": "github_app_key"}` and `{"purpose": "github_app_webhook_secret"}`
//! instead ([`SealedFor`]).
//!
//! The encryption context `{"project_id": …}` binds a blob to its project twice: KMS (or the
//! local provider) will not unwrap the data key for another project, and the same context
//! (with the format byte) is the GCM associated data of the PAT itself. Plaintext data keys
//! and PATs live in zeroizing buffers and are redacted from `Debug`.

use std::fmt;
use std::time::Duration;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;
use zeroize::Zeroizing;

const FORMAT_KMS: u8 = 0x01;
const FORMAT_LOCAL: u8 = 0x02;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// A secret ghsync holds for a moment: a PAT, an installation token, the App's JWT or private
/// key, a webhook secret. Never printed: `Debug` redacts it.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    /// The secret, for the one place that needs it (an `Authorization` header, a seal, a
    /// signing key).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

// In the API contract a secret is a string that is only ever sent, never returned.
string_in_contract!(Secret, |b| {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
    b.format(Some(SchemaFormat::KnownFormat(KnownFormat::Password))).write_only(Some(true))
});

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// What can go wrong sealing or opening a PAT. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the encrypted PAT is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "the encrypted PAT was sealed with the {sealed} key provider, but the {configured} one is configured"
    )]
    WrongProvider { sealed: &'static str, configured: &'static str },
    /// Wrong project, wrong key, or a changed byte: authenticated decryption refused it.
    #[error("the encrypted PAT does not decrypt for this project (wrong project or key, or altered)")]
    Decrypt,
    #[error("the local master key is invalid: {0}")]
    BadMasterKey(&'static str),
    /// KMS could not be reached or kept throttling after retries: try again later.
    #[error("AWS KMS is unavailable: {0}")]
    KmsUnavailable(String),
    /// KMS refused the request (access denied, key disabled or missing, …).
    #[error("AWS KMS refused the request: {0}")]
    KmsRefused(String),
}

impl CryptoError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CryptoError::KmsUnavailable(_))
    }
}

/// Wraps and unwraps data keys: AWS KMS in deployments, a local master key elsewhere.
#[derive(Clone, Debug)]
pub enum KeyProvider {
    Kms(KmsKeys),
    Local(LocalKeys),
}

/// AWS KMS: `GenerateDataKey` (AES_256) to seal, `Decrypt` to open, both with the context.
#[derive(Clone, Debug)]
pub struct KmsKeys {
    client: aws_sdk_kms::Client,
    key_id: String,
}

/// A 32-byte master key held in memory. `Debug` redacts it.
#[derive(Clone)]
pub struct LocalKeys {
    master: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKeys([redacted])")
    }
}

impl LocalKeys {
    /// From 64 hex digits (`GHSYNC_LOCAL_KEY`).
    pub fn from_hex(hex_key: &str) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(
            hex::decode(hex_key.trim()).map_err(|_| CryptoError::BadMasterKey("not hexadecimal"))?,
        );
        let mut master = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadMasterKey("must be 32 bytes (64 hex digits)"));
        }
        master.copy_from_slice(&bytes);
        Ok(Self { master })
    }

    fn cipher(&self) -> Aes256Gcm {
        cipher(&self.master[..]).expect("a master key is 32 bytes")
    }
}

impl KmsKeys {
    /// A provider for `key_id` (id, ARN or `alias/…`) using `client`.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }

    /// A client from the standard AWS configuration chain (region, credentials, and
    /// endpoint overrides such as `AWS_ENDPOINT_URL_KMS`).
    pub async fn from_env(key_id: impl Into<String>) -> Self {
        Self::from_loader(sdk_config(), key_id).await
    }

    /// A client from `loader` (tests set the endpoint, region and credentials on it) with
    /// ghsync's retry policy: up to 4 attempts with exponential backoff from 200 ms for
    /// throttling and transient errors, and bounded timeouts.
    pub async fn from_loader(loader: aws_config::ConfigLoader, key_id: impl Into<String>) -> Self {
        let shared = loader
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .load()
            .await;
        Self::new(aws_sdk_kms::Client::new(&shared), key_id)
    }
}

/// The AWS SDK's configuration chain with its HTTPS client on rustls + ring (the SDK's
/// default client would bring a second crypto library, aws-lc-rs). Every SDK client of
/// ghsync starts from here.
pub fn sdk_config() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https)
}

/// Whose secret a blob holds: its encryption context. A project's PAT is bound to the
/// project; the deployment's GitHub App key and its webhook secret each to their purpose, so
/// that a role may open one and not the other (the webhook function opens only the secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedFor {
    Project(Uuid),
    GitHubAppKey,
    GitHubAppWebhookSecret,
}

impl From<Uuid> for SealedFor {
    fn from(project_id: Uuid) -> Self {
        SealedFor::Project(project_id)
    }
}

impl SealedFor {
    /// The KMS encryption context's one pair.
    fn context(self) -> (&'static str, String) {
        match self {
            SealedFor::Project(id) => ("project_id", id.to_string()),
            SealedFor::GitHubAppKey => ("purpose", "github_app_key".to_string()),
            SealedFor::GitHubAppWebhookSecret => ("purpose", "github_app_webhook_secret".to_string()),
        }
    }
}

/// The AES-GCM associated data: the format and the encryption context.
fn aad(format: u8, owner: SealedFor) -> Vec<u8> {
    let (key, value) = owner.context();
    format!("ghsync-pat\0format={format}\0{key}={value}").into_bytes()
}

impl KeyProvider {
    fn name(&self) -> &'static str {
        match self {
            KeyProvider::Kms(_) => "AWS KMS",
            KeyProvider::Local(_) => "local",
        }
    }

    fn format(&self) -> u8 {
        match self {
            KeyProvider::Kms(_) => FORMAT_KMS,
            KeyProvider::Local(_) => FORMAT_LOCAL,
        }
    }

    /// Encrypts `pat` (or another secret) for its owner (a project id, or the App) under a
    /// fresh data key.
    pub async fn seal(&self, owner: impl Into<SealedFor>, pat: &Secret) -> Result<Vec<u8>, CryptoError> {
        let owner = owner.into();
        let (data_key, wrapped) = self.new_data_key(owner).await?;
        let format = self.format();
        let nonce = Nonce::generate();
        let cipher = cipher(&data_key)?;
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: pat.expose().as_bytes(), aad: &aad(format, owner) })
            .map_err(|_| CryptoError::Decrypt)?;
        let wrapped_len =
            u16::try_from(wrapped.len()).map_err(|_| CryptoError::Malformed("wrapped key too long"))?;
        let mut blob = Vec::with_capacity(3 + wrapped.len() + NONCE_LEN + ciphertext.len());
        blob.push(format);
        blob.extend_from_slice(&wrapped_len.to_be_bytes());
        blob.extend_from_slice(&wrapped);
        blob.extend_from_slice(nonce.as_slice());
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    /// [`KeyProvider::seal`], then proves the blob opens to the same secret before anyone
    /// stores it.
    pub async fn seal_proven(
        &self,
        owner: impl Into<SealedFor>,
        secret: &Secret,
    ) -> Result<Vec<u8>, CryptoError> {
        let owner = owner.into();
        let blob = self.seal(owner, secret).await?;
        if self.open(owner, &blob).await?.expose() != secret.expose() {
            return Err(CryptoError::Decrypt);
        }
        Ok(blob)
    }

    /// Decrypts a blob sealed for `owner`.
    pub async fn open(&self, owner: impl Into<SealedFor>, blob: &[u8]) -> Result<Secret, CryptoError> {
        let owner = owner.into();
        let (&format, rest) = blob.split_first().ok_or(CryptoError::Malformed("empty"))?;
        if format != FORMAT_KMS && format != FORMAT_LOCAL {
            return Err(CryptoError::Malformed("unknown format byte"));
        }
        if format != self.format() {
            let sealed = if format == FORMAT_KMS { "AWS KMS" } else { "local" };
            return Err(CryptoError::WrongProvider { sealed, configured: self.name() });
        }
        if rest.len() < 2 {
            return Err(CryptoError::Malformed("truncated"));
        }
        let wrapped_len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let rest = &rest[2..];
        if rest.len() < wrapped_len + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed("truncated"));
        }
        let (wrapped, rest) = rest.split_at(wrapped_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let data_key = self.unwrap_data_key(owner, wrapped).await?;
        let cipher = cipher(&data_key)?;
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(&nonce_from(nonce)?, Payload { msg: ciphertext, aad: &aad(format, owner) })
                .map_err(|_| CryptoError::Decrypt)?,
        );
        let text = std::str::from_utf8(&plaintext).map_err(|_| CryptoError::Malformed("PAT is not UTF-8"))?;
        Ok(Secret::new(text))
    }

    /// A fresh data key: (plaintext, wrapped).
    async fn new_data_key(&self, owner: SealedFor) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CryptoError> {
        let (context_key, context_value) = owner.context();
        match self {
            KeyProvider::Kms(kms) => {
                let out = kms
                    .client
                    .generate_data_key()
                    .key_id(&kms.key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .encryption_context(context_key, context_value)
                    .send()
                    .await
                    .map_err(kms_error)?;
                let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
                let wrapped = out.ciphertext_blob.map(Blob::into_inner).unwrap_or_default();
                if plaintext.len() != KEY_LEN || wrapped.is_empty() {
                    return Err(CryptoError::KmsRefused("GenerateDataKey returned no AES-256 key".into()));
                }
                Ok((plaintext, wrapped))
            }
            KeyProvider::Local(local) => {
                let data_key = Zeroizing::new(Key::<Aes256Gcm>::generate().to_vec());
                let nonce = Nonce::generate();
                let sealed = local
                    .cipher()
                    .encrypt(&nonce, Payload { msg: &data_key, aad: &local_wrap_aad(owner) })
                    .map_err(|_| CryptoError::Decrypt)?;
                let mut wrapped = nonce.to_vec();
                wrapped.extend_from_slice(&sealed);
                Ok((data_key, wrapped))
            }
        }
    }

    async fn unwrap_data_key(
        &self,
        owner: SealedFor,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (context_key, context_value) = owner.context();
        let key = match self {
            KeyProvider::Kms(kms) => {
                let out = kms
                    .client
                    .decrypt()
                    .key_id(&kms.key_id)
                    .ciphertext_blob(Blob::new(wrapped))
                    .encryption_context(context_key, context_value)
                    .send()
                    .await
                    .map_err(kms_error)?;
                Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default())
            }
            KeyProvider::Local(local) => {
                if wrapped.len() != NONCE_LEN + KEY_LEN + TAG_LEN {
                    return Err(CryptoError::Malformed("wrapped key has the wrong length"));
                }
                let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
                Zeroizing::new(
                    local
                        .cipher()
                        .decrypt(&nonce_from(nonce)?, Payload { msg: sealed, aad: &local_wrap_aad(owner) })
                        .map_err(|_| CryptoError::Decrypt)?,
                )
            }
        };
        if key.len() != KEY_LEN {
            return Err(CryptoError::Decrypt);
        }
        Ok(key)
    }
}

fn cipher(key: &[u8]) -> Result<Aes256Gcm, CryptoError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Decrypt)
}

fn nonce_from(bytes: &[u8]) -> Result<aes_gcm::Nonce<aes_gcm::aead::consts::U12>, CryptoError> {
    Nonce::try_from(bytes).map_err(|_| CryptoError::Malformed("bad nonce"))
}

fn local_wrap_aad(owner: SealedFor) -> Vec<u8> {
    let (key, value) = owner.context();
    format!("ghsync-data-key\0{key}={value}").into_bytes()
}

/// Sorts KMS failures into what a caller can act on. Messages carry the service's error code
/// and message, never request data.
fn kms_error<E>(e: aws_sdk_kms::error::SdkError<E>) -> CryptoError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_kms::error::SdkError;
    match &e {
        SdkError::TimeoutError(_) => CryptoError::KmsUnavailable("timed out".into()),
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() { "timed out" } else { "cannot connect" };
            CryptoError::KmsUnavailable(what.into())
        }
        SdkError::ResponseError(_) => CryptoError::KmsUnavailable("unreadable response".into()),
        SdkError::ServiceError(s) => {
            let err = s.err();
            let code = err.code().unwrap_or("unknown error");
            let message = err.message().unwrap_or("");
            match code {
                "InvalidCiphertextException" | "IncorrectKeyException" => CryptoError::Decrypt,
                "ThrottlingException"
                | "KMSInternalException"
                | "DependencyTimeoutException"
                | "ServiceUnavailableException"
                | "LimitExceededException" => CryptoError::KmsUnavailable(format!("{code}: {message}")),
                _ => CryptoError::KmsRefused(format!("{code}: {message}")),
            }
        }
        _ => CryptoError::KmsUnavailable("request failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> KeyProvider {
        KeyProvider::Local(LocalKeys::from_hex(&"ab".repeat(32)).unwrap())
    }

    #[tokio::test]
    async fn local_round_trip_and_binding() {
        let keys = local();
        let (p, q) = (Uuid::new_v4(), Uuid::new_v4());
        let blob = keys.seal(p, &Secret::new("ghp_local")).await.unwrap();
        assert_eq!(keys.open(p, &blob).await.unwrap().expose(), "ghp_local");
        assert!(matches!(keys.open(q, &blob).await, Err(CryptoError::Decrypt)));
        assert!(matches!(keys.open(SealedFor::GitHubAppKey, &blob).await, Err(CryptoError::Decrypt)));
        let app = keys.seal(SealedFor::GitHubAppKey, &Secret::new("app key")).await.unwrap();
        assert_eq!(keys.open(SealedFor::GitHubAppKey, &app).await.unwrap().expose(), "app key");
        let key_as_secret = keys.open(SealedFor::GitHubAppWebhookSecret, &app).await;
        assert!(
            matches!(key_as_secret, Err(CryptoError::Decrypt)),
            "the key does not open as the webhook secret"
        );
        assert!(matches!(keys.open(p, &app).await, Err(CryptoError::Decrypt)));
        let other = KeyProvider::Local(LocalKeys::from_hex(&"cd".repeat(32)).unwrap());
        assert!(matches!(other.open(p, &blob).await, Err(CryptoError::Decrypt)));
    }

    #[tokio::test]
    async fn every_flipped_byte_is_refused() {
        let keys = local();
        let p = Uuid::new_v4();
        let blob = keys.seal(p, &Secret::new("ghp_flip")).await.unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(keys.open(p, &bad).await.is_err(), "byte {i} flipped still decrypts");
        }
        for len in 0..blob.len() {
            assert!(keys.open(p, &blob[..len]).await.is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn master_key_must_be_32_hex_bytes() {
        assert!(matches!(LocalKeys::from_hex("zz"), Err(CryptoError::BadMasterKey(_))));
        assert!(matches!(LocalKeys::from_hex(&"ab".repeat(31)), Err(CryptoError::BadMasterKey(_))));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let pat = Secret::new("ghp_supersecret");
        let keys = LocalKeys::from_hex(&"ab".repeat(32)).unwrap();
        let shown = format!("{pat:?} {keys:?} {:?}", KeyProvider::Local(keys.clone()));
        assert!(!shown.contains("ghp_supersecret") && !shown.contains("abab"), "{shown}");
    }
}
