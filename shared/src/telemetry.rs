//! Logging: JSON lines in Lambda (and whenever stderr is not a terminal), readable text in a
//! terminal; the filter comes from `RUST_LOG` (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// An error and its sources on one line (`error: source: source…`), for logs and the
/// messages operators read; secrets never appear in these errors.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// A function that cannot start: logs why (one line an operator can act on, such as the
/// migration the database lacks) and exits, so Lambda reports an init failure.
pub fn cannot_start(error: &dyn std::error::Error) -> ! {
    tracing::error!(error = %ErrorChain(error), "cannot start");
    std::process::exit(1)
}

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if in_lambda || !std::io::stderr().is_terminal() {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
}
