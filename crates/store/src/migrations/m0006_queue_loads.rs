//! Migration 6: queue loads: a worker's last assignment on the user row, open tasks by holder.

use sea_query::Table;

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

/// Found by the benchmark (docs/performance.md): auto-assignment aggregated every task a
/// worker had ever held to learn their queue length and last assignment, so each submission
/// grew with the company's history. The last assignment now lives on the user row, and the
/// open tasks are counted through an index that holds them by holder and status.
pub(super) fn up(backend: Backend) -> Vec<String> {
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
