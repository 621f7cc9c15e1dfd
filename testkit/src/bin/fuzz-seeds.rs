//! Writes the webhook fuzzer's seed inputs (GitHub-shaped deliveries from `events/`) into
//! `fuzz/corpus/webhook/`: `cargo run -p testkit --bin fuzz-seeds`.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/webhook");
    std::fs::create_dir_all(&dir).expect("create fuzz/corpus/webhook");
    for (i, (name, event)) in testkit::events::all().into_iter().enumerate() {
        if !name.starts_with("webhook-") || event["isBase64Encoded"] == true {
            continue;
        }
        let kind = event["headers"]["x-github-event"].as_str().unwrap_or("issues").to_string();
        let body = event["body"].as_str().unwrap_or_default().as_bytes().to_vec();
        let input = testkit::fuzz::seed(&kind, i as u8, &body);
        std::fs::write(dir.join(format!("seed-{}", name.trim_end_matches(".json"))), input)
            .expect("write seed");
    }
    println!("wrote seeds to {}", dir.display());
}
