//! Migration 11: runtime states checked by the database: task, workflow run and workflow error statuses and types.

use crate::db::Backend;

/// The states the system defines are enums in the code (`domain::workflow`); the database
/// refuses any other value too, so a bug or a hand-made fix cannot store a state no code
/// can read. PostgreSQL gets CHECK constraints; SQLite cannot add one to an existing table,
/// so it gets triggers that abort the same writes. The lists are written out here, not
/// taken from the enums: a released migration never changes, a new state needs a new one.
pub(super) fn up(backend: Backend) -> Vec<String> {
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
