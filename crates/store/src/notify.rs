//! PostgreSQL `LISTEN/NOTIFY`: the `postgres` bus of the realtime hub. A notification is
//! sent after a commit, never inside a business transaction (PostgreSQL takes a global lock
//! to deliver notifications at commit), and carries only a hint; the event log is the truth.

use sqlx::postgres::PgListener;

use crate::db::Db;
use crate::error::{Result, StoreError};

/// Sends `payload` on `channel` to every listener (PostgreSQL only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn notify(db: &Db, channel: &str, payload: &str) -> Result<()> {
    let pool = db.postgres().ok_or(StoreError::NotFound)?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(pool)
        .await?;
    Ok(())
}

/// A connection listening on one channel.
pub struct Listener {
    inner: PgListener,
}

impl Listener {
    /// Listens on `channels` over a connection of the database's pool (PostgreSQL only).
    pub async fn connect(db: &Db, channels: &[&str]) -> Result<Self> {
        let pool = db.postgres().ok_or(StoreError::NotFound)?;
        let mut inner = PgListener::connect_with(pool).await?;
        inner.listen_all(channels.iter().copied()).await?;
        Ok(Self { inner })
    }

    /// The next notification's channel and payload; `None` when the connection was lost
    /// (notifications sent meanwhile are gone: the caller reads the log again).
    pub async fn next(&mut self) -> Result<Option<(String, String)>> {
        Ok(self
            .inner
            .try_recv()
            .await?
            .map(|n| (n.channel().to_owned(), n.payload().to_owned())))
    }
}
