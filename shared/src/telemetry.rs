//! Logging: JSON lines in Lambda (and whenever stderr is not a terminal), readable text in a
//! terminal. The filter comes from `RUST_LOG`, else from Lambda's own log-level control
//! (`ApplicationLogLevel`, which Lambda passes as `AWS_LAMBDA_LOG_LEVEL`), else `info`.

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

/// The log filter: `RUST_LOG` if set, else Lambda's application log level (TRACE, DEBUG,
/// INFO, WARN, ERROR, FATAL), else `info`.
pub fn log_filter(get: impl Fn(&str) -> Option<String>) -> String {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    if let Some(filter) = set("RUST_LOG") {
        return filter;
    }
    match set("AWS_LAMBDA_LOG_LEVEL").map(|l| l.trim().to_ascii_uppercase()).as_deref() {
        Some("TRACE") => "trace",
        Some("DEBUG") => "debug",
        Some("WARN") => "warn",
        Some("ERROR" | "FATAL") => "error",
        _ => "info",
    }
    .to_string()
}

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter = log_filter(|name| std::env::var(name).ok());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if in_lambda || !std::io::stderr().is_terminal() {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_log_wins_then_lambdas_log_level_then_info() {
        let filter = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> =
                vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            super::log_filter(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        assert_eq!(filter(&[]), "info");
        assert_eq!(filter(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]), "debug");
        assert_eq!(filter(&[("AWS_LAMBDA_LOG_LEVEL", "warn")]), "warn");
        assert_eq!(filter(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), "error");
        assert_eq!(
            filter(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "ghsync_shared=trace")]),
            "ghsync_shared=trace"
        );
        assert_eq!(filter(&[("RUST_LOG", " ")]), "info");
    }
}
