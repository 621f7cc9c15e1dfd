//! Replays the API fuzzer's kept corpus (`fuzz/corpus/api`): every input that once taught the
//! fuzzer something must still be answered without a panic or a 500, and some must still be
//! accepted (a 2xx).

#[tokio::test]
async fn the_api_fuzz_corpus_is_answered_without_panics_or_500s() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/api");
    let target = ghsync_api::fuzzing::target().await.unwrap();
    let mut inputs: Vec<_> =
        std::fs::read_dir(&dir).expect("fuzz/corpus/api").map(|e| e.unwrap().path()).collect();
    inputs.sort();
    assert!(inputs.len() >= 8, "the kept corpus is there");
    let mut accepted = 0;
    for path in inputs {
        let status = ghsync_api::fuzzing::run_one(&target, &std::fs::read(&path).unwrap()).await;
        accepted += usize::from(status.is_success());
    }
    assert!(accepted > 0, "some inputs reach the store");
}
