//! PAT envelope encryption through AWS KMS, against the KMS-compatible server on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use ghsync_shared::crypto::{CryptoError, KeyProvider, Secret};
use uuid::Uuid;

async fn kms() -> KeyProvider {
    KeyProvider::Kms(testkit::kms::new_key().await)
}

#[tokio::test]
async fn a_pat_round_trips_through_kms() {
    let keys = kms().await;
    let project = Uuid::new_v4();
    let blob = keys.seal(project, &Secret::new("ghp_roundtrip")).await.unwrap();
    assert_eq!(blob[0], 0x01, "format byte of a KMS-wrapped key");
    assert!(!blob.windows(13).any(|w| w == b"ghp_roundtrip"), "no plaintext in the blob");
    assert_eq!(keys.open(project, &blob).await.unwrap().expose(), "ghp_roundtrip");
    // A fresh data key and nonce each time.
    assert_ne!(keys.seal(project, &Secret::new("ghp_roundtrip")).await.unwrap(), blob);
}

#[tokio::test]
async fn a_blob_does_not_open_for_another_project() {
    let keys = kms().await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
    let blob = keys.seal(mine, &Secret::new("ghp_bound")).await.unwrap();
    // Copied to another project's config: KMS refuses the encryption context.
    let err = keys.open(theirs, &blob).await.unwrap_err();
    assert!(matches!(err, CryptoError::Decrypt), "{err:?}");
}

#[tokio::test]
async fn a_flipped_byte_anywhere_is_refused() {
    let keys = kms().await;
    let project = Uuid::new_v4();
    let blob = keys.seal(project, &Secret::new("ghp_flip")).await.unwrap();
    let wrapped_len = u16::from_be_bytes([blob[1], blob[2]]) as usize;
    let nonce_at = 3 + wrapped_len;
    let regions = [
        ("format", 0),
        ("wrapped key length", 1),
        ("wrapped key, first byte", 3),
        ("wrapped key, middle", 3 + wrapped_len / 2),
        ("wrapped key, last byte", 3 + wrapped_len - 1),
        ("nonce", nonce_at + 5),
        ("ciphertext", nonce_at + 12),
        ("tag", blob.len() - 1),
    ];
    for (what, i) in regions {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        assert!(keys.open(project, &bad).await.is_err(), "{what} (byte {i}) flipped still decrypts");
    }
}

#[tokio::test]
async fn a_local_blob_is_not_opened_by_kms() {
    let local = KeyProvider::Local(ghsync_shared::crypto::LocalKeys::from_hex(&"11".repeat(32)).unwrap());
    let project = Uuid::new_v4();
    let blob = local.seal(project, &Secret::new("ghp_local")).await.unwrap();
    let err = kms().await.open(project, &blob).await.unwrap_err();
    assert!(matches!(err, CryptoError::WrongProvider { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_kms_is_a_clear_retryable_error() {
    let dead = testkit::UNREACHABLE.to_string();
    let keys = KeyProvider::Kms(testkit::kms::keys_at(&dead, "alias/ghsync").await);
    let err = keys.seal(Uuid::new_v4(), &Secret::new("ghp_x")).await.unwrap_err();
    assert!(matches!(err, CryptoError::KmsUnavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("ghp_x"));
}

#[tokio::test]
async fn a_throttling_kms_is_retried_with_backoff_then_reported() {
    // A server that throttles every call, counting them.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                axum::http::StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let keys = KeyProvider::Kms(testkit::kms::keys_at(&url, "alias/ghsync").await);
    let err = keys.seal(Uuid::new_v4(), &Secret::new("ghp_x")).await.unwrap_err();

    assert!(matches!(&err, CryptoError::KmsUnavailable(m) if m.contains("ThrottlingException")), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 4, "retried up to the attempt limit");
}
