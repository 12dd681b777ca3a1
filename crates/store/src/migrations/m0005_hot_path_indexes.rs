//! Migration 5: hot-path indexes: tasks by ticket within a company, tickets by time with the id tiebreak.

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

/// Found by the benchmark (docs/performance.md): with only `(company_id, status)` and
/// `(ticket_id)` to choose from, SQLite read a ticket's tasks through the company index,
/// visiting every task of the company, so a ticket page and every engine step grew with the
/// company's history. The list's sort needs the id tiebreak in its index, and sorting by
/// `updated_at` had no index at all.
pub(super) fn up(backend: Backend) -> Vec<String> {
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
