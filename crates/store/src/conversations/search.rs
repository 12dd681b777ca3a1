//! The searchable words of conversation messages (migration 16), and the search over them.
//! Text is stored cut by `domain::search::index_words` and queried with the same phrases
//! as tickets (`tickets::fts5_query`, `tickets::tsquery`), so both databases find the same
//! messages. The index holds no permission: a hit is joined to its message and
//! conversation, which decide who may read it.

use chrono::{DateTime, Utc};
use domain::search::{Term, index_words};
use domain::{CompanyId, ConversationId, MessageId, UserId};
use sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query, Values};

use crate::db::{Backend, Exec, Raw, Tx};
use crate::error::Result;
use crate::schema::{ConversationMessages as M, Conversations as C, Users};
use crate::tickets::{fts5_query, tsquery};

/// Replaces the searchable text of a message with `text` (cut into words here). A message
/// always gets its row, even without a word, so the sweep of [`unindexed`] ends.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn index(tx: &mut Tx, company: CompanyId, message: MessageId, text: &str) -> Result<()> {
    unindex(tx, company, message).await?;
    let words = index_words(text);
    let backend = tx.backend();
    if backend == Backend::Sqlite {
        let row = Raw {
            sqlite: "INSERT INTO message_search_rows (message_id) VALUES (?) ON CONFLICT DO NOTHING",
            postgres: "",
            values: Values(vec![message.0.into()]),
        };
        tx.execute(&row).await?;
    }
    let insert = Raw {
        sqlite: "INSERT INTO message_search (rowid, message_id, company_id, body) VALUES \
                 ((SELECT id FROM message_search_rows WHERE message_id = ?), ?, ?, ?)",
        postgres: "INSERT INTO message_search (message_id, company_id, body) VALUES ($1, $2, $3)",
        values: Values(match backend {
            Backend::Sqlite => vec![
                message.0.into(),
                message.0.into(),
                company.0.into(),
                words.into(),
            ],
            Backend::Postgres => vec![message.0.into(), company.0.into(), words.into()],
        }),
    };
    tx.execute(&insert).await?;
    Ok(())
}

/// Removes a message's searchable text (a tombstone is found by nobody).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn unindex(tx: &mut Tx, company: CompanyId, message: MessageId) -> Result<()> {
    let delete = Raw {
        sqlite: "DELETE FROM message_search WHERE rowid = \
                 (SELECT id FROM message_search_rows WHERE message_id = ?) AND company_id = ?",
        postgres: "DELETE FROM message_search WHERE message_id = $1 AND company_id = $2",
        values: Values(vec![message.0.into(), company.0.into()]),
    };
    tx.execute(&delete).await?;
    Ok(())
}

/// Removes the searchable text of every message of the company (the sweep of [`unindexed`]
/// writes it again as the company's setting then says).
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn forget_company(tx: &mut Tx, company: CompanyId) -> Result<()> {
    let delete = Raw {
        sqlite: "DELETE FROM message_search WHERE company_id = ?",
        postgres: "DELETE FROM message_search WHERE company_id = $1",
        values: Values(vec![company.0.into()]),
    };
    tx.execute(&delete).await?;
    Ok(())
}

/// What a search looks for and in which messages.
#[derive(Clone, Debug)]
pub struct Search<'a> {
    /// Every term must be found (see `domain::search::terms`); never empty.
    pub terms: &'a [Term],
    /// Only the conversations this person opened.
    pub requester: Option<UserId>,
    /// Whether internal notes are searched.
    pub with_internal: bool,
    /// Only messages before this one (the newest first order): the next page.
    pub before: Option<MessageId>,
    pub limit: u32,
}

/// A message a search found, with its conversation and its author's name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Hit {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub author_id: UserId,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub reference: Option<String>,
    pub requester_id: UserId,
    pub requester_first: Option<String>,
    pub requester_last: Option<String>,
    pub author_first: Option<String>,
    pub author_last: Option<String>,
    pub author_email: Option<String>,
}

