//! Migration 20: a company's canned replies, one per shortcut.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let replies = Table::create()
        .table(CannedReplies::Table)
        .col(uuid_pk(CannedReplies::Id))
        .col(ColumnDef::new(CannedReplies::CompanyId).uuid().not_null())
        .col(text(CannedReplies::Shortcut))
        .col(text(CannedReplies::Title))
        .col(text(CannedReplies::Body))
        .col(int(CannedReplies::SortOrder))
        .col(timestamp(CannedReplies::CreatedAt))
        .col(ColumnDef::new(CannedReplies::CreatedBy).uuid().not_null())
        .col(timestamp(CannedReplies::UpdatedAt))
        .col(ColumnDef::new(CannedReplies::UpdatedBy).uuid().not_null())
        .foreign_key(&mut company_fk(
            CannedReplies::Table,
            CannedReplies::CompanyId,
        ))
        .to_owned();
    vec![
        render(backend, &replies),
        // Named as SQLite's error is read back (`store::error`), so a taken shortcut is the
        // same conflict on both backends; it also serves the company's list.
        render(
            backend,
            &unique(
                "canned_replies_company_id_shortcut_key",
                CannedReplies::Table,
                &["company_id", "shortcut"],
            ),
        ),
    ]
}
