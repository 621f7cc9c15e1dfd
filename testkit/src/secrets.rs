//! Secrets Manager on the test server (moto, the same endpoint as KMS).

/// Creates a secret holding `value` (a JSON object); returns its ARN.
pub async fn create(value: &serde_json::Value) -> String {
    let client = client().await;
    let name = format!("ghsync-test-{}", uuid::Uuid::new_v4().simple());
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("CreateSecret");
    created.arn().expect("an ARN").to_string()
}

/// Stores a new value of `arn` (a rotation).
pub async fn rotate(arn: &str, value: &serde_json::Value) {
    client()
        .await
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("PutSecretValue");
}

async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&crate::kms::loader(&crate::kms::url()).load().await)
}
