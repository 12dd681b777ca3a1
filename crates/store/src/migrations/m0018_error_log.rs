//! Migration 18: the error log, one row per 5xx answer of the server.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

/// The row holds no raw path, query or body and no full error text (see
/// `domain::error_log`); the kind is checked like the runtime states of migration 11. Lists
/// read newest first by id (UUIDv7, so in time order) through the primary key; retention
/// deletes by age through `created_at`.
pub(super) fn up(backend: Backend) -> Vec<String> {
    let table = Table::create()
        .table(ErrorLog::Table)
        .col(uuid_pk(ErrorLog::Id))
        .col(timestamp(ErrorLog::CreatedAt))
        .col(text(ErrorLog::Method))
        .col(text(ErrorLog::Route))
        .col(int(ErrorLog::Status))
        .col(text(ErrorLog::RequestId))
        .col(uuid_null(ErrorLog::CompanyId))
        .col(uuid_null(ErrorLog::UserId))
        .col(text(ErrorLog::Kind).check(sea_query::Expr::cust(
            "kind IN ('internal', 'unavailable', 'timeout', 'panic', 'status')",
        )))
        .col(ColumnDef::new(ErrorLog::Summary).string_len(200).not_null())
        .to_owned();
    vec![
        render(backend, &table),
        render(
            backend,
            &index("error_log_created_at_idx", ErrorLog::Table, &["created_at"]),
        ),
    ]
}
