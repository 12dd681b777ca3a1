//! The storage bound: the rows a submission inserts, inserted by the smallest program that can
//! (one transaction per submission, no layers) with the server's durability settings — SQLite
//! in WAL mode with `synchronous=FULL` through one writer connection, or PostgreSQL with its
//! default `synchronous_commit=on` through a pool as large as the server's — at the same
//! concurrency. What a submission costs beyond that is what our layers cost.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, Row};

/// A connection to the database under test, or to the bound's own database.
#[derive(Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        if url.starts_with("postgres") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .connect(url)
                .await
                .with_context(|| format!("connecting to {url}"))?;
            Ok(Self::Postgres(pool))
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await
                .with_context(|| format!("opening {url}"))?;
            Ok(Self::Sqlite(pool))
        }
    }

    async fn execute(&self, sql: &str) -> Result<()> {
        match self {
            Self::Sqlite(pool) => pool.execute(safe(sql)).await.map(|_| ()),
            Self::Postgres(pool) => pool.execute(safe(sql)).await.map(|_| ()),
        }
        .with_context(|| sql.to_owned())
    }

    pub async fn count(&self, sql: &str) -> Result<i64> {
        Ok(match self {
            Self::Sqlite(pool) => sqlx::query(safe(sql)).fetch_one(pool).await?.try_get(0)?,
            Self::Postgres(pool) => sqlx::query(safe(sql)).fetch_one(pool).await?.try_get(0)?,
        })
    }

    async fn names(&self, sql: &str) -> Result<Vec<String>> {
        let names = match self {
            Self::Sqlite(pool) => sqlx::query_scalar(safe(sql)).fetch_all(pool).await?,
            Self::Postgres(pool) => sqlx::query_scalar(safe(sql)).fetch_all(pool).await?,
        };
        Ok(names)
    }

    /// Rows in every table of the schema (SQLite's FTS5 index counted once, not by its
    /// shadow tables).
    pub async fn total_rows(&self) -> Result<i64> {
        let tables = match self {
            Self::Sqlite(_) => {
                let all = self
                    .names("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                    .await?;
                let virtual_tables = self
                    .names("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'")
                    .await?;
                all.into_iter()
                    .filter(|name| {
                        !virtual_tables
                            .iter()
                            .any(|v| name.starts_with(&format!("{v}_")))
                    })
                    .collect::<Vec<_>>()
            }
            Self::Postgres(_) => {
                self.names(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                )
                .await?
            }
        };
        let mut total = 0;
        for table in tables {
            total += self
                .count(&format!("SELECT COUNT(*) FROM \"{table}\""))
                .await?;
        }
        Ok(total)
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// The bench's SQL is its own text and table names read from the catalogue, never input.
pub fn safe(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_owned())
}

#[derive(Clone, Debug, Serialize)]
pub struct Bound {
    pub transactions: u64,
    pub rows_per_transaction: u64,
    pub payload_bytes: usize,
    pub seconds: f64,
    pub transactions_per_second: f64,
}

/// Inserts `transactions` transactions of `rows` rows each from `concurrency` tasks.
pub async fn bound(
    db: &Db,
    concurrency: usize,
    transactions: u64,
    rows: u64,
    payload_bytes: usize,
) -> Result<Bound> {
    db.execute("DROP TABLE IF EXISTS storage_bound").await?;
    let key = match db {
        Db::Sqlite(_) => "BLOB",
        Db::Postgres(_) => "UUID",
    };
    db.execute(&format!(
        "CREATE TABLE storage_bound (id {key} PRIMARY KEY, tx BIGINT NOT NULL, payload TEXT NOT NULL)"
    ))
    .await?;
    let payload: Arc<str> = "x".repeat(payload_bytes).into();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (db, payload, next) = (db.clone(), payload.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= transactions {
                    return Ok::<(), anyhow::Error>(());
                }
                insert(&db, n, rows, &payload).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    db.execute("DROP TABLE storage_bound").await?;
    Ok(Bound {
        transactions,
        rows_per_transaction: rows,
        payload_bytes,
        seconds,
        transactions_per_second: transactions as f64 / seconds,
    })
}

async fn insert(db: &Db, n: u64, rows: u64, payload: &str) -> Result<()> {
    let n = i64::try_from(n)?;
    match db {
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for _ in 0..rows {
                sqlx::query("INSERT INTO storage_bound (id, tx, payload) VALUES (?, ?, ?)")
                    .bind(uuid::Uuid::now_v7())
                    .bind(n)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for _ in 0..rows {
                sqlx::query("INSERT INTO storage_bound (id, tx, payload) VALUES ($1, $2, $3)")
                    .bind(uuid::Uuid::now_v7())
                    .bind(n)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Drops the database `name` on the PostgreSQL server of `admin_url` (any database there)
/// and, with `create`, makes it again, empty; answers its URL.
pub async fn recreate_database(admin_url: &str, name: &str, create: bool) -> Result<String> {
    let admin = Db::connect(admin_url, 1).await?;
    let Db::Postgres(pool) = &admin else {
        anyhow::bail!("{admin_url} is not a postgres:// URL");
    };
    sqlx::query(safe(&format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(pool)
    .await
    .with_context(|| format!("dropping the database {name}"))?;
    if create {
        sqlx::query(safe(&format!("CREATE DATABASE {name}")))
            .execute(pool)
            .await
            .with_context(|| format!("creating the database {name}"))?;
    }
    admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .context("the PostgreSQL URL names no database")?;
    Ok(format!("{base}/{name}"))
}
