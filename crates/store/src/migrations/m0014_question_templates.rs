//! Migration 14: question templates, and the template and structured answer of a message.

use sea_query::{ColumnDef, Table};

use super::kit::*;
use super::render;
use crate::db::Backend;
use crate::schema::*;

pub(super) fn up(backend: Backend) -> Vec<String> {
    let templates = Table::create()
        .table(QuestionTemplates::Table)
        .col(uuid_pk(QuestionTemplates::Id))
        .col(uuid_null(QuestionTemplates::CompanyId))
        .col(text(QuestionTemplates::Title))
        .col(text(QuestionTemplates::Text))
        .col(json(QuestionTemplates::Schema))
        .col(timestamp(QuestionTemplates::CreatedAt))
        .col(timestamp(QuestionTemplates::UpdatedAt))
        .to_owned();
    vec![
        render(backend, &templates),
        render(
            backend,
            &index(
                "question_templates_company_id_title_idx",
                QuestionTemplates::Table,
                &["company_id", "title"],
            ),
        ),
        render(
            backend,
            &Table::alter()
                .table(ConversationMessages::Table)
                .add_column(uuid_null(ConversationMessages::TemplateId))
                .to_owned(),
        ),
        render(
            backend,
            &Table::alter()
                .table(ConversationMessages::Table)
                .add_column(
                    ColumnDef::new(ConversationMessages::Answers)
                        .json_binary()
                        .null(),
                )
                .to_owned(),
        ),
    ]
}
