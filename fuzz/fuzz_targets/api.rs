//! Fuzzes the management API's request bodies (and the task list's query) against the router
//! on an in-memory SQLite store (`ghsync_api::fuzzing` describes the input format): a panic or
//! a 500 is a finding.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct World {
    runtime: tokio::runtime::Runtime,
    target: ghsync_api::fuzzing::Target,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let target = runtime.block_on(ghsync_api::fuzzing::target()).unwrap();
        World { runtime, target }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    w.runtime.block_on(ghsync_api::fuzzing::run_one(&w.target, data));
});
