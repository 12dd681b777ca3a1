//! Schema migrations, written once with sea-query's schema builder and rendered for each
//! backend. Each migration runs in its own transaction; on PostgreSQL an advisory lock
//! keeps two servers starting at once from racing.

use chrono::Utc;
use sea_query::{
    ColumnDef, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement, PostgresQueryBuilder,
    Query, SchemaStatementBuilder, SqliteQueryBuilder, Table, TableCreateStatement,
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
        up: foundation,
    },
    Migration {
        version: 2,
        name: "identity: company roles, sessions, refresh tokens, login log, password resets, mail outbox, api tokens",
        up: identity,
    },
    Migration {
        version: 3,
        name: "workflow design: design objects, published workflow versions",
        up: workflow_design,
    },
    Migration {
        version: 4,
        name: "ticket runtime: tickets, task instances, workflow errors, comments, attachments, search",
        up: ticket_runtime,
    },
    Migration {
        version: 5,
        name: "hot-path indexes: tasks by ticket within a company, tickets by time with the id tiebreak",
        up: hot_path_indexes,
    },
    Migration {
        version: 6,
        name: "queue loads: a worker's last assignment on the user row, open tasks by holder",
        up: queue_loads,
    },
    Migration {
        version: 7,
        name: "search rows by ticket on SQLite: a stable FTS rowid per ticket",
        up: search_rows,
    },
    Migration {
        version: 8,
        name: "internal notes searched apart from what requesters may read",
        up: note_search,
    },
    Migration {
        version: 9,
        name: "a company's own bounds of ticket data",
        up: company_data_limits,
    },
    Migration {
        version: 10,
        name: "the database's epoch: a random id made once, for event cursors",
        up: database_epoch,
    },
    Migration {
        version: 11,
        name: "runtime states checked by the database: task, workflow run and workflow error statuses and types",
        up: state_checks,
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

fn render(backend: Backend, statement: &impl SchemaStatementBuilder) -> String {
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

fn uuid_pk(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

fn uuid_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).uuid().null().to_owned()
}

fn text(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

fn text_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

fn timestamp(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn timestamp_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn json(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().to_owned()
}

fn int(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().to_owned()
}

/// An auto-incrementing 64-bit key: `INTEGER PRIMARY KEY AUTOINCREMENT` on SQLite (the only
/// form SQLite accepts, and it never reuses ids), `BIGSERIAL` on PostgreSQL.
fn serial_pk(backend: Backend, name: impl sea_query::IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match backend {
        Backend::Sqlite => column.integer(),
        Backend::Postgres => column.big_integer(),
    };
    column.not_null().auto_increment().primary_key().to_owned()
}

fn index(name: &str, table: impl sea_query::IntoIden, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(sea_query::Alias::new(*column));
    }
    index.to_owned()
}

fn unique(name: &str, table: impl sea_query::IntoIden, columns: &[&str]) -> IndexCreateStatement {
    index(name, table, columns).unique().to_owned()
}

fn company_fk(
    from: impl sea_query::IntoIden + Clone,
    column: impl sea_query::IntoIden,
) -> sea_query::ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, column)
        .to(Companies::Table, Companies::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn foundation(backend: Backend) -> Vec<String> {
    let companies: TableCreateStatement = Table::create()
        .table(Companies::Table)
        .col(uuid_pk(Companies::Id))
        .col(text(Companies::Name))
        .col(text(Companies::Status))
        .col(text(Companies::InviteCode))
        .col(timestamp(Companies::CreatedAt))
        .col(timestamp(Companies::UpdatedAt))
        .to_owned();
    let users = Table::create()
        .table(Users::Table)
        .col(uuid_pk(Users::Id))
        .col(uuid_null(Users::CompanyId))
        .col(text(Users::Email))
        .col(text(Users::PasswordHash))
        .col(text(Users::FirstName))
        .col(text(Users::LastName))
        .col(text(Users::Status))
        .col(json(Users::SystemRoles))
        .col(
            ColumnDef::new(Users::Kind)
                .text()
                .not_null()
                .default("person"),
        )
        .col(timestamp_null(Users::LastLoginAt))
        .col(timestamp(Users::CreatedAt))
        .col(timestamp(Users::UpdatedAt))
        .foreign_key(&mut company_fk(Users::Table, Users::CompanyId))
        .to_owned();
    let events = Table::create()
        .table(Events::Table)
        .col(serial_pk(backend, Events::Id))
        .col(uuid_null(Events::CompanyId))
        .col(text(Events::Stream))
        .col(text(Events::Kind))
        .col(uuid_null(Events::ActorId))
        .col(json(Events::Payload))
        .col(timestamp(Events::CreatedAt))
        .to_owned();
    let jobs = Table::create()
        .table(Jobs::Table)
        .col(uuid_pk(Jobs::Id))
        .col(uuid_null(Jobs::CompanyId))
        .col(text(Jobs::Kind))
        .col(json(Jobs::Payload))
        .col(text(Jobs::Status))
        .col(int(Jobs::Attempts))
        .col(int(Jobs::MaxAttempts))
        .col(timestamp(Jobs::RunAt))
        .col(timestamp_null(Jobs::LockedUntil))
        .col(text_null(Jobs::LockedBy))
        .col(text_null(Jobs::LastError))
        .col(timestamp(Jobs::CreatedAt))
        .col(timestamp(Jobs::UpdatedAt))
        .to_owned();

    let mut sql = vec![
        render(backend, &companies),
        render(
            backend,
            &unique(
                "companies_invite_code_key",
                Companies::Table,
                &["invite_code"],
            ),
        ),
        render(backend, &users),
        render(
            backend,
            &unique("users_email_key", Users::Table, &["email"]),
        ),
        render(
            backend,
            &index("users_company_id_idx", Users::Table, &["company_id"]),
        ),
        render(backend, &events),
        render(
            backend,
            &index("events_stream_idx", Events::Table, &["stream", "id"]),
        ),
        render(backend, &jobs),
        render(
            backend,
            &index("jobs_status_run_at_idx", Jobs::Table, &["status", "run_at"]),
        ),
    ];
    match backend {
        Backend::Postgres => {
            // The commit horizon needs the writer's transaction id on every event; see events.rs.
            sql.push(
                "ALTER TABLE events ADD COLUMN txid BIGINT NOT NULL \
                 DEFAULT (pg_current_xact_id()::text::bigint)"
                    .into(),
            );
            sql.push("CREATE INDEX events_txid_idx ON events (txid, id)".into());
            sql.push(
                "CREATE INDEX events_company_txid_idx ON events (company_id, txid, id)".into(),
            );
        }
        Backend::Sqlite => {
            sql.push(render(
                backend,
                &index(
                    "events_company_id_idx",
                    Events::Table,
                    &["company_id", "id"],
                ),
            ));
        }
    }
    sql
}

fn fk(
    from: impl sea_query::IntoIden + Clone,
    column: impl sea_query::IntoIden,
    to: impl sea_query::IntoIden,
    to_column: impl sea_query::IntoIden,
) -> sea_query::ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, column)
        .to(to, to_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn boolean(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().to_owned()
}

fn identity(backend: Backend) -> Vec<String> {
    let company_roles = Table::create()
        .table(CompanyRoles::Table)
        .col(uuid_pk(CompanyRoles::Id))
        .col(ColumnDef::new(CompanyRoles::CompanyId).uuid().not_null())
        .col(text(CompanyRoles::Name))
        .col(text(CompanyRoles::Description))
        .col(boolean(CompanyRoles::IsDefault))
        .col(timestamp(CompanyRoles::CreatedAt))
        .col(timestamp(CompanyRoles::UpdatedAt))
        .foreign_key(&mut company_fk(
            CompanyRoles::Table,
            CompanyRoles::CompanyId,
        ))
        .to_owned();
    let user_company_roles = Table::create()
        .table(UserCompanyRoles::Table)
        .col(ColumnDef::new(UserCompanyRoles::UserId).uuid().not_null())
        .col(ColumnDef::new(UserCompanyRoles::RoleId).uuid().not_null())
        .col(
            ColumnDef::new(UserCompanyRoles::CompanyId)
                .uuid()
                .not_null(),
        )
        .primary_key(
            Index::create()
                .col(UserCompanyRoles::UserId)
                .col(UserCompanyRoles::RoleId),
        )
        .foreign_key(&mut fk(
            UserCompanyRoles::Table,
            UserCompanyRoles::UserId,
            Users::Table,
            Users::Id,
        ))
        .foreign_key(&mut fk(
            UserCompanyRoles::Table,
            UserCompanyRoles::RoleId,
            CompanyRoles::Table,
            CompanyRoles::Id,
        ))
        .to_owned();
    let sessions = Table::create()
        .table(Sessions::Table)
        .col(uuid_pk(Sessions::Id))
        .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
        .col(uuid_null(Sessions::CompanyId))
        .col(uuid_null(Sessions::ImpersonatorId))
        .col(text(Sessions::Ip))
        .col(text(Sessions::UserAgent))
        .col(timestamp(Sessions::CreatedAt))
        .col(timestamp_null(Sessions::RevokedAt))
        .foreign_key(&mut fk(
            Sessions::Table,
            Sessions::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let refresh_tokens = Table::create()
        .table(RefreshTokens::Table)
        .col(
            ColumnDef::new(RefreshTokens::TokenHash)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(RefreshTokens::SessionId).uuid().not_null())
        .col(timestamp_null(RefreshTokens::UsedAt))
        .col(timestamp(RefreshTokens::ExpiresAt))
        .col(timestamp(RefreshTokens::CreatedAt))
        .foreign_key(&mut fk(
            RefreshTokens::Table,
            RefreshTokens::SessionId,
            Sessions::Table,
            Sessions::Id,
        ))
        .to_owned();
    let login_attempts = Table::create()
        .table(LoginAttempts::Table)
        .col(uuid_pk(LoginAttempts::Id))
        .col(uuid_null(LoginAttempts::UserId))
        .col(uuid_null(LoginAttempts::CompanyId))
        .col(text(LoginAttempts::Email))
        .col(text(LoginAttempts::Ip))
        .col(text(LoginAttempts::UserAgent))
        .col(text_null(LoginAttempts::Platform))
        .col(boolean(LoginAttempts::Success))
        .col(text_null(LoginAttempts::FailureReason))
        .col(timestamp(LoginAttempts::CreatedAt))
        .to_owned();
    let password_resets = Table::create()
        .table(PasswordResets::Table)
        .col(
            ColumnDef::new(PasswordResets::TokenHash)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(PasswordResets::UserId).uuid().not_null())
        .col(timestamp(PasswordResets::ExpiresAt))
        .col(timestamp_null(PasswordResets::UsedAt))
        .col(timestamp(PasswordResets::CreatedAt))
        .foreign_key(&mut fk(
            PasswordResets::Table,
            PasswordResets::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let mail_outbox = Table::create()
        .table(MailOutbox::Table)
        .col(uuid_pk(MailOutbox::Id))
        .col(uuid_null(MailOutbox::CompanyId))
        .col(text(MailOutbox::ToEmail))
        .col(text(MailOutbox::Subject))
        .col(text(MailOutbox::Body))
        .col(text(MailOutbox::Status))
        .col(timestamp(MailOutbox::CreatedAt))
        .col(timestamp_null(MailOutbox::SentAt))
        .to_owned();
    let api_tokens = Table::create()
        .table(ApiTokens::Table)
        .col(uuid_pk(ApiTokens::Id))
        .col(ColumnDef::new(ApiTokens::CompanyId).uuid().not_null())
        .col(ColumnDef::new(ApiTokens::UserId).uuid().not_null())
        .col(text(ApiTokens::Name))
        .col(text(ApiTokens::TokenHash))
        .col(ColumnDef::new(ApiTokens::CreatedBy).uuid().not_null())
        .col(timestamp_null(ApiTokens::ExpiresAt))
        .col(timestamp_null(ApiTokens::RevokedAt))
        .col(timestamp_null(ApiTokens::LastUsedAt))
        .col(timestamp(ApiTokens::CreatedAt))
        .foreign_key(&mut company_fk(ApiTokens::Table, ApiTokens::CompanyId))
        .foreign_key(&mut fk(
            ApiTokens::Table,
            ApiTokens::UserId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    vec![
        render(backend, &company_roles),
        render(
            backend,
            &unique(
                "company_roles_company_id_name_key",
                CompanyRoles::Table,
                &["company_id", "name"],
            ),
        ),
        render(backend, &user_company_roles),
        render(
            backend,
            &index(
                "user_company_roles_role_id_idx",
                UserCompanyRoles::Table,
                &["role_id"],
            ),
        ),
        render(backend, &sessions),
        render(
            backend,
            &index("sessions_user_id_idx", Sessions::Table, &["user_id"]),
        ),
        render(backend, &refresh_tokens),
        render(
            backend,
            &index(
                "refresh_tokens_session_id_idx",
                RefreshTokens::Table,
                &["session_id"],
            ),
        ),
        render(backend, &login_attempts),
        render(
            backend,
            &index(
                "login_attempts_email_idx",
                LoginAttempts::Table,
                &["email", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "login_attempts_ip_idx",
                LoginAttempts::Table,
                &["ip", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "login_attempts_user_idx",
                LoginAttempts::Table,
                &["user_id", "created_at"],
            ),
        ),
        render(backend, &password_resets),
        render(backend, &mail_outbox),
        render(backend, &api_tokens),
        render(
            backend,
            &unique(
                "api_tokens_token_hash_key",
                ApiTokens::Table,
                &["token_hash"],
            ),
        ),
        render(
            backend,
            &index(
                "api_tokens_company_id_idx",
                ApiTokens::Table,
                &["company_id"],
            ),
        ),
    ]
}

fn workflow_design(backend: Backend) -> Vec<String> {
    let objects = Table::create()
        .table(DesignObjects::Table)
        .col(uuid_pk(DesignObjects::Id))
        .col(ColumnDef::new(DesignObjects::CompanyId).uuid().not_null())
        .col(ColumnDef::new(DesignObjects::WorkflowId).uuid().not_null())
        .col(text(DesignObjects::Kind))
        .col(text(DesignObjects::Key))
        .col(text(DesignObjects::Title))
        .col(text(DesignObjects::Status))
        .col(int(DesignObjects::Version))
        .col(json(DesignObjects::Spec))
        .col(ColumnDef::new(DesignObjects::CreatedBy).uuid().not_null())
        .col(timestamp(DesignObjects::CreatedAt))
        .col(timestamp(DesignObjects::UpdatedAt))
        .foreign_key(&mut company_fk(
            DesignObjects::Table,
            DesignObjects::CompanyId,
        ))
        .to_owned();
    let versions = Table::create()
        .table(WorkflowVersions::Table)
        .col(uuid_pk(WorkflowVersions::Id))
        .col(
            ColumnDef::new(WorkflowVersions::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(WorkflowVersions::WorkflowId)
                .uuid()
                .not_null(),
        )
        .col(int(WorkflowVersions::Version))
        .col(text(WorkflowVersions::Status))
        .col(json(WorkflowVersions::Snapshot))
        .col(
            ColumnDef::new(WorkflowVersions::PublishedBy)
                .uuid()
                .not_null(),
        )
        .col(timestamp(WorkflowVersions::PublishedAt))
        .col(timestamp(WorkflowVersions::UpdatedAt))
        .foreign_key(&mut company_fk(
            WorkflowVersions::Table,
            WorkflowVersions::CompanyId,
        ))
        .to_owned();
    vec![
        render(backend, &objects),
        render(
            backend,
            &unique(
                "design_objects_workflow_id_kind_key_key",
                DesignObjects::Table,
                &["workflow_id", "kind", "key"],
            ),
        ),
        render(
            backend,
            &index(
                "design_objects_company_id_kind_idx",
                DesignObjects::Table,
                &["company_id", "kind"],
            ),
        ),
        render(backend, &versions),
        render(
            backend,
            &unique(
                "workflow_versions_workflow_id_version_key",
                WorkflowVersions::Table,
                &["workflow_id", "version"],
            ),
        ),
    ]
}

/// Found by the benchmark (docs/performance.md): with only `(company_id, status)` and
/// `(ticket_id)` to choose from, SQLite read a ticket's tasks through the company index,
/// visiting every task of the company, so a ticket page and every engine step grew with the
/// company's history. The list's sort needs the id tiebreak in its index, and sorting by
/// `updated_at` had no index at all.
fn hot_path_indexes(backend: Backend) -> Vec<String> {
    vec![
        render(
            backend,
            &index(
                "task_instances_company_id_ticket_id_idx",
                TaskInstances::Table,
                &["company_id", "ticket_id", "created_at"],
            ),
        ),
        "DROP INDEX tickets_company_id_created_at_idx".to_owned(),
        render(
            backend,
            &index(
                "tickets_company_id_created_at_id_idx",
                Tickets::Table,
                &["company_id", "created_at", "id"],
            ),
        ),
        render(
            backend,
            &index(
                "tickets_company_id_updated_at_id_idx",
                Tickets::Table,
                &["company_id", "updated_at", "id"],
            ),
        ),
    ]
}

/// Found by the benchmark (docs/performance.md): auto-assignment aggregated every task a
/// worker had ever held to learn their queue length and last assignment, so each submission
/// grew with the company's history. The last assignment now lives on the user row, and the
/// open tasks are counted through an index that holds them by holder and status.
fn queue_loads(backend: Backend) -> Vec<String> {
    let column = Table::alter()
        .table(Users::Table)
        .add_column(timestamp_null(Users::LastAssignedAt))
        .to_owned();
    vec![
        render(backend, &column),
        "UPDATE users SET last_assigned_at = (SELECT MAX(t.assigned_at) FROM task_instances t \
         WHERE t.company_id = users.company_id AND t.assigned_to = users.id)"
            .to_owned(),
        // Every tenant-owned query names the company, so the new index serves all that the
        // old one did.
        "DROP INDEX task_instances_assigned_to_status_idx".to_owned(),
        render(
            backend,
            &index(
                "task_instances_company_id_assigned_to_status_idx",
                TaskInstances::Table,
                &["company_id", "assigned_to", "status"],
            ),
        ),
    ]
}

/// Found by the benchmark (docs/performance.md): FTS5 cannot index its `ticket_id` column,
/// so re-indexing a ticket (`DELETE ... WHERE ticket_id = ?`) scanned every ticket's text,
/// on each submission and completion. Each ticket now has a stable integer id, and its
/// text is kept at that FTS rowid. PostgreSQL's `ticket_search` is keyed by ticket already.
fn search_rows(backend: Backend) -> Vec<String> {
    match backend {
        Backend::Postgres => Vec::new(),
        Backend::Sqlite => [
            "CREATE TABLE ticket_search_rows (id INTEGER PRIMARY KEY, \
             ticket_id uuid_text NOT NULL UNIQUE REFERENCES tickets (id) ON DELETE CASCADE)",
            "INSERT INTO ticket_search_rows (ticket_id) \
             SELECT ticket_id FROM ticket_search GROUP BY ticket_id",
            "CREATE TEMP TABLE ticket_search_old AS \
             SELECT ticket_id, company_id, body FROM ticket_search",
            "DELETE FROM ticket_search",
            "INSERT INTO ticket_search (rowid, ticket_id, company_id, body) \
             SELECT r.id, o.ticket_id, o.company_id, o.body \
             FROM ticket_search_old o JOIN ticket_search_rows r ON r.ticket_id = o.ticket_id",
            "DROP TABLE ticket_search_old",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

/// Internal notes used to be indexed with the ticket's public text, so a requester could
/// find their ticket by words only the team had written. Notes get their own table (same
/// FTS rowid on SQLite); the text of every ticket with a note is dropped here and rebuilt
/// by the job workers' sweep (`app::tickets::reindex_missing`).
fn note_search(backend: Backend) -> Vec<String> {
    let drop_leaked = "DELETE FROM ticket_search WHERE ticket_id IN \
                       (SELECT ticket_id FROM ticket_comments WHERE internal)";
    match backend {
        Backend::Sqlite => vec![
            "CREATE VIRTUAL TABLE ticket_note_search USING fts5(ticket_id UNINDEXED, company_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')".to_owned(),
            drop_leaked.to_owned(),
        ],
        Backend::Postgres => vec![
            "CREATE TABLE ticket_note_search (ticket_id uuid PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE, company_id uuid NOT NULL, body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)".to_owned(),
            "CREATE INDEX ticket_note_search_tsv_idx ON ticket_note_search USING gin (tsv)".to_owned(),
            drop_leaked.to_owned(),
        ],
    }
}

/// The states the system defines are enums in the code (`domain::workflow`); the database
/// refuses any other value too, so a bug or a hand-made fix cannot store a state no code
/// can read. PostgreSQL gets CHECK constraints; SQLite cannot add one to an existing table,
/// so it gets triggers that abort the same writes. The lists are written out here, not
/// taken from the enums: a released migration never changes, a new state needs a new one.
fn state_checks(backend: Backend) -> Vec<String> {
    const CHECKS: [(&str, &str, &str); 5] = [
        (
            "task_instances",
            "status",
            "'OPEN', 'IN_PROGRESS', 'PENDING', 'COMPLETED', 'CANCELLED', 'ERROR'",
        ),
        (
            "task_instances",
            "task_type",
            "'FORM', 'SYNC_ACTION', 'ASYNC_ACTION'",
        ),
        (
            "tickets",
            "workflow_status",
            "'NOT_STARTED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'ON_HOLD'",
        ),
        (
            "workflow_errors",
            "error_status",
            "'NEW', 'REVIEWED', 'RESOLVED'",
        ),
        (
            "workflow_errors",
            "error_type",
            "'WORKFLOW_CREATION', 'TASK_CREATION', 'TASK_UPDATE', 'WORKFLOW_TRANSITION'",
        ),
    ];
    CHECKS
        .iter()
        .flat_map(|(table, column, allowed)| match backend {
            Backend::Postgres => vec![format!(
                "ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_check CHECK ({column} IN ({allowed}))"
            )],
            Backend::Sqlite => ["INSERT", "UPDATE"]
                .map(|event| {
                    let on = if event == "UPDATE" {
                        format!("UPDATE OF {column}")
                    } else {
                        event.to_owned()
                    };
                    format!(
                        "CREATE TRIGGER {table}_{column}_check_{} BEFORE {on} ON {table} \
                         WHEN NEW.{column} NOT IN ({allowed}) \
                         BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {table}_{column}_check'); END",
                        event.to_lowercase()
                    )
                })
                .to_vec(),
        })
        .collect()
}

/// Event ids are cursors; a cursor of another database (restored from a backup, or a fresh
/// one) must be told apart from one of this database. The epoch is made once, here, and
/// readers hand it out with their cursors.
fn database_epoch(_: Backend) -> Vec<String> {
    vec![
        "CREATE TABLE database_epoch (id integer PRIMARY KEY, epoch text NOT NULL)".to_owned(),
        format!(
            "INSERT INTO database_epoch (id, epoch) VALUES (1, '{}')",
            uuid::Uuid::now_v7()
        ),
    ]
}

fn company_data_limits(backend: Backend) -> Vec<String> {
    [Companies::DataMaxBytes, Companies::DataMaxNodes]
        .map(|column| {
            render(
                backend,
                &Table::alter()
                    .table(Companies::Table)
                    .add_column(ColumnDef::new(column).big_integer().null())
                    .to_owned(),
            )
        })
        .to_vec()
}

fn ticket_runtime(backend: Backend) -> Vec<String> {
    let tickets = Table::create()
        .table(Tickets::Table)
        .col(uuid_pk(Tickets::Id))
        .col(ColumnDef::new(Tickets::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Tickets::Number).big_integer().not_null())
        .col(ColumnDef::new(Tickets::TicketTypeId).uuid().not_null())
        .col(text(Tickets::TicketTypeKey))
        .col(text(Tickets::Title))
        .col(ColumnDef::new(Tickets::WorkflowId).uuid().not_null())
        .col(ColumnDef::new(Tickets::WorkflowVersionId).uuid().not_null())
        .col(ColumnDef::new(Tickets::RequesterId).uuid().not_null())
        .col(text(Tickets::Status))
        .col(text(Tickets::WorkflowStatus))
        .col(json(Tickets::Data))
        .col(json(Tickets::WorkflowData))
        .col(text_null(Tickets::PendingEnd))
        .col(timestamp(Tickets::CreatedAt))
        .col(timestamp(Tickets::UpdatedAt))
        .col(timestamp_null(Tickets::ClosedAt))
        .foreign_key(&mut company_fk(Tickets::Table, Tickets::CompanyId))
        .foreign_key(&mut fk(
            Tickets::Table,
            Tickets::WorkflowVersionId,
            WorkflowVersions::Table,
            WorkflowVersions::Id,
        ))
        .foreign_key(&mut fk(
            Tickets::Table,
            Tickets::RequesterId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let counters = Table::create()
        .table(TicketCounters::Table)
        .col(uuid_pk(TicketCounters::CompanyId))
        .col(
            ColumnDef::new(TicketCounters::LastNumber)
                .big_integer()
                .not_null(),
        )
        .foreign_key(&mut company_fk(
            TicketCounters::Table,
            TicketCounters::CompanyId,
        ))
        .to_owned();
    let idempotency = Table::create()
        .table(IdempotencyKeys::Table)
        .col(ColumnDef::new(IdempotencyKeys::CompanyId).uuid().not_null())
        .col(ColumnDef::new(IdempotencyKeys::UserId).uuid().not_null())
        .col(text(IdempotencyKeys::Key))
        .col(ColumnDef::new(IdempotencyKeys::TicketId).uuid().not_null())
        .col(timestamp(IdempotencyKeys::CreatedAt))
        .primary_key(
            Index::create()
                .col(IdempotencyKeys::CompanyId)
                .col(IdempotencyKeys::UserId)
                .col(IdempotencyKeys::Key),
        )
        .foreign_key(&mut fk(
            IdempotencyKeys::Table,
            IdempotencyKeys::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let tasks = Table::create()
        .table(TaskInstances::Table)
        .col(uuid_pk(TaskInstances::Id))
        .col(ColumnDef::new(TaskInstances::CompanyId).uuid().not_null())
        .col(ColumnDef::new(TaskInstances::TicketId).uuid().not_null())
        .col(text(TaskInstances::TaskKey))
        .col(text(TaskInstances::Name))
        .col(text(TaskInstances::TaskType))
        .col(text(TaskInstances::Status))
        .col(uuid_null(TaskInstances::AssignedTo))
        .col(timestamp_null(TaskInstances::AssignedAt))
        .col(json(TaskInstances::AllowedUsers))
        .col(json(TaskInstances::InputData))
        .col(
            ColumnDef::new(TaskInstances::OutputData)
                .json_binary()
                .null(),
        )
        .col(text_null(TaskInstances::CallbackTokenHash))
        .col(text_null(TaskInstances::Error))
        .col(timestamp(TaskInstances::CreatedAt))
        .col(timestamp(TaskInstances::UpdatedAt))
        .col(timestamp_null(TaskInstances::CompletedAt))
        .foreign_key(&mut company_fk(
            TaskInstances::Table,
            TaskInstances::CompanyId,
        ))
        .foreign_key(&mut fk(
            TaskInstances::Table,
            TaskInstances::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let errors = Table::create()
        .table(WorkflowErrors::Table)
        .col(uuid_pk(WorkflowErrors::Id))
        .col(ColumnDef::new(WorkflowErrors::CompanyId).uuid().not_null())
        .col(ColumnDef::new(WorkflowErrors::TicketId).uuid().not_null())
        .col(uuid_null(WorkflowErrors::TaskId))
        .col(text(WorkflowErrors::ErrorType))
        .col(text(WorkflowErrors::ErrorStatus))
        .col(text(WorkflowErrors::Message))
        .col(json(WorkflowErrors::Step))
        .col(timestamp(WorkflowErrors::CreatedAt))
        .col(timestamp(WorkflowErrors::UpdatedAt))
        .col(uuid_null(WorkflowErrors::ReviewedBy))
        .col(uuid_null(WorkflowErrors::ResolvedBy))
        .foreign_key(&mut company_fk(
            WorkflowErrors::Table,
            WorkflowErrors::CompanyId,
        ))
        .foreign_key(&mut fk(
            WorkflowErrors::Table,
            WorkflowErrors::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let comments = Table::create()
        .table(TicketComments::Table)
        .col(uuid_pk(TicketComments::Id))
        .col(ColumnDef::new(TicketComments::CompanyId).uuid().not_null())
        .col(ColumnDef::new(TicketComments::TicketId).uuid().not_null())
        .col(ColumnDef::new(TicketComments::AuthorId).uuid().not_null())
        .col(text(TicketComments::Body))
        .col(boolean(TicketComments::Internal))
        .col(timestamp(TicketComments::CreatedAt))
        .foreign_key(&mut company_fk(
            TicketComments::Table,
            TicketComments::CompanyId,
        ))
        .foreign_key(&mut fk(
            TicketComments::Table,
            TicketComments::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let attachments = Table::create()
        .table(Attachments::Table)
        .col(uuid_pk(Attachments::Id))
        .col(ColumnDef::new(Attachments::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Attachments::TicketId).uuid().not_null())
        .col(ColumnDef::new(Attachments::UploadedBy).uuid().not_null())
        .col(text(Attachments::FileName))
        .col(text(Attachments::ContentType))
        .col(ColumnDef::new(Attachments::Size).big_integer().not_null())
        .col(ColumnDef::new(Attachments::Sealed).blob().not_null())
        .col(timestamp(Attachments::CreatedAt))
        .foreign_key(&mut company_fk(Attachments::Table, Attachments::CompanyId))
        .foreign_key(&mut fk(
            Attachments::Table,
            Attachments::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    // Full-text search is the one place the dialects must differ: an FTS5 table on SQLite,
    // a stored tsvector with a GIN index on PostgreSQL. Either way one row per ticket holds
    // the text of its data and comments.
    let search = match backend {
        Backend::Sqlite => vec![
            "CREATE VIRTUAL TABLE ticket_search USING fts5(ticket_id UNINDEXED, company_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')".to_owned(),
        ],
        Backend::Postgres => vec![
            "CREATE TABLE ticket_search (ticket_id uuid PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE, company_id uuid NOT NULL, body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)".to_owned(),
            "CREATE INDEX ticket_search_tsv_idx ON ticket_search USING gin (tsv)".to_owned(),
        ],
    };
    let mut statements = vec![
        render(backend, &tickets),
        render(
            backend,
            &unique(
                "tickets_company_id_number_key",
                Tickets::Table,
                &["company_id", "number"],
            ),
        ),
        render(
            backend,
            &index(
                "tickets_company_id_created_at_idx",
                Tickets::Table,
                &["company_id", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "tickets_company_id_requester_id_idx",
                Tickets::Table,
                &["company_id", "requester_id"],
            ),
        ),
        render(backend, &counters),
        render(backend, &idempotency),
        render(backend, &tasks),
        render(
            backend,
            &index(
                "task_instances_ticket_id_idx",
                TaskInstances::Table,
                &["ticket_id"],
            ),
        ),
        render(
            backend,
            &index(
                "task_instances_company_id_status_idx",
                TaskInstances::Table,
                &["company_id", "status"],
            ),
        ),
        render(
            backend,
            &index(
                "task_instances_assigned_to_status_idx",
                TaskInstances::Table,
                &["assigned_to", "status"],
            ),
        ),
        render(backend, &errors),
        render(
            backend,
            &index(
                "workflow_errors_company_id_error_status_idx",
                WorkflowErrors::Table,
                &["company_id", "error_status"],
            ),
        ),
        render(backend, &comments),
        render(
            backend,
            &index(
                "ticket_comments_ticket_id_idx",
                TicketComments::Table,
                &["ticket_id"],
            ),
        ),
        render(backend, &attachments),
        render(
            backend,
            &index(
                "attachments_ticket_id_idx",
                Attachments::Table,
                &["ticket_id"],
            ),
        ),
    ];
    statements.extend(search);
    statements
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
        let sqlite = foundation(Backend::Sqlite).join("\n");
        assert!(sqlite.contains("AUTOINCREMENT"), "{sqlite}");
    }
}
