//! Migration 4: ticket runtime: tickets, task instances, workflow errors, comments, attachments, search.

use sea_query::{ColumnDef, Index, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let tickets = Table::create()
        .table(Tickets::Table)
        .col(uuid_pk(Tickets::Id))
        .col(ColumnDef::new(Tickets::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Tickets::Number).big_integer().not_null())
        .col(ColumnDef::new(Tickets::TicketTypeId).uuid().not_null())
        .col(text(Tickets::TicketTypeKey))
        .col(text(Tickets::Title))
        .col(ColumnDef::new(Tickets::WorkflowId).uuid().not_null())
        .col(ColumnDef::new(Tickets::WorkflowVersionId).uuid().not_null())
        .col(ColumnDef::new(Tickets::RequesterId).uuid().not_null())
        .col(text(Tickets::Status))
        .col(text(Tickets::WorkflowStatus))
        .col(json(Tickets::Data))
        .col(json(Tickets::WorkflowData))
        .col(text_null(Tickets::PendingEnd))
        .col(timestamp(Tickets::CreatedAt))
        .col(timestamp(Tickets::UpdatedAt))
        .col(timestamp_null(Tickets::ClosedAt))
        .foreign_key(&mut company_fk(Tickets::Table, Tickets::CompanyId))
        .foreign_key(&mut fk(
            Tickets::Table,
            Tickets::WorkflowVersionId,
            WorkflowVersions::Table,
            WorkflowVersions::Id,
        ))
        .foreign_key(&mut fk(
            Tickets::Table,
            Tickets::RequesterId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let counters = Table::create()
        .table(TicketCounters::Table)
        .col(uuid_pk(TicketCounters::CompanyId))
        .col(
            ColumnDef::new(TicketCounters::LastNumber)
                .big_integer()
                .not_null(),
        )
        .foreign_key(&mut company_fk(
            TicketCounters::Table,
            TicketCounters::CompanyId,
        ))
        .to_owned();
    let idempotency = Table::create()
        .table(IdempotencyKeys::Table)
        .col(ColumnDef::new(IdempotencyKeys::CompanyId).uuid().not_null())
        .col(ColumnDef::new(IdempotencyKeys::UserId).uuid().not_null())
        .col(text(IdempotencyKeys::Key))
        .col(ColumnDef::new(IdempotencyKeys::TicketId).uuid().not_null())
        .col(timestamp(IdempotencyKeys::CreatedAt))
        .primary_key(
            Index::create()
                .col(IdempotencyKeys::CompanyId)
                .col(IdempotencyKeys::UserId)
                .col(IdempotencyKeys::Key),
        )
        .foreign_key(&mut fk(
            IdempotencyKeys::Table,
            IdempotencyKeys::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let tasks = Table::create()
        .table(TaskInstances::Table)
        .col(uuid_pk(TaskInstances::Id))
        .col(ColumnDef::new(TaskInstances::CompanyId).uuid().not_null())
        .col(ColumnDef::new(TaskInstances::TicketId).uuid().not_null())
        .col(text(TaskInstances::TaskKey))
        .col(text(TaskInstances::Name))
        .col(text(TaskInstances::TaskType))
        .col(text(TaskInstances::Status))
        .col(uuid_null(TaskInstances::AssignedTo))
        .col(timestamp_null(TaskInstances::AssignedAt))
        .col(json(TaskInstances::AllowedUsers))
        .col(json(TaskInstances::InputData))
        .col(
            ColumnDef::new(TaskInstances::OutputData)
                .json_binary()
                .null(),
        )
        .col(text_null(TaskInstances::CallbackTokenHash))
        .col(text_null(TaskInstances::Error))
        .col(timestamp(TaskInstances::CreatedAt))
        .col(timestamp(TaskInstances::UpdatedAt))
        .col(timestamp_null(TaskInstances::CompletedAt))
        .foreign_key(&mut company_fk(
            TaskInstances::Table,
            TaskInstances::CompanyId,
        ))
        .foreign_key(&mut fk(
            TaskInstances::Table,
            TaskInstances::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let errors = Table::create()
        .table(WorkflowErrors::Table)
        .col(uuid_pk(WorkflowErrors::Id))
        .col(ColumnDef::new(WorkflowErrors::CompanyId).uuid().not_null())
        .col(ColumnDef::new(WorkflowErrors::TicketId).uuid().not_null())
        .col(uuid_null(WorkflowErrors::TaskId))
        .col(text(WorkflowErrors::ErrorType))
        .col(text(WorkflowErrors::ErrorStatus))
        .col(text(WorkflowErrors::Message))
        .col(json(WorkflowErrors::Step))
        .col(timestamp(WorkflowErrors::CreatedAt))
        .col(timestamp(WorkflowErrors::UpdatedAt))
        .col(uuid_null(WorkflowErrors::ReviewedBy))
        .col(uuid_null(WorkflowErrors::ResolvedBy))
        .foreign_key(&mut company_fk(
            WorkflowErrors::Table,
            WorkflowErrors::CompanyId,
        ))
        .foreign_key(&mut fk(
            WorkflowErrors::Table,
            WorkflowErrors::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let comments = Table::create()
        .table(TicketComments::Table)
        .col(uuid_pk(TicketComments::Id))
        .col(ColumnDef::new(TicketComments::CompanyId).uuid().not_null())
        .col(ColumnDef::new(TicketComments::TicketId).uuid().not_null())
        .col(ColumnDef::new(TicketComments::AuthorId).uuid().not_null())
        .col(text(TicketComments::Body))
        .col(boolean(TicketComments::Internal))
        .col(timestamp(TicketComments::CreatedAt))
        .foreign_key(&mut company_fk(
            TicketComments::Table,
            TicketComments::CompanyId,
        ))
        .foreign_key(&mut fk(
            TicketComments::Table,
            TicketComments::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    let attachments = Table::create()
        .table(Attachments::Table)
        .col(uuid_pk(Attachments::Id))
        .col(ColumnDef::new(Attachments::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Attachments::TicketId).uuid().not_null())
        .col(ColumnDef::new(Attachments::UploadedBy).uuid().not_null())
        .col(text(Attachments::FileName))
        .col(text(Attachments::ContentType))
        .col(ColumnDef::new(Attachments::Size).big_integer().not_null())
        .col(ColumnDef::new(Attachments::Sealed).blob().not_null())
        .col(timestamp(Attachments::CreatedAt))
        .foreign_key(&mut company_fk(Attachments::Table, Attachments::CompanyId))
        .foreign_key(&mut fk(
            Attachments::Table,
            Attachments::TicketId,
            Tickets::Table,
            Tickets::Id,
        ))
        .to_owned();
    // Full-text search is the one place the dialects must differ: an FTS5 table on SQLite,
    // a stored tsvector with a GIN index on PostgreSQL. Either way one row per ticket holds
    // the text of its data and comments.
    let search = match backend {
        Backend::Sqlite => vec![
            "CREATE VIRTUAL TABLE ticket_search USING fts5(ticket_id UNINDEXED, company_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')".to_owned(),
        ],
        Backend::Postgres => vec![
            "CREATE TABLE ticket_search (ticket_id uuid PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE, company_id uuid NOT NULL, body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)".to_owned(),
            "CREATE INDEX ticket_search_tsv_idx ON ticket_search USING gin (tsv)".to_owned(),
        ],
    };
    let mut statements = vec![
        render(backend, &tickets),
        render(
            backend,
            &unique(
                "tickets_company_id_number_key",
                Tickets::Table,
                &["company_id", "number"],
            ),
        ),
        render(
            backend,
            &index(
                "tickets_company_id_created_at_idx",
                Tickets::Table,
                &["company_id", "created_at"],
            ),
        ),
        render(
            backend,
            &index(
                "tickets_company_id_requester_id_idx",
                Tickets::Table,
                &["company_id", "requester_id"],
            ),
        ),
        render(backend, &counters),
        render(backend, &idempotency),
        render(backend, &tasks),
        render(
            backend,
            &index(
                "task_instances_ticket_id_idx",
                TaskInstances::Table,
                &["ticket_id"],
            ),
        ),
        render(
            backend,
            &index(
                "task_instances_company_id_status_idx",
                TaskInstances::Table,
                &["company_id", "status"],
            ),
        ),
        render(
            backend,
            &index(
                "task_instances_assigned_to_status_idx",
                TaskInstances::Table,
                &["assigned_to", "status"],
            ),
        ),
        render(backend, &errors),
        render(
            backend,
            &index(
                "workflow_errors_company_id_error_status_idx",
                WorkflowErrors::Table,
                &["company_id", "error_status"],
            ),
        ),
        render(backend, &comments),
        render(
            backend,
            &index(
                "ticket_comments_ticket_id_idx",
                TicketComments::Table,
                &["ticket_id"],
            ),
        ),
        render(backend, &attachments),
        render(
            backend,
            &index(
                "attachments_ticket_id_idx",
                Attachments::Table,
                &["ticket_id"],
            ),
        ),
    ];
    statements.extend(search);
    statements
}
