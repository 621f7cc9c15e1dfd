//! Regenerates the sample Lambda events in `events/` so their signatures always match:
//! `cargo run -p testkit --bin gen-events`. Webhook events are signed with
//! [`testkit::events::SECRET`] (named in README.md).

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    std::fs::create_dir_all(&dir).expect("create events/");
    for (name, event) in testkit::events::all() {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(&event).expect("JSON") + "\n";
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("wrote {}", path.display());
    }
}
