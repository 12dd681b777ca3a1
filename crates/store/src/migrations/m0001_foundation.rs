//! Migration 1: foundation: companies, users, events, jobs.

use sea_query::{ColumnDef, Table, TableCreateStatement};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
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
