//! Column and index shorthands the migrations share.

use sea_query::{ColumnDef, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement};

use crate::db::Backend;
use crate::schema::*;

pub(super) fn uuid_pk(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

pub(super) fn uuid_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).uuid().null().to_owned()
}

pub(super) fn text(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}

pub(super) fn text_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

pub(super) fn timestamp(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

pub(super) fn timestamp_null(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

pub(super) fn json(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().to_owned()
}

pub(super) fn int(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().to_owned()
}

/// An auto-incrementing 64-bit key: `INTEGER PRIMARY KEY AUTOINCREMENT` on SQLite (the only
/// form SQLite accepts, and it never reuses ids), `BIGSERIAL` on PostgreSQL.
pub(super) fn serial_pk(backend: Backend, name: impl sea_query::IntoIden) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    match backend {
        Backend::Sqlite => column.integer(),
        Backend::Postgres => column.big_integer(),
    };
    column.not_null().auto_increment().primary_key().to_owned()
}

pub(super) fn index(
    name: &str,
    table: impl sea_query::IntoIden,
    columns: &[&str],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(sea_query::Alias::new(*column));
    }
    index.to_owned()
}

pub(super) fn unique(
    name: &str,
    table: impl sea_query::IntoIden,
    columns: &[&str],
) -> IndexCreateStatement {
    index(name, table, columns).unique().to_owned()
}

pub(super) fn company_fk(
    from: impl sea_query::IntoIden + Clone,
    column: impl sea_query::IntoIden,
) -> sea_query::ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, column)
        .to(Companies::Table, Companies::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

pub(super) fn fk(
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

pub(super) fn boolean(name: impl sea_query::IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().to_owned()
}
