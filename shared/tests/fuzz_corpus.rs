//! Replays the webhook fuzzer's kept corpus (`fuzz/corpus/webhook`): every input that once
//! taught the fuzzer something must still be handled without a panic, and a signed issues
//! delivery among them must still be applied.

#[tokio::test]
async fn the_fuzz_corpus_is_handled_without_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/webhook");
    let store = testkit::fuzz::store().await;
    let mut inputs: Vec<_> =
        std::fs::read_dir(&dir).expect("fuzz/corpus/webhook").map(|e| e.unwrap().path()).collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "the kept corpus is there");
    let mut applied = 0;
    for path in inputs {
        let data = std::fs::read(&path).unwrap();
        if let Ok(ghsync_shared::webhook::Handled::Applied { .. }) =
            testkit::fuzz::run_one(&store, &data).await
        {
            applied += 1;
        }
    }
    assert!(applied > 0, "some inputs reach the sync rules");
}
