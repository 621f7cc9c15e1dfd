//! Bounded lists: the API answers every list in pages of at most `limit` items and about a
//! megabyte (Lambda's synchronous response cap is 6 MB), each with an opaque cursor for the
//! next. Pages are keyset pages (after the last item's sort key), so a page costs the same
//! at any depth and rows added meanwhile never shift what follows.

use serde::Serialize;
use uuid::Uuid;

use crate::domain::{ConflictResolution, SyncHistory, TaskComment, TaskOrder, TaskWithLink, ValidationError};
use crate::time::Timestamp;

/// Items of a page when the request names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 500;
/// A page stops before its items' JSON would pass this many bytes (1 MB, less room for the
/// envelope), unless its first item alone does.
pub const MAX_PAGE_BYTES: usize = 1_000_000 - 1_024;

/// Where a page starts: right after the item with this sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub at: Timestamp,
    pub id: Uuid,
}

/// A cursor that is not one this API gave out (HTTP 400).
#[derive(Debug, thiserror::Error)]
#[error("cursor is not one this API gave out")]
pub struct BadCursor;

impl Cursor {
    /// The opaque text form handed to clients.
    pub fn encode(&self) -> String {
        hex::encode(format!("{}|{}", self.at.to_sql(), self.id))
    }

    pub fn decode(text: &str) -> Result<Self, BadCursor> {
        Self::decode_in(text, None)
    }

    /// The text form of a cursor into a list sorted other than by its default order: the
    /// `order` is part of it, so a cursor of one order is refused by another.
    pub fn encode_in(&self, order: &str) -> String {
        hex::encode(format!("{order}|{}|{}", self.at.to_sql(), self.id))
    }

    /// Decodes a cursor given out for `order` (`None`: the list's default order).
    pub fn decode_in(text: &str, order: Option<&str>) -> Result<Self, BadCursor> {
        let raw = hex::decode(text).map_err(|_| BadCursor)?;
        let raw = std::str::from_utf8(&raw).map_err(|_| BadCursor)?;
        let raw = match order {
            None => raw,
            Some(order) => raw.strip_prefix(order).and_then(|r| r.strip_prefix('|')).ok_or(BadCursor)?,
        };
        let (at, id) = raw.split_once('|').ok_or(BadCursor)?;
        Ok(Self { at: at.parse().map_err(|_| BadCursor)?, id: Uuid::parse_str(id).map_err(|_| BadCursor)? })
    }
}

/// One page asked for: how many items at most, after which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<Cursor>,
}

/// Why a page request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PageRequestError {
    /// `limit` out of range (HTTP 422).
    #[error(transparent)]
    Limit(ValidationError),
    /// A cursor this API did not give out (HTTP 400).
    #[error(transparent)]
    Cursor(#[from] BadCursor),
}

impl PageRequest {
    /// From the query's `limit` (default [`DEFAULT_LIMIT`], 1 to [`MAX_LIMIT`]) and `cursor`.
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, PageRequestError> {
        Self::new_in(limit, cursor, None)
    }

    /// The same for a list sorted in `order` (see [`Cursor::encode_in`]); `None`: its default.
    pub fn new_in(
        limit: Option<i64>,
        cursor: Option<&str>,
        order: Option<&str>,
    ) -> Result<Self, PageRequestError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(PageRequestError::Limit(ValidationError::new(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}, not {n}"),
                )));
            }
        };
        let after = cursor.filter(|c| !c.is_empty()).map(|c| Cursor::decode_in(c, order)).transpose()?;
        Ok(Self { limit, after })
    }

    /// Every item at once: for the library's own callers (the CLI's `--all`, tests),
    /// never an API answer.
    pub fn everything() -> Self {
        Self { limit: (i64::MAX - 1) as usize, after: None }
    }

    /// What the store fetches: one more than the page holds, to tell whether more follow.
    pub fn fetch(&self) -> i64 {
        self.limit as i64 + 1
    }
}

/// An item of a keyset-paged list.
pub trait Keyed {
    /// The item's sort key, as the next page's cursor.
    fn key(&self) -> Cursor;
}

impl Keyed for TaskWithLink {
    fn key(&self) -> Cursor {
        Cursor { at: self.task.created_at, id: self.task.id }
    }
}

impl Keyed for ConflictResolution {
    fn key(&self) -> Cursor {
        Cursor { at: self.detected_at, id: self.id }
    }
}

