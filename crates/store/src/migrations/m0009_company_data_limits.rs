//! Migration 9: a company's own bounds of ticket data.

use sea_query::{ColumnDef, Table};

use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
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
