//! The KMS-compatible server the test script starts (moto), reached through the AWS SDK's
//! own endpoint override.

use aws_sdk_kms::config::{Credentials, Region};
use ghsync_shared::crypto::KmsKeys;

/// The endpoint from `GHSYNC_TEST_KMS_URL`.
pub fn url() -> String {
    std::env::var("GHSYNC_TEST_KMS_URL").expect(
        "GHSYNC_TEST_KMS_URL is not set: run the tests with scripts/test.sh, which starts a \
         KMS-compatible server (moto), or point it at one",
    )
}

/// An SDK config loader for `endpoint` with test credentials.
pub fn loader(endpoint: &str) -> aws_config::ConfigLoader {
    ghsync_shared::crypto::sdk_config()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
}

/// Creates a fresh symmetric key on the test server and returns a provider for it.
pub async fn new_key() -> KmsKeys {
    let endpoint = url();
    let sdk = loader(&endpoint).load().await;
    let client = aws_sdk_kms::Client::new(&sdk);
    let key = client.create_key().description("ghsync test key").send().await.expect("CreateKey");
    let key_id = key.key_metadata().expect("key metadata").key_id().to_string();
    KmsKeys::from_loader(loader(&endpoint), key_id).await
}

/// A provider whose endpoint is `endpoint` (a dead port, a fault server) and key is `key_id`.
pub async fn keys_at(endpoint: &str, key_id: &str) -> KmsKeys {
    KmsKeys::from_loader(loader(endpoint), key_id).await
}
