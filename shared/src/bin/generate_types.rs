//! Writes the management API's TypeScript types to `shared/types.ts`.

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/types.ts");
    std::fs::write(path, ghsync_shared::contract::typescript()).expect("write shared/types.ts");
    println!("wrote {path}");
}
