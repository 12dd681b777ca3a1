//! Migration 19: named cursors of the relays that pass the event log on to other systems.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

/// One row per relay (`nats`, later each outbound webhook fan-out): the id of the last
/// event it has handed on. No company column: a relay reads the whole log.
pub(super) fn up(backend: Backend) -> Vec<String> {
    let cursors = Table::create()
        .table(RelayCursors::Table)
        .col(
            ColumnDef::new(RelayCursors::Name)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(RelayCursors::LastEventId)
                .big_integer()
                .not_null(),
        )
        .col(timestamp(RelayCursors::UpdatedAt))
        .to_owned();
    vec![render(backend, &cursors)]
}