/// The company's messages holding every term, newest first, at most `limit` (1 to 100):
/// never a deleted one, internal notes only when asked for.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn search(db: impl Exec, company: CompanyId, search: &Search<'_>) -> Result<Vec<Hit>> {
    let (author, requester) = (Alias::new("author"), Alias::new("requester"));
    let mut select = Query::select();
    for column in [
        M::Id,
        M::ConversationId,
        M::Seq,
        M::AuthorId,
        M::Body,
        M::Internal,
        M::CreatedAt,
        M::EditedAt,
    ] {
        select.column((M::Table, column));
    }
    select
        .columns([
            (C::Table, C::Subject),
            (C::Table, C::Reference),
            (C::Table, C::RequesterId),
        ])
        .expr_as(
            Expr::col((requester.clone(), Users::FirstName)),
            Alias::new("requester_first"),
        )
        .expr_as(
            Expr::col((requester.clone(), Users::LastName)),
            Alias::new("requester_last"),
        )
        .expr_as(
            Expr::col((author.clone(), Users::FirstName)),
            Alias::new("author_first"),
        )
        .expr_as(
            Expr::col((author.clone(), Users::LastName)),
            Alias::new("author_last"),
        )
        .expr_as(
            Expr::col((author.clone(), Users::Email)),
            Alias::new("author_email"),
        )
        .from(M::Table)
        .join(
            JoinType::InnerJoin,
            C::Table,
            Expr::col((C::Table, C::Id)).equals((M::Table, M::ConversationId)),
        )
        .join_as(
            JoinType::LeftJoin,
            Users::Table,
            requester.clone(),
            Expr::col((requester, Users::Id)).equals((C::Table, C::RequesterId)),
        )
        .join_as(
            JoinType::LeftJoin,
            Users::Table,
            author.clone(),
            Expr::col((author, Users::Id)).equals((M::Table, M::AuthorId)),
        )
        .and_where(Expr::col((M::Table, M::CompanyId)).eq(company.0))
        .and_where(Expr::col((C::Table, C::CompanyId)).eq(company.0))
        .and_where(Expr::col((M::Table, M::DeletedAt)).is_null());
    // Custom SQL takes `?` placeholders on SQLite and `$n` (numbered within it) on
    // PostgreSQL; the query holds letters, digits and the syntax made around them only.
    let (matching, text) = match db.backend() {
        Backend::Sqlite => (
            "conversation_messages.id IN (SELECT message_id FROM message_search \
             WHERE message_search MATCH ? AND company_id = ?)",
            fts5_query(search.terms),
        ),
        Backend::Postgres => (
            "conversation_messages.id IN (SELECT message_id FROM message_search \
             WHERE tsv @@ to_tsquery('simple', $1) AND company_id = $2)",
            tsquery(search.terms),
        ),
    };
    select.and_where(Expr::cust_with_values(
        matching,
        [sea_query::Value::from(text), company.0.into()],
    ));
    if let Some(requester) = search.requester {
        select.and_where(Expr::col((C::Table, C::RequesterId)).eq(requester.0));
    }
    if !search.with_internal {
        select.and_where(Expr::col((M::Table, M::Internal)).eq(false));
    }
    if let Some(before) = search.before {
        select.and_where(Expr::col((M::Table, M::Id)).lt(before.0));
    }
    // Message ids are UUIDv7: their order is the order they were written in.
    select
        .order_by((M::Table, M::Id), Order::Desc)
        .limit(u64::from(search.limit.clamp(1, 100)));
    db.fetch_all(&select).await
}

#[derive(sqlx::FromRow)]
struct UnindexedRow {
    company_id: CompanyId,
    conversation_id: ConversationId,
    id: MessageId,
}

/// Messages of any company, not deleted, without searchable text (written before migration
/// 16), at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unindexed(
    db: impl Exec,
    limit: i64,
) -> Result<Vec<(CompanyId, ConversationId, MessageId)>> {
    let select = Raw {
        sqlite: "SELECT m.company_id, m.conversation_id, m.id FROM conversation_messages m \
                 WHERE m.deleted_at IS NULL AND NOT EXISTS \
                 (SELECT 1 FROM message_search_rows r JOIN message_search s ON s.rowid = r.id \
                  WHERE r.message_id = m.id) LIMIT ?",
        postgres: "SELECT m.company_id, m.conversation_id, m.id FROM conversation_messages m \
                   WHERE m.deleted_at IS NULL AND NOT EXISTS \
                   (SELECT 1 FROM message_search s WHERE s.message_id = m.id) LIMIT $1",
        values: Values(vec![limit.into()]),
    };
    let rows: Vec<UnindexedRow> = db.fetch_all(&select).await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.company_id, r.conversation_id, r.id))
        .collect())
}
