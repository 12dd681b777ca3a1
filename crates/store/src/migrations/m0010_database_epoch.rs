//! Migration 10: the database's epoch: a random id made once, for event cursors.

use crate::db::Backend;

/// Event ids are cursors; a cursor of another database (restored from a backup, or a fresh
/// one) must be told apart from one of this database. The epoch is made once, here, and
/// readers hand it out with their cursors.
pub(super) fn up(_: Backend) -> Vec<String> {
    vec![
        "CREATE TABLE database_epoch (id integer PRIMARY KEY, epoch text NOT NULL)".to_owned(),
        format!(
            "INSERT INTO database_epoch (id, epoch) VALUES (1, '{}')",
            uuid::Uuid::now_v7()
        ),
    ]
}
