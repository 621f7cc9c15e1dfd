//! Timestamps as stored: UTC, millisecond precision, one fixed-width text form.
//!
//! Both backends keep times as TEXT (`2026-01-05T10:00:00.000Z`). Because every stored value
//! has the same width and zone, comparing the text in SQL orders the instants, on SQLite and
//! PostgreSQL alike. The migrations' column defaults produce the same form.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// An instant in UTC, truncated to milliseconds (the precision stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(DateTime<Utc>);

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

impl Timestamp {
    /// The current instant.
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    /// The text stored in the database.
    pub fn to_sql(self) -> String {
        self.0.format(FORMAT).to_string()
    }

    /// The wrapped `chrono` value.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// `self + d`, saturating instead of overflowing.
    pub fn plus(self, d: chrono::Duration) -> Self {
        Self(self.0.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC))
    }

    /// The earlier of two times either of which may be absent (`None` only when both are).
    pub fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `self - d`, saturating instead of overflowing.
    pub fn minus(self, d: chrono::Duration) -> Self {
        Self(self.0.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// Whole milliseconds from `earlier` to `self` (0 when `earlier` is later).
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0).num_milliseconds().max(0)
    }
}

// In the API contract a timestamp is an RFC 3339 string.
string_in_contract!(Timestamp, |b| {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
    b.format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))).examples(["2026-01-05T10:00:00.000Z"])
});

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3))
    }
}

impl FromStr for Timestamp {
    type Err = chrono::ParseError;

    /// Accepts any RFC 3339 time (GitHub's `2026-01-05T10:00:00Z` included).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sql())
    }
}

/// When a run stops starting new work (a config, a page, a push): the Lambda invocation's
/// deadline less a reserve, a CLI `--time-limit`, or never. What was started finishes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline(Option<std::time::Instant>);

impl Deadline {
    /// No deadline: a run goes on until its work is done.
    pub const NONE: Deadline = Deadline(None);

    /// New work may start until `instant`.
    pub fn at(instant: std::time::Instant) -> Self {
        Deadline(Some(instant))
    }

    /// Whether the deadline has come (nothing new is started then).
    pub fn passed(self) -> bool {
        self.0.is_some_and(|d| std::time::Instant::now() >= d)
    }
}

impl From<Option<std::time::Instant>> for Deadline {
    fn from(instant: Option<std::time::Instant>) -> Self {
        Deadline(instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_orders_like_the_instants() {
        let times = [
            "2026-01-05T09:59:59.999Z",
            "2026-01-05T10:00:00Z",
            "2026-01-05T10:00:00.001+00:00",
            "2026-01-05T11:00:00.5+01:00", // 10:00:00.500 UTC
            "2026-01-05T10:00:01Z",
        ];
        let parsed: Vec<Timestamp> = times.iter().map(|t| t.parse().unwrap()).collect();
        let mut by_instant = parsed.clone();
        by_instant.sort();
        let mut by_text: Vec<String> = parsed.iter().map(|t| t.to_sql()).collect();
        by_text.sort();
        let expected: Vec<String> = by_instant.iter().map(|t| t.to_sql()).collect();
        assert_eq!(by_text, expected);
        assert_eq!(parsed[1].to_sql(), "2026-01-05T10:00:00.000Z");
        assert_eq!(parsed[3].to_sql(), "2026-01-05T10:00:00.500Z");
    }

    #[test]
    fn round_trips_through_its_stored_text() {
        let t = Timestamp::now();
        assert_eq!(t.to_sql().parse::<Timestamp>().unwrap(), t);
    }
}
