//! SQLite's one writer, with group commit.
//!
//! SQLite has one writer at a time, and with `synchronous=FULL` every commit waits for an
//! fsync: one durable commit per change capped submissions at the disk's fsync rate. Here
//! concurrent changes share one commit:
//!
//! - The writer connection holds an open transaction, the *batch*. Each change runs inside
//!   a savepoint of it, in turn (the connection is behind a fair mutex).
//! - A change that finishes releases its savepoint. If nobody is queued for the writer, it
//!   commits the batch itself, at once: alone, a change costs what it did before. If others
//!   are queued, it hands the writer on and waits; the first change to hand on also queues a
//!   *closer* behind everyone queued at that moment, which commits the batch when its turn
//!   comes. Every change of the batch is answered once that commit is on disk, so nothing is
//!   acknowledged before it is durable.
//! - A change that fails (dropped without commit) rolls back only its own savepoint; the
//!   others in the batch are untouched. If the batch itself fails (the commit, or SQLite
//!   rolled the whole transaction back), every change in it gets the error and nothing of
//!   it stands.
//!
//! Readers never see a batch before its commit (WAL), exactly as they never saw a change
//! before its own commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::error::{Result, StoreError};

/// How long a change waits for its turn at the writer before it gives up (a 503).
const TURN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a batch's changes learn when it ends: `Ok` once its commit is durable.
type Outcome = Option<std::result::Result<(), String>>;

/// The writer connection and the batch it holds open.
pub(crate) struct Writer {
    state: Arc<Mutex<State>>,
    /// Changes waiting for their turn: while there are any, a finished change hands on
    /// instead of committing.
    queued: AtomicUsize,
    /// Durable commits and the changes they carried, for tests and metrics.
    commits: AtomicU64,
    changes: AtomicU64,
    /// Statements run by changes: each is a round trip to the connection's thread while
    /// the writer is held, the cost that bounds a batch once the fsync is shared.
    statements: AtomicU64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

struct State {
    /// `None` once closed.
    conn: Option<SqliteConnection>,
    batch: Option<Arc<Batch>>,
    /// A change was dropped while it held the writer: its savepoint is still open.
    abandoned: bool,
}

struct Batch {
    outcome: watch::Sender<Outcome>,
    /// Whether a closer is queued for this batch.
    closer: AtomicBool,
    changes: AtomicU64,
}

/// How many durable commits carried how many changes, since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub commits: u64,
    pub changes: u64,
    /// Statements the changes ran.
    pub statements: u64,
    /// Changes waiting for the writer right now.
    pub queued: usize,
}

async fn run(conn: &mut SqliteConnection, sql: &'static str) -> Result<()> {
    sqlx::raw_sql(sql).execute(conn).await?;
    Ok(())
}

fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

impl State {
    fn conn(&mut self) -> Result<&mut SqliteConnection> {
        self.conn.as_mut().ok_or_else(closed)
    }

    /// Rolls back the savepoint of a change that was dropped while it held the writer.
    async fn settle(&mut self) {
        if !std::mem::take(&mut self.abandoned) {
            return;
        }
        let undone = match self.conn() {
            Ok(conn) => match run(conn, "ROLLBACK TO tf_change").await {
                Ok(()) => run(conn, "RELEASE tf_change").await,
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        if let Err(error) = undone {
            self.fail(format!("rolling back a failed change: {error}"))
                .await;
        }
    }

    /// Ends the batch without committing it, and tells its changes why.
    async fn fail(&mut self, why: String) {
        if let Ok(conn) = self.conn() {
            // SQLite may have rolled the transaction back already; then this fails, harmlessly.
            let _ = run(conn, "ROLLBACK").await;
        }
        if let Some(batch) = self.batch.take() {
            tracing::error!(%why, "a group commit failed; its changes are rolled back");
            batch.outcome.send_replace(Some(Err(why)));
        }
    }

    /// Commits the open batch, if any, and answers its changes.
    async fn commit(&mut self, writer: &Writer) -> Result<()> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let committed = match self.conn() {
            Ok(conn) => run(conn, "COMMIT").await,
            Err(error) => Err(error),
        };
        match committed {
            Ok(()) => {
                writer.commits.fetch_add(1, Ordering::Relaxed);
                writer
                    .changes
                    .fetch_add(batch.changes.load(Ordering::Relaxed), Ordering::Relaxed);
                batch.outcome.send_replace(Some(Ok(())));
                Ok(())
            }
            Err(error) => {
                self.batch = Some(batch);
                self.fail(format!("commit: {error}")).await;
                Err(error)
            }
        }
    }
}

impl Writer {
    pub(crate) async fn connect(options: SqliteConnectOptions) -> Result<Arc<Self>> {
        let conn = options.connect().await?;
        Ok(Arc::new(Self {
            state: Arc::new(Mutex::new(State {
                conn: Some(conn),
                batch: None,
                abandoned: false,
            })),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            statements: AtomicU64::new(0),
        }))
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.commits.load(Ordering::Relaxed),
            changes: self.changes.load(Ordering::Relaxed),
            statements: self.statements.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
        }
    }

