//! The web console: static files embedded in the binary, served at `/` (index.html) and
//! `/console/{file}`: the page, its style sheet, and the native ES modules it loads
//! (main.js imports the others; no bundler). It only talks to the management API (with the
//! token the person signs in with). `GHSYNC_CONSOLE_DIR` serves the same file names from a
//! folder instead, for console work. console-test/ type-checks and tests the modules.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const JS: &str = "text/javascript; charset=utf-8";

/// Name, content type and text of each file; any other name is a 404.
const FILES: [(&str, &str, &str); 16] = [
    ("index.html", "text/html; charset=utf-8", include_str!("../console/index.html")),
    ("style.css", "text/css; charset=utf-8", include_str!("../console/style.css")),
    ("main.js", JS, include_str!("../console/main.js")),
    ("state.js", JS, include_str!("../console/state.js")),
    ("api.js", JS, include_str!("../console/api.js")),
    ("dom.js", JS, include_str!("../console/dom.js")),
    ("config.js", JS, include_str!("../console/config.js")),
    ("history.js", JS, include_str!("../console/history.js")),
    ("tasks.js", JS, include_str!("../console/tasks.js")),
    ("board.js", JS, include_str!("../console/board.js")),
    ("columns.js", JS, include_str!("../console/columns.js")),
    ("conflicts.js", JS, include_str!("../console/conflicts.js")),
    ("diff.js", JS, include_str!("../console/diff.js")),
    ("thread.js", JS, include_str!("../console/thread.js")),
    ("compose.js", JS, include_str!("../console/compose.js")),
    ("fields.js", JS, include_str!("../console/fields.js")),
];

/// `GET /` and `GET /console/{file}`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| serve("index.html")))
        .route("/console/{file}", get(|Path(file): Path<String>| async move { serve(&file).await }))
}

async fn serve(name: &str) -> Response {
    let Some((_, content_type, embedded)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = match std::env::var_os("GHSYNC_CONSOLE_DIR") {
        Some(dir) => match std::fs::read_to_string(std::path::Path::new(&dir).join(name)) {
            Ok(text) => text,
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
        None => (*embedded).to_string(),
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        ],
        body,
    )
        .into_response()
}
