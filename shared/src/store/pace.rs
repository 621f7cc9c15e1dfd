//! The pace of ghsync's writes per GitHub account (docs/comments.md, "Pacing"): every
//! mutating request of the comment pusher and every publication is reserved here first, so
//! that the account's content-creating requests stay under GitHub's secondary limits and its
//! writes keep their spacing, whichever worker or function sends them; and an account GitHub
//! asked to wait (a secondary-limit answer) waits as a whole.
//!
//! The rule is [`crate::sync::board_comments::next_write`].

use super::{Backend, Store, StoreError};
use crate::sync::board_comments::{Pace, next_write};
use crate::time::Timestamp;

impl Store {
    /// Reserves a mutating request through `account` at `now` when the pace allows it now
    /// (recorded, `Ok`), else says when it may go (`Err`, nothing recorded). `creates`: it
    /// creates content (a new comment or issue). One account's reservations are serialised.
    pub async fn reserve_write(
        &self,
        account: &str,
        creates: bool,
        pace: Pace,
        now: Timestamp,
    ) -> Result<Result<(), Timestamp>, StoreError> {
        let mut tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            // SQLite's transaction holds the write lock already; PostgreSQL takes one per account.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))::text")
                .bind(account)
                .execute(&mut *tx)
                .await?;
        }
        let window_start = now.minus(pace.hour.max(pace.minute).max(pace.spacing));
        sqlx::query("DELETE FROM github_writes WHERE account = $1 AND at < $2")
            .bind(account)
            .bind(window_start.to_sql())
            .execute(&mut *tx)
            .await?;
        let hold: Option<String> =
            sqlx::query_scalar("SELECT hold_until FROM github_write_holds WHERE account = $1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await?;
        let hold = super::rows::opt_ts("github_write_holds.hold_until", hold.as_deref())?;
        let writes: Vec<(String, i64)> =
            sqlx::query_as("SELECT at, creates FROM github_writes WHERE account = $1 ORDER BY at")
                .bind(account)
                .fetch_all(&mut *tx)
                .await?;
        let mut recent = Vec::with_capacity(writes.len());
        let mut last = None;
        for (at, created) in &writes {
            let at = super::rows::ts("github_writes.at", at)?;
            if *created == 1 {
                recent.push(at);
            }
            last = Some(last.map_or(at, |l: Timestamp| l.max(at)));
        }
        let mut at = next_write(pace, &recent, last, creates, now);
        if let Some(hold) = hold.filter(|h| *h > at) {
            at = hold;
        }
        if at > now {
            return Ok(Err(at));
        }
        sqlx::query("INSERT INTO github_writes (account, at, creates) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(now.to_sql())
            .bind(i64::from(creates))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// GitHub asked `account` to wait until `until` (a secondary limit): no reservation goes
    /// before then. Keeps the later of two holds.
    pub async fn hold_writes(&self, account: &str, until: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO github_write_holds (account, hold_until) VALUES ($1, $2) \
             ON CONFLICT (account) DO UPDATE SET hold_until = CASE \
             WHEN github_write_holds.hold_until > excluded.hold_until THEN github_write_holds.hold_until \
             ELSE excluded.hold_until END",
        )
        .bind(account)
        .bind(until.to_sql())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The account a config's writes count against: its App installation, or its token (by a
/// hash: the token itself is never stored in the clear).
pub fn account_of(installation: Option<i64>, token: &crate::crypto::Secret) -> String {
    use sha2::Digest;
    match installation {
        Some(id) => format!("installation:{id}"),
        None => {
            let digest = sha2::Sha256::digest(token.expose().as_bytes());
            let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
            format!("token:{hex}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Secret;

    #[test]
    fn an_account_is_named_without_its_token() {
        let token = Secret::new("ghp_paceTestToken0000000000000000001");
        let key = account_of(None, &token);
        assert!(key.starts_with("token:") && !key.contains("ghp_") && !key.contains("paceTest"), "{key}");
        assert_eq!(key, account_of(None, &Secret::new("ghp_paceTestToken0000000000000000001")));
        assert_ne!(key, account_of(None, &Secret::new("ghp_paceTestToken0000000000000000002")));
        // An installation's tokens rotate: its account is the installation.
        assert_eq!(account_of(Some(77), &token), "installation:77");
    }
}
