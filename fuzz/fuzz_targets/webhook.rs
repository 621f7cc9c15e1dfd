//! Fuzzes the webhook entry: headers and body → verification, parsing and application
//! against an in-memory SQLite store (`testkit::fuzz` describes the input format).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct World {
    runtime: tokio::runtime::Runtime,
    store: ghsync_shared::Store,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = runtime.block_on(testkit::fuzz::store());
        World { runtime, store }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let _ = w.runtime.block_on(testkit::fuzz::run_one(&w.store, data));
});
