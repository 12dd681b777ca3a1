//! Migration 13: support conversations, their hash-chained messages and read watermarks.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let conversations = Table::create()
        .table(Conversations::Table)
        .col(uuid_pk(Conversations::Id))
        .col(ColumnDef::new(Conversations::CompanyId).uuid().not_null())
        .col(ColumnDef::new(Conversations::RequesterId).uuid().not_null())
        .col(text_null(Conversations::Subject))
        .col(text_null(Conversations::Reference))
        .col(uuid_null(Conversations::TicketId))
        // The requester's id while their general conversation is not closed, else NULL: a
        // unique index on it keeps get-or-create to one open conversation under races.
        .col(text_null(Conversations::OpenKey))
        .col(text(Conversations::Status))
        .col(uuid_null(Conversations::AssigneeId))
        .col(timestamp_null(Conversations::AssignedAt))
        .col(
            ColumnDef::new(Conversations::LastSeq)
                .big_integer()
                .not_null(),
        )
        .col(timestamp_null(Conversations::LastMessageAt))
        .col(timestamp(Conversations::CreatedAt))
        .col(timestamp(Conversations::UpdatedAt))
        .col(timestamp_null(Conversations::ClosedAt))
        .foreign_key(&mut company_fk(
            Conversations::Table,
            Conversations::CompanyId,
        ))
        .foreign_key(&mut fk(
            Conversations::Table,
            Conversations::RequesterId,
            Users::Table,
            Users::Id,
        ))
        .to_owned();
    let messages = Table::create()
        .table(ConversationMessages::Table)
        .col(uuid_pk(ConversationMessages::Id))
        .col(
            ColumnDef::new(ConversationMessages::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(ConversationMessages::ConversationId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(ConversationMessages::Seq)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(ConversationMessages::AuthorId)
                .uuid()
                .not_null(),
        )
        .col(text(ConversationMessages::Body))
        .col(boolean(ConversationMessages::Internal))
        .col(text(ConversationMessages::BodyHash))
        .col(text(ConversationMessages::PrevHash))
        .col(text(ConversationMessages::Hash))
        .col(int(ConversationMessages::Version))
        .col(timestamp_null(ConversationMessages::EditedAt))
        .col(timestamp_null(ConversationMessages::DeletedAt))
        .col(timestamp(ConversationMessages::CreatedAt))
        .foreign_key(&mut company_fk(
            ConversationMessages::Table,
            ConversationMessages::CompanyId,
        ))
        .foreign_key(&mut fk(
            ConversationMessages::Table,
            ConversationMessages::ConversationId,
            Conversations::Table,
            Conversations::Id,
        ))
        .to_owned();
    // Every earlier body of an edited or deleted message, for agents' history and for
    // re-computing the chain (which covers the first body).
    let versions = Table::create()
        .table(MessageVersions::Table)
        .col(ColumnDef::new(MessageVersions::MessageId).uuid().not_null())
        .col(ColumnDef::new(MessageVersions::CompanyId).uuid().not_null())
        .col(int(MessageVersions::Version))
        .col(text(MessageVersions::Body))
        .col(ColumnDef::new(MessageVersions::EditedBy).uuid().not_null())
        .col(timestamp(MessageVersions::ReplacedAt))
        .primary_key(
            sea_query::Index::create()
                .col(MessageVersions::MessageId)
                .col(MessageVersions::Version),
        )
        .foreign_key(&mut fk(
            MessageVersions::Table,
            MessageVersions::MessageId,
            ConversationMessages::Table,
            ConversationMessages::Id,
        ))
        .to_owned();
    let reads = Table::create()
        .table(ConversationReads::Table)
        .col(
            ColumnDef::new(ConversationReads::ConversationId)
                .uuid()
                .not_null(),
        )
        .col(ColumnDef::new(ConversationReads::UserId).uuid().not_null())
        .col(
            ColumnDef::new(ConversationReads::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(ConversationReads::UpTo)
                .big_integer()
                .not_null(),
        )
        .col(timestamp(ConversationReads::UpdatedAt))
        .primary_key(
            sea_query::Index::create()
                .col(ConversationReads::ConversationId)
                .col(ConversationReads::UserId),
        )
        .foreign_key(&mut fk(
            ConversationReads::Table,
            ConversationReads::ConversationId,
            Conversations::Table,
            Conversations::Id,
        ))
        .to_owned();
    vec![
        render(backend, &conversations),
        render(
            backend,
            &unique(
                "conversations_company_id_open_key_key",
                Conversations::Table,
                &["company_id", "open_key"],
            ),
        ),
        render(
            backend,
            &unique(
                "conversations_company_id_reference_key",
                Conversations::Table,
                &["company_id", "reference"],
            ),
        ),
        render(
            backend,
            &unique(
                "conversations_company_id_ticket_id_key",
                Conversations::Table,
                &["company_id", "ticket_id"],
            ),
        ),
        render(
            backend,
            &index(
                "conversations_company_id_assignee_id_status_idx",
                Conversations::Table,
                &["company_id", "assignee_id", "status"],
            ),
        ),
        render(
            backend,
            &index(
                "conversations_company_id_requester_id_idx",
                Conversations::Table,
                &["company_id", "requester_id"],
            ),
        ),
        render(backend, &messages),
        render(
            backend,
            &unique(
                "conversation_messages_conversation_id_seq_key",
                ConversationMessages::Table,
                &["conversation_id", "seq"],
            ),
        ),
        render(backend, &versions),
        render(backend, &reads),
    ]
}
