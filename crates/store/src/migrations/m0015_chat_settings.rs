//! Migration 15: a company's chat settings, files on conversation messages, message bodies
//! that may be stored sealed, and a conversation's team.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let settings = Table::create()
        .table(ChatSettings::Table)
        .col(uuid_pk(ChatSettings::CompanyId))
        .col(int(ChatSettings::MaxMessageChars))
        .col(
            ColumnDef::new(ChatSettings::MaxAttachmentBytes)
                .big_integer()
                .not_null(),
        )
        .col(boolean(ChatSettings::RequesterAttachments))
        .col(text(ChatSettings::Assignment).check(sea_query::Expr::cust(
            "assignment IN ('shortest_queue', 'round_robin', 'manual')",
        )))
        .col(boolean(ChatSettings::Sealed))
        .col(int(ChatSettings::MessagesPerMinute))
        .col(timestamp(ChatSettings::UpdatedAt))
        .foreign_key(&mut company_fk(
            ChatSettings::Table,
            ChatSettings::CompanyId,
        ))
        .to_owned();
    let attachments = Table::create()
        .table(MessageAttachments::Table)
        .col(uuid_pk(MessageAttachments::Id))
        .col(
            ColumnDef::new(MessageAttachments::CompanyId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(MessageAttachments::ConversationId)
                .uuid()
                .not_null(),
        )
        .col(
            ColumnDef::new(MessageAttachments::MessageId)
                .uuid()
                .not_null(),
        )
        .col(text(MessageAttachments::FileName))
        .col(text(MessageAttachments::ContentType))
        .col(
            ColumnDef::new(MessageAttachments::Size)
                .big_integer()
                .not_null(),
        )
        .col(text(MessageAttachments::Sha256))
        .col(ColumnDef::new(MessageAttachments::Sealed).blob().not_null())
        .col(timestamp(MessageAttachments::CreatedAt))
        .foreign_key(&mut company_fk(
            MessageAttachments::Table,
            MessageAttachments::CompanyId,
        ))
        .foreign_key(&mut fk(
            MessageAttachments::Table,
            MessageAttachments::MessageId,
            ConversationMessages::Table,
            ConversationMessages::Id,
        ))
        .to_owned();
    vec![
        render(backend, &settings),
        render(backend, &attachments),
        render(
            backend,
            &index(
                "message_attachments_company_id_message_id_idx",
                MessageAttachments::Table,
                &["company_id", "message_id"],
            ),
        ),
        // A conversation may be routed to a team: a company role of agents.
        render(
            backend,
            &Table::alter()
                .table(Conversations::Table)
                .add_column(uuid_null(Conversations::TeamId))
                .to_owned(),
        ),
        render(
            backend,
            &index(
                "conversations_company_id_team_id_idx",
                Conversations::Table,
                &["company_id", "team_id"],
            ),
        ),
        // A person's message rate is counted over their last minute of messages.
        render(
            backend,
            &index(
                "conversation_messages_company_id_author_id_created_at_idx",
                ConversationMessages::Table,
                &["company_id", "author_id", "created_at"],
            ),
        ),
        render(
            backend,
            &Table::alter()
                .table(ConversationMessages::Table)
                .add_column(
                    ColumnDef::new(ConversationMessages::Sealed)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        ),
        render(
            backend,
            &Table::alter()
                .table(MessageVersions::Table)
                .add_column(
                    ColumnDef::new(MessageVersions::Sealed)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        ),
    ]
}
