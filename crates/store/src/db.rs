//! Connections, transactions and statement execution for both backends.
//!
//! SQLite gets one writer connection (writes serialise anyway; a single connection avoids
//! `SQLITE_BUSY` between our own writers) on which concurrent changes share one durable
//! commit ([`crate::writer`]), plus a pool of read-only connections that WAL lets run beside
//! the writer.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_query::{PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder, Values};
use sea_query_sqlx::SqlxValues;
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, FromRow, Postgres, Sqlite, Transaction};

use crate::writer::{Change, CommitStats, Writer};

use domain::CompanyId;

use crate::error::Result;

/// Which database a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite's durability level. `Full` (the default) makes an acknowledged commit survive
/// power loss; `Normal` is faster but may lose the last commits on power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// `sqlite://path/to/file.db` or `postgres://...`.
    pub url: String,
    pub max_connections: u32,
    pub sqlite_sync: SqliteSync,
    pub busy_timeout: Duration,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            sqlite_sync: SqliteSync::Full,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug)]
enum Pools {
    Sqlite {
        writer: Arc<Writer>,
        readers: SqlitePool,
    },
    Postgres(PgPool),
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pools: Pools,
}

impl Db {
    /// Connects to the database named by the URL, creating an SQLite file if missing.
    #[tracing::instrument(skip_all)]
    pub async fn connect(options: &DbOptions) -> Result<Self> {
        let url = options.url.as_str();
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)?
                .log_statements(tracing::log::LevelFilter::Trace)
                .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
            let pool = PoolOptions::<Postgres>::new()
                .max_connections(options.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            Pools::Postgres(pool)
        } else {
            let synchronous = match options.sqlite_sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            };
            let base = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(options.busy_timeout)
                .log_statements(tracing::log::LevelFilter::Trace)
                .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
            // An SQLite connection lives in this process and cannot go stale, so the ping
            // sqlx sends before lending one out only costs a hand-off to the connection's
            // thread: a third of the list's round trips (docs/performance.md).
            let writer = Writer::connect(base.clone().create_if_missing(true)).await?;
            // Each reader is a thread of its own with its own page cache (up to 2 MiB):
            // beyond two per core they only add memory and context switches, and a reader
            // idle for a while is closed so that a server between bursts gives both back.
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
            let readers = PoolOptions::<Sqlite>::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections.clamp(1, (2 * cores).max(2)))
                .min_connections(1)
                .idle_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(base.read_only(true))
                .await?;
            Pools::Sqlite { writer, readers }
        };
        Ok(Self { pools })
    }

    /// The PostgreSQL pool, for what only PostgreSQL does (`LISTEN/NOTIFY`).
    pub(crate) fn postgres(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(pool) => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Starts a write transaction. On SQLite it is a change in the writer's current batch
    /// (group commit, [`crate::writer`]): isolated from readers and durable when
    /// [`Tx::commit`] returns, like a transaction of its own.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite { writer, .. } => Tx::new(Conn::Sqlite(writer.begin().await?)),
            Pools::Postgres(pool) => Tx::new(Conn::Postgres(pool.begin().await?)),
        })
    }

    /// How many durable commits SQLite's writer made, carrying how many changes (group
    /// commit); `None` on PostgreSQL, which commits concurrent transactions by itself.
    pub fn commit_stats(&self) -> Option<CommitStats> {
        match &self.pools {
            Pools::Sqlite { writer, .. } => Some(writer.stats()),
            Pools::Postgres(_) => None,
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        match &self.pools {
            Pools::Sqlite { readers, .. } => {
                sqlx::query("SELECT 1").execute(readers).await?;
            }
            Pools::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Copies the SQLite database into a consistent backup file (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, path: &str) -> Result<()> {
        if let Pools::Sqlite { writer, .. } = &self.pools {
            writer
                .outside_batch("VACUUM INTO ?".to_owned(), path)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { writer, readers } => {
                readers.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// An open write transaction; dropped without [`Tx::commit`] it rolls back. It remembers
/// what the change did beyond its rows (events appended, jobs queued), so that whoever
/// commits can tell the rest of the process once the change is durable.
#[derive(Debug)]
pub struct Tx {
    pub(crate) conn: Conn,
    effects: Effects,
    /// Events appended and not yet written (`events::append`), with the time of each.
    pub(crate) pending_events: Vec<(domain::event::NewEvent, chrono::DateTime<chrono::Utc>)>,
    /// When each worker given a task here was last given one (`tasks::note_assignment`).
    pub(crate) pending_assignments: Vec<(CompanyId, domain::UserId, chrono::DateTime<chrono::Utc>)>,
}

#[derive(Debug)]
pub(crate) enum Conn {
    Sqlite(Change),
    Postgres(Transaction<'static, Postgres>),
}

/// What a committed transaction did that others may be waiting for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Jobs were queued: the workers should look.
    pub jobs_queued: bool,
    /// The highest event id appended per company (`None`: platform events).
    pub events: Vec<(Option<CompanyId>, i64)>,
    /// Whose authentication the appended events may have changed, once each: a company's
    /// people, or `None` for everyone (`domain::event::NewEvent::reach`).
    pub identity: Vec<Option<CompanyId>>,
}

impl Tx {
    fn new(conn: Conn) -> Self {
        Self {
            conn,
            effects: Effects::default(),
            pending_events: Vec::new(),
            pending_assignments: Vec::new(),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) fn noted_job(&mut self) {
        self.effects.jobs_queued = true;
    }

    pub(crate) fn noted_event(&mut self, company: Option<CompanyId>, id: i64) {
        match self.effects.events.iter_mut().find(|(c, _)| *c == company) {
            Some((_, highest)) => *highest = (*highest).max(id),
            None => self.effects.events.push((company, id)),
        }
    }

    pub(crate) fn noted_identity(&mut self, reach: Option<CompanyId>) {
        if !self.effects.identity.contains(&reach) {
            self.effects.identity.push(reach);
        }
    }

    /// Runs SQL text as is (one or several statements, no parameters): migrations, and
    /// tests that must break the database behind the application's back.
    pub async fn execute_script(&mut self, sql: &str) -> Result<()> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &mut self.conn {
            Conn::Sqlite(change) => {
                sqlx::raw_sql(sql).execute(change.conn()?).await?;
            }
            Conn::Postgres(tx) => {
                sqlx::raw_sql(sql).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// Undoes the change. On SQLite it returns once the batch the change ran in is
    /// durable, so that a change which lost a race to a unique key can read the winner from
    /// the readers (which see only committed rows) and answer with it.
    pub async fn rollback(self) -> Result<()> {
        match self.conn {
            Conn::Sqlite(change) => change.rollback().await,
            Conn::Postgres(tx) => Ok(tx.rollback().await?),
        }
    }

    /// Commits; returns what the change did, for the one commit path of the use cases
    /// (`app::App::commit`), which wakes workers and notifies subscribers.
    pub async fn commit(mut self) -> Result<Effects> {
        // What the change kept to write last, so that the rows many changes update (the
        // assignees') stay locked only from here to the commit.
        crate::tasks::write_assignments(&mut self).await?;
        crate::events::write_appended(&mut self).await?;
        match self.conn {
            Conn::Sqlite(change) => change.commit().await?,
            Conn::Postgres(tx) => tx.commit().await?,
        }
        Ok(self.effects)
    }
}

/// A statement that renders itself for a backend: any sea-query statement, or [`Raw`] SQL
/// written per dialect.
pub trait Statement: Sync {
    fn render(&self, backend: Backend) -> (String, Values);
}

impl<T: QueryStatementWriter + Sync> Statement for T {
    fn render(&self, backend: Backend) -> (String, Values) {
        match backend {
            Backend::Sqlite => self.build(SqliteQueryBuilder),
            Backend::Postgres => self.build(PostgresQueryBuilder),
        }
    }
}

/// Hand-written SQL for the few places where the dialects differ. Placeholders are `?` for
/// SQLite and `$n` for PostgreSQL; `values` bind to both in order.
pub struct Raw {
    pub sqlite: &'static str,
    pub postgres: &'static str,
    pub values: Values,
}

impl Statement for Raw {
    fn render(&self, backend: Backend) -> (String, Values) {
        let sql = match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        };
        (sql.to_owned(), self.values.clone())
    }
}

#[derive(sqlx::FromRow)]
struct CountRow {
    n: i64,
}

/// How many rows `rows` finds, `rows` being a select of a table with its conditions and no
/// columns of its own: a list's total over all its pages.
pub(crate) async fn count(
    db: impl Exec,
    mut rows: sea_query::SelectStatement,
    column: impl sea_query::IntoColumnRef,
) -> Result<i64> {
    use sea_query::{Expr, Func};
    rows.expr_as(Func::cast_as(Func::count(Expr::col(column)), "BIGINT"), "n");
    let row: Option<CountRow> = db.fetch_optional(&rows).await?;
    Ok(row.map_or(0, |r| r.n))
}

/// A row type that decodes from both backends.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// Something statements run on: the database itself (`&Db`, reads go to the read pool) or
/// an open transaction (`&mut Tx`). Taken by value like sqlx's own executors.
pub trait Exec: Send {
    fn backend(&self) -> Backend;
    fn execute(self, stmt: &dyn Statement) -> impl Future<Output = Result<u64>> + Send;
    fn fetch_all<T: Row>(self, stmt: &dyn Statement)
    -> impl Future<Output = Result<Vec<T>>> + Send;
    fn fetch_optional<T: Row>(
        self,
        stmt: &dyn Statement,
    ) -> impl Future<Output = Result<Option<T>>> + Send;
}

macro_rules! run {
    ($method:ident, $query:ident, $executor:expr, $backend:expr, $stmt:expr) => {{
        let (sql, values) = $stmt.render($backend);
        sqlx::$query(AssertSqlSafe(sql), SqlxValues(values))
            .$method($executor)
            .await?
    }};
}

impl Exec for &Db {
    fn backend(&self) -> Backend {
        Db::backend(self)
    }

    async fn execute(self, stmt: &dyn Statement) -> Result<u64> {
        Ok(match &self.pools {
            // A change of its own, so it shares the batch's commit like any other.
            Pools::Sqlite { .. } => {
                let mut tx = self.begin().await?;
                let affected = Exec::execute(&mut tx, stmt).await?;
                tx.commit().await?;
                affected
            }
            Pools::Postgres(pool) => {
                run!(execute, query_with, pool, Backend::Postgres, stmt).rows_affected()
            }
        })
    }

    async fn fetch_all<T: Row>(self, stmt: &dyn Statement) -> Result<Vec<T>> {
        Ok(match &self.pools {
            Pools::Sqlite { readers, .. } => {
                run!(fetch_all, query_as_with, readers, Backend::Sqlite, stmt)
            }
            Pools::Postgres(pool) => run!(fetch_all, query_as_with, pool, Backend::Postgres, stmt),
        })
    }

    async fn fetch_optional<T: Row>(self, stmt: &dyn Statement) -> Result<Option<T>> {
        Ok(match &self.pools {
            Pools::Sqlite { readers, .. } => {
                run!(
                    fetch_optional,
                    query_as_with,
                    readers,
                    Backend::Sqlite,
                    stmt
                )
            }
            Pools::Postgres(pool) => {
                run!(fetch_optional, query_as_with, pool, Backend::Postgres, stmt)
            }
        })
    }
}

impl Exec for &mut Tx {
    fn backend(&self) -> Backend {
        Tx::backend(self)
    }

    async fn execute(self, stmt: &dyn Statement) -> Result<u64> {
        Ok(match &mut self.conn {
            Conn::Sqlite(change) => {
                run!(execute, query_with, change.conn()?, Backend::Sqlite, stmt).rows_affected()
            }
            Conn::Postgres(tx) => {
                run!(execute, query_with, &mut **tx, Backend::Postgres, stmt).rows_affected()
            }
        })
    }

    async fn fetch_all<T: Row>(self, stmt: &dyn Statement) -> Result<Vec<T>> {
        Ok(match &mut self.conn {
            Conn::Sqlite(change) => {
                run!(
                    fetch_all,
                    query_as_with,
                    change.conn()?,
                    Backend::Sqlite,
                    stmt
                )
            }
            Conn::Postgres(tx) => {
                run!(fetch_all, query_as_with, &mut **tx, Backend::Postgres, stmt)
            }
        })
    }

    async fn fetch_optional<T: Row>(self, stmt: &dyn Statement) -> Result<Option<T>> {
        Ok(match &mut self.conn {
            Conn::Sqlite(change) => {
                run!(
                    fetch_optional,
                    query_as_with,
                    change.conn()?,
                    Backend::Sqlite,
                    stmt
                )
            }
            Conn::Postgres(tx) => {
                run!(
                    fetch_optional,
                    query_as_with,
                    &mut **tx,
                    Backend::Postgres,
                    stmt
                )
            }
        })
    }
}