    /// Waits for the writer, counted as queued meanwhile.
    async fn turn(&self) -> Result<OwnedMutexGuard<State>> {
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.queued.fetch_add(1, Ordering::SeqCst);
        let _queued = Queued(&self.queued);
        tokio::time::timeout(TURN_TIMEOUT, self.state.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))
    }

    /// Starts a change: the writer's turn, in a savepoint of the open batch (or a new one).
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<Change> {
        let mut state = self.turn().await?;
        state.settle().await;
        if state.batch.is_none() {
            // IMMEDIATE: take SQLite's write lock now, so that a batch whose first change
            // reads before it writes cannot fail half-way with SQLITE_BUSY.
            run(state.conn()?, "BEGIN IMMEDIATE").await?;
            let (outcome, _) = watch::channel(None);
            state.batch = Some(Arc::new(Batch {
                outcome,
                closer: AtomicBool::new(false),
                changes: AtomicU64::new(0),
            }));
        }
        let Some(batch) = state.batch.clone() else {
            return Err(closed());
        };
        if let Err(error) = run(state.conn()?, "SAVEPOINT tf_change").await {
            state.fail(format!("savepoint: {error}")).await;
            return Err(error);
        }
        Ok(Change {
            state: Some(state),
            writer: self.clone(),
            batch,
        })
    }

    /// Commits whatever batch is open and closes the connection.
    pub(crate) async fn close(&self) {
        let mut state = self.state.clone().lock_owned().await;
        state.settle().await;
        let _ = state.commit(self).await;
        if let Some(conn) = state.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Runs `f` on the connection outside any batch (`VACUUM INTO` cannot run in a
    /// transaction): commits the open batch first.
    pub(crate) async fn outside_batch(&self, sql: String, bind: &str) -> Result<()> {
        let mut state = self.turn().await?;
        state.settle().await;
        state.commit(self).await?;
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bind)
            .execute(state.conn()?)
            .await?;
        Ok(())
    }
}

/// One change: the writer's turn, inside its savepoint. Dropped without [`Change::commit`]
/// it rolls back its savepoint only.
pub(crate) struct Change {
    state: Option<OwnedMutexGuard<State>>,
    writer: Arc<Writer>,
    batch: Arc<Batch>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change").finish_non_exhaustive()
    }
}

impl Change {
    /// The connection, for one statement of the change.
    pub(crate) fn conn(&mut self) -> Result<&mut SqliteConnection> {
        self.writer.statements.fetch_add(1, Ordering::Relaxed);
        self.state.as_mut().ok_or_else(closed)?.conn()
    }

    /// Keeps the change, and returns once it is durable: committed alone, or with the
    /// batch it joined.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let Some(mut state) = self.state.take() else {
            return Err(closed());
        };
        if let Err(error) = run(state.conn()?, "RELEASE tf_change").await {
            state.fail(format!("release: {error}")).await;
            return Err(error);
        }
        self.batch.changes.fetch_add(1, Ordering::Relaxed);
        self.finish(state).await
    }

    /// Undoes the change, and returns once the batch it ran in is durable: whatever it read
    /// of the changes before it (the row that beat it to a unique key) is then committed.
    pub(crate) async fn rollback(mut self) -> Result<()> {
        let Some(mut state) = self.state.take() else {
            return Err(closed());
        };
        state.abandoned = true;
        state.settle().await;
        self.finish(state).await
    }

    /// Commits the batch now if nobody waits for the writer; else hands the writer on and
    /// waits for the batch's commit.
    async fn finish(&self, mut state: OwnedMutexGuard<State>) -> Result<()> {
        let Some(open) = state.batch.clone().filter(|b| Arc::ptr_eq(b, &self.batch)) else {
            // The batch already failed (settling or releasing ended it).
            return self.outcome();
        };
        if self.writer.queued.load(Ordering::SeqCst) == 0 {
            return state.commit(&self.writer).await;
        }
        let mut outcome = open.outcome.subscribe();
        if !open.closer.swap(true, Ordering::SeqCst) {
            // Queued now, so behind every change waiting at this moment; spawned, so it
            // commits even if every change of the batch is cancelled meanwhile.
            let writer = self.writer.clone();
            let closer = writer.state.clone().lock_owned();
            tokio::spawn(async move {
                let mut state = closer.await;
                state.settle().await;
                if state
                    .batch
                    .as_ref()
                    .is_some_and(|still| Arc::ptr_eq(still, &open))
                {
                    let _ = state.commit(&writer).await;
                }
            });
        }
        drop(state);
        outcome
            .wait_for(Option::is_some)
            .await
            .map_err(|_| closed())?;
        self.outcome()
    }

    fn outcome(&self) -> Result<()> {
        match &*self.batch.outcome.borrow() {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(StoreError::Commit(why.clone())),
            None => Err(closed()),
        }
    }
}

impl Drop for Change {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        state.abandoned = true;
        // Settle now rather than at the next change, so that a batch whose other changes
        // handed the writer to this one is not left waiting for a change that may never come.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let writer = self.writer.clone();
            runtime.spawn(async move {
                state.settle().await;
                if writer.queued.load(Ordering::SeqCst) == 0 {
                    let _ = state.commit(&writer).await;
                }
            });
        }
    }
}