impl Keyed for TaskComment {
    fn key(&self) -> Cursor {
        Cursor { at: self.created_at, id: self.id }
    }
}

impl Keyed for SyncHistory {
    fn key(&self) -> Cursor {
        Cursor { at: self.started_at, id: self.id }
    }
}

/// Cuts what the store fetched (up to [`PageRequest::fetch`] items, in order) to a page:
/// at most `limit` items and [`MAX_PAGE_BYTES`] of JSON (at least one item), and the cursor
/// of the next page when more follow.
pub fn page_of<T: Keyed + Serialize>(fetched: Vec<T>, request: &PageRequest) -> (Vec<T>, Option<String>) {
    page_by(fetched, request, |last| last.key().encode())
}

/// [`page_of`] for a list in another order: `cursor` gives the next page's cursor after an
/// item.
pub fn page_by<T: Serialize>(
    fetched: Vec<T>,
    request: &PageRequest,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let mut items = Vec::with_capacity(fetched.len().min(request.limit));
    let mut bytes = 0;
    let total = fetched.len();
    for item in fetched {
        if items.len() == request.limit {
            break;
        }
        let size = serde_json::to_vec(&item).map_or(0, |json| json.len() + 1);
        if !items.is_empty() && bytes + size > MAX_PAGE_BYTES {
            break;
        }
        bytes += size;
        items.push(item);
    }
    let more = total > items.len();
    let next = more.then(|| items.last().map(&cursor)).flatten();
    (items, next)
}

/// Declares a page type of the API contract (a concrete type per item, as the contract
/// tools want them).
macro_rules! page_type {
    ($(#[$m:meta])* $name:ident, $item:ty) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// The `cursor` of the next page; `null` on the last.
            pub next_cursor: Option<String>,
        }

        impl $name {
            /// The page of what the store fetched for `request`.
            pub fn of(fetched: Vec<$item>, request: &PageRequest) -> Self {
                let (items, next_cursor) = page_of(fetched, request);
                Self { items, next_cursor }
            }
        }
    };
}

page_type!(
    /// `GET /api/projects/{id}/tasks`: tasks, oldest first (or newest-updated first).
    TaskPage,
    TaskWithLink
);

impl TaskPage {
    /// The page of what the store fetched for `request` in `order`.
    pub fn in_order(fetched: Vec<TaskWithLink>, request: &PageRequest, order: TaskOrder) -> Self {
        let (items, next_cursor) = match order {
            TaskOrder::Created => page_of(fetched, request),
            TaskOrder::Updated => page_by(fetched, request, |t| {
                Cursor { at: t.task.updated_at, id: t.task.id }.encode_in(TaskOrder::Updated.as_str())
            }),
        };
        Self { items, next_cursor }
    }
}
page_type!(
    /// `GET /api/projects/{id}/conflicts`: conflicts, newest first.
    ConflictPage,
    ConflictResolution
);
page_type!(
    /// `GET /api/tasks/{id}/comments`: a task's thread, oldest first.
    TaskCommentPage,
    TaskComment
);
page_type!(
    /// `GET /api/projects/{id}/sync-history/runs`: sync runs, newest first.
    SyncRunPage,
    SyncHistory
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let c = Cursor { at: "2026-01-05T10:00:00.123Z".parse().unwrap(), id: Uuid::now_v7() };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(Cursor::decode_in(&c.encode_in("updated"), Some("updated")).unwrap(), c);
        // A cursor of one order is refused by another.
        assert!(Cursor::decode(&c.encode_in("updated")).is_err());
        assert!(Cursor::decode_in(&c.encode(), Some("updated")).is_err());
        assert!(Cursor::decode_in(&c.encode_in("created"), Some("updated")).is_err());
        for bad in ["", "zz", "00", &hex::encode("2026|x"), &hex::encode("nodate|0191")] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_are_between_one_and_five_hundred() {
        assert_eq!(PageRequest::new(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(PageRequest::new(Some(500), None).unwrap().limit, 500);
        for bad in [0, -1, 501] {
            assert!(
                matches!(PageRequest::new(Some(bad), None), Err(PageRequestError::Limit(e)) if e.field == "limit")
            );
        }
        assert!(matches!(PageRequest::new(None, Some("nope")), Err(PageRequestError::Cursor(_))));
    }
}
