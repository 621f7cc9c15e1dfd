//! `X-Hub-Signature-256`: the HMAC-SHA256 of the raw body under a configured secret, checked
//! in constant time before anything of the body is believed.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use super::WebhookError;
use crate::config::WebhookSecrets;

/// Checks `X-Hub-Signature-256` against every configured secret, in constant time.
pub fn verify_signature(
    secrets: Option<&WebhookSecrets>,
    signature_256: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let secrets = secrets.ok_or(WebhookError::NoSecret)?;
    let mac = parse_signature(signature_256)?;
    for secret in secrets.iter() {
        let mut h = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        h.update(body);
        if h.verify_slice(&mac).is_ok() {
            return Ok(());
        }
    }
    Err(WebhookError::BadSignature)
}

/// The MAC an `X-Hub-Signature-256` value carries (`sha256=` and 64 hex digits), or why it
/// cannot be one. Checked again before a body is read, so a request that can never verify
/// costs nothing.
pub fn parse_signature(signature_256: Option<&str>) -> Result<Vec<u8>, WebhookError> {
    let header = signature_256.ok_or(WebhookError::MissingSignature)?;
    let hex_mac = header.trim().strip_prefix("sha256=").ok_or(WebhookError::MalformedSignature)?;
    if hex_mac.len() != 64 {
        return Err(WebhookError::MalformedSignature);
    }
    hex::decode(hex_mac).map_err(|_| WebhookError::MalformedSignature)
}

/// `sha256=` + hex HMAC-SHA256 of `body`: what GitHub sends (tests and tools sign with it).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut h = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    h.update(body);
    format!("sha256={}", hex::encode(h.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &str) -> WebhookSecrets {
        WebhookSecrets::parse(list).unwrap()
    }

    #[test]
    fn githubs_documented_test_vector_verifies() {
        // From GitHub's "Validating webhook deliveries".
        let s = secrets("It's a Secret to Everybody");
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_signature(Some(&s), Some(header), b"Hello, World!").is_ok());
        assert_eq!(sign("It's a Secret to Everybody", b"Hello, World!"), header);
        assert!(matches!(
            verify_signature(Some(&s), Some(header), b"Hello, World?"),
            Err(WebhookError::BadSignature)
        ));
    }

    #[test]
    fn the_mac_is_over_the_raw_bytes() {
        let s = secrets("k");
        let raw = r#"{"title": "Caf\u00e9 — naïve ✓", "n": 1.0}"#.as_bytes();
        let header = sign("k", raw);
        assert!(verify_signature(Some(&s), Some(&header), raw).is_ok());
        let reserialised =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(raw).unwrap()).unwrap();
        assert_ne!(reserialised, raw);
        assert!(verify_signature(Some(&s), Some(&header), &reserialised).is_err());
    }

    #[test]
    fn any_configured_secret_verifies_during_rotation() {
        let s = secrets("old,new");
        assert!(verify_signature(Some(&s), Some(&sign("old", b"x")), b"x").is_ok());
        assert!(verify_signature(Some(&s), Some(&sign("new", b"x")), b"x").is_ok());
        assert!(verify_signature(Some(&s), Some(&sign("other", b"x")), b"x").is_err());
    }

    #[test]
    fn missing_malformed_or_unconfigured_is_refused() {
        let s = secrets("k");
        let good = sign("k", b"x");
        assert!(matches!(verify_signature(None, Some(&good), b"x"), Err(WebhookError::NoSecret)));
        assert!(matches!(verify_signature(Some(&s), None, b"x"), Err(WebhookError::MissingSignature)));
        for bad in ["", "sha256=", "sha1=abcd", &good[7..], &format!("{}0", &good), "sha256=zz"] {
            assert!(verify_signature(Some(&s), Some(bad), b"x").is_err(), "{bad:?}");
        }
    }
}
