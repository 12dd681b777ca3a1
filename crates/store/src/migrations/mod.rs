//! Schema migrations, one file each (`mNNNN_name.rs`), written once with sea-query's schema
//! builder and rendered for each backend. Each migration runs in its own transaction; on PostgreSQL an advisory lock
//! keeps two servers starting at once from racing.

mod kit;
use kit::timestamp;
mod m0001_foundation;
mod m0002_identity;
mod m0003_workflow_design;
mod m0004_ticket_runtime;
mod m0005_hot_path_indexes;
mod m0006_queue_loads;
mod m0007_search_rows;
mod m0008_note_search;
mod m0009_company_data_limits;
mod m0010_database_epoch;
mod m0011_state_checks;
mod m0012_search_words;
mod m0013_conversations;
mod m0014_question_templates;
mod m0015_chat_settings;
mod m0016_message_search;
mod m0017_channels;
mod m0018_error_log;
mod m0019_relay_cursors;
mod m0020_canned_replies;
mod m0021_notifications;

use chrono::Utc;
use sea_query::{
    ColumnDef, PostgresQueryBuilder, Query, SchemaStatementBuilder, SqliteQueryBuilder, Table,
};

use crate::db::{Backend, Db, Exec, Raw, Tx};
use crate::error::Result;
use crate::schema::*;

/// One step of the schema's history. Never edit a released migration; add a new one.
struct Migration {
    version: i64,
    name: &'static str,
    up: fn(Backend) -> Vec<String>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation: companies, users, events, jobs",
        up: m0001_foundation::up,
    },
    Migration {
        version: 2,
        name: "identity: company roles, sessions, refresh tokens, login log, password resets, mail outbox, api tokens",
        up: m0002_identity::up,
    },
    Migration {
        version: 3,
        name: "workflow design: design objects, published workflow versions",
        up: m0003_workflow_design::up,
    },
    Migration {
        version: 4,
        name: "ticket runtime: tickets, task instances, workflow errors, comments, attachments, search",
        up: m0004_ticket_runtime::up,
    },
    Migration {
        version: 5,
        name: "hot-path indexes: tasks by ticket within a company, tickets by time with the id tiebreak",
        up: m0005_hot_path_indexes::up,
    },
    Migration {
        version: 6,
        name: "queue loads: a worker's last assignment on the user row, open tasks by holder",
        up: m0006_queue_loads::up,
    },
    Migration {
        version: 7,
        name: "search rows by ticket on SQLite: a stable FTS rowid per ticket",
        up: m0007_search_rows::up,
    },
    Migration {
        version: 8,
        name: "internal notes searched apart from what requesters may read",
        up: m0008_note_search::up,
    },
    Migration {
        version: 9,
        name: "a company's own bounds of ticket data",
        up: m0009_company_data_limits::up,
    },
    Migration {
        version: 10,
        name: "the database's epoch: a random id made once, for event cursors",
        up: m0010_database_epoch::up,
    },
    Migration {
        version: 11,
        name: "runtime states checked by the database: task, workflow run and workflow error statuses and types",
        up: m0011_state_checks::up,
    },
    Migration {
        version: 12,
        name: "searchable text rebuilt, cut into words by the application, with the requester",
        up: m0012_search_words::up,
    },
    Migration {
        version: 13,
        name: "support conversations, hash-chained messages, read watermarks",
        up: m0013_conversations::up,
    },
    Migration {
        version: 14,
        name: "question templates, and the template and structured answer of a message",
        up: m0014_question_templates::up,
    },
    Migration {
        version: 15,
        name: "chat settings per company, files on conversation messages, sealed message bodies, teams of conversations",
        up: m0015_chat_settings::up,
    },
    Migration {
        version: 16,
        name: "message search: conversation messages' words, for who may read them",
        up: m0016_message_search::up,
    },
    Migration {
        version: 17,
        name: "channels: API and test channels, contacts, inbound events, deliveries and their attempts, event webhook subscriptions",
        up: m0017_channels::up,
    },
    Migration {
        version: 18,
        name: "error log: every 5xx answer, for platform staff",
        up: m0018_error_log::up,
    },
    Migration {
        version: 19,
        name: "relay cursors: how far each relay of the event log (the NATS publisher) has come",
        up: m0019_relay_cursors::up,
    },
    Migration {
        version: 20,
        name: "canned replies: a company's texts inserted by shortcut",
        up: m0020_canned_replies::up,
    },
    Migration {
        version: 21,
        name: "notifications: what people are told, their preferences, ticket follows, push subscriptions and devices",
        up: m0021_notifications::up,
    },
];

/// Where the database stands relative to this binary's migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<i64>,
    pub pending: Vec<i64>,
    /// Applied versions this binary does not know: the database is newer than the code.
    pub unknown: Vec<i64>,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty()
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
}

/// Applies every pending migration and returns the versions applied.
#[tracing::instrument(skip_all)]
pub async fn run(db: &Db) -> Result<Vec<i64>> {
    let mut tx = db.begin().await?;
    if tx.backend() == Backend::Postgres {
        exec_sql(&mut tx, "SELECT pg_advisory_xact_lock(7366351873)").await?;
    }
    let ledger = ledger_table(tx.backend());
    exec_sql(&mut tx, &ledger).await?;
    let applied = applied_versions(&mut tx).await?;
    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        for sql in (migration.up)(tx.backend()) {
            exec_sql(&mut tx, &sql).await?;
        }
        let record = Query::insert()
            .into_table(SchemaMigrations::Table)
            .columns([
                SchemaMigrations::Version,
                SchemaMigrations::Name,
                SchemaMigrations::AppliedAt,
            ])
            .values_panic([
                migration.version.into(),
                migration.name.into(),
                Utc::now().into(),
            ])
            .to_owned();
        (&mut tx).execute(&record).await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
        done.push(migration.version);
    }
    tx.commit().await?;
    Ok(done)
}

/// Compares the database's ledger with this binary's migrations.
pub async fn status(db: &Db) -> Result<MigrationStatus> {
    let ledger_exists: Option<VersionRow> = db
        .fetch_optional(&Raw {
            sqlite: "SELECT 1 AS version FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            postgres: "SELECT 1::BIGINT AS version FROM pg_tables WHERE tablename = 'schema_migrations' AND schemaname = current_schema()",
            values: sea_query::Values(Vec::new()),
        })
        .await?;
    let applied = if ledger_exists.is_some() {
        let select = Query::select()
            .column(SchemaMigrations::Version)
            .from(SchemaMigrations::Table)
            .order_by(SchemaMigrations::Version, sea_query::Order::Asc)
            .to_owned();
        db.fetch_all::<VersionRow>(&select)
            .await?
            .into_iter()
            .map(|r| r.version)
            .collect()
    } else {
        Vec::new()
    };
    let known: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    Ok(MigrationStatus {
        pending: known
            .iter()
            .copied()
            .filter(|v| !applied.contains(v))
            .collect(),
        unknown: applied
            .iter()
            .copied()
            .filter(|v| !known.contains(v))
            .collect(),
        applied,
    })
}

async fn applied_versions(tx: &mut Tx) -> Result<Vec<i64>> {
    let select = Query::select()
        .column(SchemaMigrations::Version)
        .from(SchemaMigrations::Table)
        .to_owned();
    Ok(tx
        .fetch_all::<VersionRow>(&select)
        .await?
        .into_iter()
        .map(|r| r.version)
        .collect())
}

async fn exec_sql(tx: &mut Tx, sql: &str) -> Result<()> {
    tx.execute_script(sql).await
}

pub(super) fn render(backend: Backend, statement: &impl SchemaStatementBuilder) -> String {
    match backend {
        Backend::Sqlite => statement.build(SqliteQueryBuilder),
        Backend::Postgres => statement.build(PostgresQueryBuilder),
    }
}

fn ledger_table(backend: Backend) -> String {
    let table = Table::create()
        .table(SchemaMigrations::Table)
        .if_not_exists()
        .col(
            ColumnDef::new(SchemaMigrations::Version)
                .big_integer()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(SchemaMigrations::Name).text().not_null())
        .col(timestamp(SchemaMigrations::AppliedAt))
        .to_owned();
    render(backend, &table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn renders_for_both_backends() {
        for migration in MIGRATIONS {
            let rendered = [Backend::Sqlite, Backend::Postgres].map(|b| (migration.up)(b));
            // Only a fix of one backend's storage may leave the other alone.
            assert!(
                rendered.iter().all(|r| !r.is_empty()) || migration.name.contains("on SQLite"),
                "{}",
                migration.name
            );
        }
        let sqlite = m0001_foundation::up(Backend::Sqlite).join("\n");
        assert!(sqlite.contains("AUTOINCREMENT"), "{sqlite}");
    }
}
