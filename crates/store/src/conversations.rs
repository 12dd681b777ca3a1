//! Support conversations, their messages (each chained to the one before by its hash) and
//! how far each participant has read them. Their searchable words are in [`search`].

pub mod search;

use chrono::{DateTime, Utc};
use domain::ids::CompanyRoleId;
use domain::{
    ChannelId, CompanyId, ContactId, ConversationId, MessageId, SystemRole, TicketId, UserId,
};
use sea_query::{Alias, Expr, ExprTrait, JoinType, OnConflict, Order, Query, SelectStatement};
use uuid::Uuid;

use crate::db::{Backend, Exec, Tx};
use crate::error::{Result, StoreError};
use crate::schema::{
    ConversationMessages as M, ConversationReads as R, Conversations as C, MessageVersions as V,
    UserCompanyRoles, Users,
};

/// A conversation with the names of its requester and assignee.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Conversation {
    pub id: ConversationId,
    pub company_id: CompanyId,
    pub requester_id: UserId,
    pub subject: Option<String>,
    pub reference: Option<String>,
    pub ticket_id: Option<TicketId>,
    pub status: String,
    pub assignee_id: Option<UserId>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub last_seq: i64,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub requester_first: Option<String>,
    pub requester_last: Option<String>,
    pub assignee_first: Option<String>,
    pub assignee_last: Option<String>,
    /// The team (a company role of agents) it is routed to.
    pub team_id: Option<CompanyRoleId>,
    /// The channel it arrived through (`None`: the web chat).
    pub channel_id: Option<ChannelId>,
    pub contact_id: Option<ContactId>,
    /// The provider's thread id its messages are grouped by.
    pub external_thread: Option<String>,
}

const COLUMNS: [C; 18] = [
    C::Id,
    C::CompanyId,
    C::RequesterId,
    C::Subject,
    C::Reference,
    C::TicketId,
    C::Status,
    C::AssigneeId,
    C::AssignedAt,
    C::LastSeq,
    C::LastMessageAt,
    C::CreatedAt,
    C::UpdatedAt,
    C::ClosedAt,
    C::TeamId,
    C::ChannelId,
    C::ContactId,
    C::ExternalThread,
];

/// The conversations of a company with their people's names joined in.
fn select() -> SelectStatement {
    let (requester, assignee) = (Alias::new("requester"), Alias::new("assignee"));
    let mut select = Query::select();
    for column in COLUMNS {
        select.column((C::Table, column));
    }
    select
        .expr_as(
            Expr::col((requester.clone(), Users::FirstName)),
            Alias::new("requester_first"),
        )
        .expr_as(
            Expr::col((requester.clone(), Users::LastName)),
            Alias::new("requester_last"),
        )
        .expr_as(
            Expr::col((assignee.clone(), Users::FirstName)),
            Alias::new("assignee_first"),
        )
        .expr_as(
            Expr::col((assignee.clone(), Users::LastName)),
            Alias::new("assignee_last"),
        )
        .from(C::Table)
        .join_as(
            JoinType::LeftJoin,
            Users::Table,
            requester.clone(),
            Expr::col((requester, Users::Id)).equals((C::Table, C::RequesterId)),
        )
        .join_as(
            JoinType::LeftJoin,
            Users::Table,
            assignee.clone(),
            Expr::col((assignee, Users::Id)).equals((C::Table, C::AssigneeId)),
        );
    select.to_owned()
}

fn of_company(select: &mut SelectStatement, company: CompanyId) {
    select.and_where(Expr::col((C::Table, C::CompanyId)).eq(company.0));
}

/// What a new conversation is for: its requester's general support, a reference (an
/// incident id) or a ticket.
pub struct NewConversation<'a> {
    pub company: CompanyId,
    pub requester: UserId,
    pub subject: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub ticket: Option<TicketId>,
    /// The channel and contact of a conversation that arrived through a channel.
    pub channel: Option<(ChannelId, ContactId)>,
    /// The provider's thread id (with `channel`): one conversation per thread.
    pub thread: Option<&'a str>,
}

/// The key that makes a requester's general conversation unique while it is not closed.
fn open_key(requester: UserId) -> String {
    requester.to_string()
}

/// Inserts the conversation unless one for the same requester (general), reference or
/// ticket exists; either way returns the one that stands, and whether it is new. A race
/// between two requests ends with one row: the unique indexes decide, and the loser reads
/// the winner's row.
#[tracing::instrument(level = "debug", skip_all, fields(company = %new.company))]
pub async fn get_or_insert(tx: &mut Tx, new: NewConversation<'_>) -> Result<(Conversation, bool)> {
    if let Some(found) = find(&mut *tx, &new).await? {
        return Ok((found, false));
    }
    let general = new.reference.is_none() && new.ticket.is_none() && new.thread.is_none();
    let id = Uuid::now_v7();
    let now = Utc::now();
    let insert = Query::insert()
        .into_table(C::Table)
        .columns([
            C::Id,
            C::CompanyId,
            C::RequesterId,
            C::Subject,
            C::Reference,
            C::TicketId,
            C::OpenKey,
            C::Status,
            C::LastSeq,
            C::CreatedAt,
            C::UpdatedAt,
            C::ChannelId,
            C::ContactId,
            C::ExternalThread,
        ])
        .values_panic([
            id.into(),
            new.company.0.into(),
            new.requester.0.into(),
            new.subject.map(str::to_owned).into(),
            new.reference.map(str::to_owned).into(),
            new.ticket.map(|t| t.0).into(),
            general.then(|| open_key(new.requester)).into(),
            "open".into(),
            0i64.into(),
            now.into(),
            now.into(),
            new.channel.map(|(c, _)| c.0).into(),
            new.channel.map(|(_, c)| c.0).into(),
            new.thread.map(str::to_owned).into(),
        ])
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .to_owned();
    let inserted = tx.execute(&insert).await?;
    if inserted == 1 {
        return Ok((get(&mut *tx, new.company, ConversationId(id)).await?, true));
    }
    let found = find(&mut *tx, &new).await?.ok_or(StoreError::NotFound)?;
    Ok((found, false))
}

/// The conversation a get-or-create names, if it exists.
async fn find(tx: &mut Tx, new: &NewConversation<'_>) -> Result<Option<Conversation>> {
    let mut select = select();
    of_company(&mut select, new.company);
    match (new.reference, new.ticket) {
        _ if new.thread.is_some() => {
            let channel = new.channel.map(|(c, _)| c.0);
            select
                .and_where(Expr::col((C::Table, C::ChannelId)).eq(channel))
                .and_where(Expr::col((C::Table, C::ExternalThread)).eq(new.thread));
        }
        (Some(reference), _) => {
            select.and_where(Expr::col((C::Table, C::Reference)).eq(reference));
        }
        (None, Some(ticket)) => {
            select.and_where(Expr::col((C::Table, C::TicketId)).eq(ticket.0));
        }
        (None, None) => {
            select.and_where(Expr::col((C::Table, C::OpenKey)).eq(open_key(new.requester)));
        }
    }
    tx.fetch_optional(&select).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn get(db: impl Exec, company: CompanyId, id: ConversationId) -> Result<Conversation> {
    let mut select = select();
    of_company(&mut select, company);
    select.and_where(Expr::col((C::Table, C::Id)).eq(id.0));
    let row: Option<Conversation> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// Locks the conversation's row until the transaction ends (PostgreSQL; SQLite has one
/// writer), so its messages are numbered and chained one at a time.
pub async fn lock(tx: &mut Tx, company: CompanyId, id: ConversationId) -> Result<()> {
    let mut select = Query::select()
        .column(C::Id)
        .from(C::Table)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id.0))
        .to_owned();
    if tx.backend() == Backend::Postgres {
        select.lock(sea_query::LockType::Update);
    }
    let row: Option<IdRow> = tx.fetch_optional(&select).await?;
    row.map(|_| ()).ok_or(StoreError::NotFound)
}

#[derive(sqlx::FromRow)]
struct IdRow {
    #[allow(dead_code)]
    id: Uuid,
}

/// Which conversations a list shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this requester's.
    pub requester: Option<UserId>,
    /// Only those assigned to this person (`Some(None)`: unassigned ones).
    pub assignee: Option<Option<UserId>>,
    pub status: Option<String>,
    /// Only those routed to this team.
    pub team: Option<CompanyRoleId>,
    /// Only those of this channel (`Some(None)`: the web chat's).
    pub channel: Option<Option<ChannelId>>,
    /// Only those with messages this person has not read.
    pub unread_by: Option<UserId>,
}

/// Conversations by last activity, most recent first.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn list(
    db: impl Exec,
    company: CompanyId,
    filter: &Filter,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let mut select = select();
    filtered(&mut select, company, filter);
    select
        .order_by((C::Table, C::UpdatedAt), Order::Desc)
        .order_by((C::Table, C::Id), Order::Desc)
        .limit(u64::from(limit.clamp(1, 500)));
    db.fetch_all(&select).await
}

#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn count(db: impl Exec, company: CompanyId, filter: &Filter) -> Result<i64> {
    let mut select = Query::select().from(C::Table).to_owned();
    filtered(&mut select, company, filter);
    crate::db::count(db, select, (C::Table, C::Id)).await
}

fn filtered(select: &mut SelectStatement, company: CompanyId, filter: &Filter) {
    of_company(select, company);
    if let Some(requester) = filter.requester {
        select.and_where(Expr::col((C::Table, C::RequesterId)).eq(requester.0));
    }
    match filter.assignee {
        Some(Some(assignee)) => {
            select.and_where(Expr::col((C::Table, C::AssigneeId)).eq(assignee.0));
        }
        Some(None) => {
            select.and_where(Expr::col((C::Table, C::AssigneeId)).is_null());
        }
        None => {}
    }
    if let Some(status) = &filter.status {
        select.and_where(Expr::col((C::Table, C::Status)).eq(status.as_str()));
    }
    if let Some(team) = filter.team {
        select.and_where(Expr::col((C::Table, C::TeamId)).eq(team.0));
    }
    match filter.channel {
        Some(Some(channel)) => {
            select.and_where(Expr::col((C::Table, C::ChannelId)).eq(channel.0));
        }
        Some(None) => {
            select.and_where(Expr::col((C::Table, C::ChannelId)).is_null());
        }
        None => {}
    }
    if let Some(reader) = filter.unread_by {
        // The reader's watermark is behind the conversation's last message (a reader's own
        // messages move their watermark, so only others' count).
        let read_up_to_last = Query::select()
            .expr(Expr::val(1))
            .from(R::Table)
            .and_where(Expr::col((R::Table, R::ConversationId)).equals((C::Table, C::Id)))
            .and_where(Expr::col((R::Table, R::UserId)).eq(reader.0))
            .and_where(Expr::col((R::Table, R::UpTo)).gte(Expr::col((C::Table, C::LastSeq))))
            .to_owned();
        select.and_where(Expr::col((C::Table, C::LastSeq)).gt(0i64));
        select.and_where(Expr::exists(read_up_to_last).not());
    }
}

/// The messages of others `reader` has not read across the conversations `filter` finds.
pub async fn unread_total(
    db: impl Exec,
    company: CompanyId,
    filter: &Filter,
    reader: UserId,
    with_internal: bool,
) -> Result<i64> {
    let mut select = Query::select()
        .from(M::Table)
        .join(
            JoinType::InnerJoin,
            C::Table,
            Expr::col((C::Table, C::Id)).equals((M::Table, M::ConversationId)),
        )
        .join(
            JoinType::LeftJoin,
            R::Table,
            Expr::col((R::Table, R::ConversationId))
                .equals((C::Table, C::Id))
                .and(Expr::col((R::Table, R::UserId)).eq(reader.0)),
        )
        .and_where(Expr::col((M::Table, M::CompanyId)).eq(company.0))
        .and_where(Expr::col((M::Table, M::AuthorId)).ne(reader.0))
        .and_where(
            Expr::col((M::Table, M::Seq))
                .gt(sea_query::Func::if_null(Expr::col((R::Table, R::UpTo)), 0)),
        )
        .to_owned();
    if !with_internal {
        select.and_where(Expr::col((M::Table, M::Internal)).eq(false));
    }
    filtered(&mut select, company, filter);
    crate::db::count(db, select, (M::Table, M::Id)).await
}

/// Routes a conversation to a team (or to none).
pub async fn set_team(
    tx: &mut Tx,
    company: CompanyId,
    id: ConversationId,
    team: Option<CompanyRoleId>,
) -> Result<()> {
    let update = Query::update()
        .table(C::Table)
        .value(C::TeamId, team.map(|t| t.0))
        .value(C::UpdatedAt, Utc::now())
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id.0))
        .to_owned();
    if tx.execute(&update).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Moves a conversation to `status`; a closed general conversation gives up its open key,
/// so its requester's next request opens a new one.
pub async fn set_status(
    tx: &mut Tx,
    company: CompanyId,
    id: ConversationId,
    requester: UserId,
    general: bool,
    status: &str,
) -> Result<()> {
    let closed = status == "closed";
    let now = Utc::now();
    let key = (general && !closed).then(|| open_key(requester));
    let update = Query::update()
        .table(C::Table)
        .value(C::Status, status)
        .value(C::OpenKey, key)
        .value(C::ClosedAt, closed.then_some(now))
        .value(C::UpdatedAt, now)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id.0))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

pub async fn set_assignee(
    tx: &mut Tx,
    company: CompanyId,
    id: ConversationId,
    assignee: Option<UserId>,
) -> Result<()> {
    let now = Utc::now();
    let update = Query::update()
        .table(C::Table)
        .value(C::AssigneeId, assignee.map(|a| a.0))
        .value(C::AssignedAt, assignee.map(|_| now))
        .value(C::UpdatedAt, now)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id.0))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

/// An agent who may take a conversation, with their queue.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Agent {
    pub id: UserId,
    /// Conversations assigned to them that are open or pending.
    pub open: i64,
    /// When they were last given one.
    pub last_assigned: Option<DateTime<Utc>>,
}

/// The company's active agents (and admins, when asked) with their open queues.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn agents(db: impl Exec, company: CompanyId, with_admins: bool) -> Result<Vec<Agent>> {
    team_agents(db, company, with_admins, None).await
}

/// [`agents`], only those holding the team's company role when one is named.
pub async fn team_agents(
    db: impl Exec,
    company: CompanyId,
    with_admins: bool,
    team: Option<CompanyRoleId>,
) -> Result<Vec<Agent>> {
    let open = Query::select()
        .expr(sea_query::Func::cast_as(
            sea_query::Func::count(Expr::col((C::Table, C::Id))),
            "BIGINT",
        ))
        .from(C::Table)
        .and_where(Expr::col((C::Table, C::CompanyId)).eq(company.0))
        .and_where(Expr::col((C::Table, C::AssigneeId)).equals((Users::Table, Users::Id)))
        .and_where(Expr::col((C::Table, C::Status)).is_in(["open", "pending"]))
        .to_owned();
    let last = Query::select()
        .expr(Expr::col((C::Table, C::AssignedAt)).max())
        .from(C::Table)
        .and_where(Expr::col((C::Table, C::CompanyId)).eq(company.0))
        .and_where(Expr::col((C::Table, C::AssigneeId)).equals((Users::Table, Users::Id)))
        .to_owned();
    let mut select = Query::select()
        .column((Users::Table, Users::Id))
        .expr_as(
            Expr::SubQuery(None, Box::new(open.into())),
            Alias::new("open"),
        )
        .expr_as(
            Expr::SubQuery(None, Box::new(last.into())),
            Alias::new("last_assigned"),
        )
        .from(Users::Table)
        .and_where(Expr::col((Users::Table, Users::CompanyId)).eq(company.0))
        .and_where(Expr::col((Users::Table, Users::Kind)).eq("person"))
        .and_where(Expr::col((Users::Table, Users::Status)).eq("active"))
        .to_owned();
    if let Some(team) = team {
        let members = Query::select()
            .column(UserCompanyRoles::UserId)
            .from(UserCompanyRoles::Table)
            .and_where(Expr::col(UserCompanyRoles::CompanyId).eq(company.0))
            .and_where(Expr::col(UserCompanyRoles::RoleId).eq(team.0))
            .to_owned();
        select.and_where(Expr::col((Users::Table, Users::Id)).in_subquery(members));
    }
    let agent = crate::users::has_system_role(SystemRole::Agent);
    if with_admins {
        select.cond_where(agent.or(crate::users::has_system_role(SystemRole::Admin)));
    } else {
        select.and_where(agent);
    }
    db.fetch_all(&select).await
}

/// A message as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Message {
    pub id: MessageId,
    pub company_id: CompanyId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub author_id: UserId,
    pub body: String,
    pub internal: bool,
    pub body_hash: String,
    pub prev_hash: String,
    pub hash: String,
    pub version: i32,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The question template it sends, or answers.
    pub template_id: Option<Uuid>,
    /// A requester's structured answer to the template.
    pub answers: Option<sqlx::types::Json<serde_json::Value>>,
    /// `body` holds the text sealed (encrypted, base64) rather than the text.
    pub sealed: bool,
    /// The provider's id of an inbound message from a channel.
    pub external_id: Option<String>,
    /// Files an inbound message links to at its provider (`[{url, name, content_type}]`).
    pub external_files: Option<sqlx::types::Json<serde_json::Value>>,
    /// Where an agent's reply on a channel is on its way (`queued`, `sent`, ...).
    pub delivery: Option<String>,
    /// Why its delivery failed.
    pub delivery_error: Option<String>,
}

const MESSAGE_COLUMNS: [M; 21] = [
    M::Id,
    M::CompanyId,
    M::ConversationId,
    M::Seq,
    M::AuthorId,
    M::Body,
    M::Internal,
    M::BodyHash,
    M::PrevHash,
    M::Hash,
    M::Version,
    M::EditedAt,
    M::DeletedAt,
    M::CreatedAt,
    M::TemplateId,
    M::Answers,
    M::Sealed,
    M::ExternalId,
    M::ExternalFiles,
    M::Delivery,
    M::DeliveryError,
];

/// Takes the conversation's next message number and marks its activity; the caller holds
/// the conversation's lock.
pub async fn next_seq(
    tx: &mut Tx,
    company: CompanyId,
    id: ConversationId,
    at: DateTime<Utc>,
) -> Result<i64> {
    let update = Query::update()
        .table(C::Table)
        .value(C::LastSeq, Expr::col(C::LastSeq).add(1))
        .value(C::LastMessageAt, at)
        .value(C::UpdatedAt, at)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id.0))
        .returning(Query::returning().column(C::LastSeq))
        .to_owned();
    let row: Option<SeqRow> = tx.fetch_optional(&update).await?;
    row.map(|r| r.last_seq).ok_or(StoreError::NotFound)
}

#[derive(sqlx::FromRow)]
struct SeqRow {
    last_seq: i64,
}

/// The hash of the message numbered `seq`, if there is one.
pub async fn hash_of(
    tx: &mut Tx,
    company: CompanyId,
    conversation: ConversationId,
    seq: i64,
) -> Result<Option<String>> {
    let select = Query::select()
        .column(M::Hash)
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::ConversationId).eq(conversation.0))
        .and_where(Expr::col(M::Seq).eq(seq))
        .to_owned();
    let row: Option<HashRow> = tx.fetch_optional(&select).await?;
    Ok(row.map(|r| r.hash))
}

#[derive(sqlx::FromRow)]
struct HashRow {
    hash: String,
}

pub async fn insert_message(tx: &mut Tx, message: &Message) -> Result<()> {
    let insert = Query::insert()
        .into_table(M::Table)
        .columns(MESSAGE_COLUMNS)
        .values_panic([
            message.id.0.into(),
            message.company_id.0.into(),
            message.conversation_id.0.into(),
            message.seq.into(),
            message.author_id.0.into(),
            message.body.clone().into(),
            message.internal.into(),
            message.body_hash.clone().into(),
            message.prev_hash.clone().into(),
            message.hash.clone().into(),
            message.version.into(),
            message.edited_at.into(),
            message.deleted_at.into(),
            message.created_at.into(),
            message.template_id.into(),
            message.answers.as_ref().map(|a| a.0.clone()).into(),
            message.sealed.into(),
            message.external_id.clone().into(),
            message.external_files.as_ref().map(|a| a.0.clone()).into(),
            message.delivery.clone().into(),
            message.delivery_error.clone().into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

/// A conversation's messages in order, internal notes only when asked for.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn messages(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
    with_internal: bool,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut select = Query::select()
        .columns(MESSAGE_COLUMNS)
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::ConversationId).eq(conversation.0))
        .and_where(Expr::col(M::Seq).gt(after_seq))
        .order_by(M::Seq, Order::Asc)
        .limit(u64::from(Ord::max(limit, 1)))
        .to_owned();
    if !with_internal {
        select.and_where(Expr::col(M::Internal).eq(false));
    }
    db.fetch_all(&select).await
}

/// Messages of others after a watermark: a participant's unread count.
pub async fn unread(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
    reader: UserId,
    with_internal: bool,
    up_to: i64,
) -> Result<i64> {
    let mut select = Query::select()
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::ConversationId).eq(conversation.0))
        .and_where(Expr::col(M::Seq).gt(up_to))
        .and_where(Expr::col(M::AuthorId).ne(reader.0))
        .to_owned();
    if !with_internal {
        select.and_where(Expr::col(M::Internal).eq(false));
    }
    crate::db::count(db, select, M::Id).await
}

/// Everyone's read watermarks of a conversation.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReadMark {
    pub user_id: UserId,
    pub up_to: i64,
}

pub async fn read_marks(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
) -> Result<Vec<ReadMark>> {
    let select = Query::select()
        .columns([R::UserId, R::UpTo])
        .from(R::Table)
        .and_where(Expr::col(R::CompanyId).eq(company.0))
        .and_where(Expr::col(R::ConversationId).eq(conversation.0))
        .to_owned();
    db.fetch_all(&select).await
}

/// Raises a participant's watermark to `up_to` (never lowers it); the watermark that stands.
pub async fn mark_read(
    tx: &mut Tx,
    company: CompanyId,
    conversation: ConversationId,
    user: UserId,
    up_to: i64,
) -> Result<i64> {
    let marks = read_marks(&mut *tx, company, conversation).await?;
    let current = marks.iter().find(|m| m.user_id == user).map(|m| m.up_to);
    let now = Utc::now();
    match current {
        Some(current) if current >= up_to => return Ok(current),
        Some(_) => {
            let update = Query::update()
                .table(R::Table)
                .value(R::UpTo, up_to)
                .value(R::UpdatedAt, now)
                .and_where(Expr::col(R::ConversationId).eq(conversation.0))
                .and_where(Expr::col(R::UserId).eq(user.0))
                .to_owned();
            tx.execute(&update).await?;
        }
        None => {
            let insert = Query::insert()
                .into_table(R::Table)
                .columns([
                    R::ConversationId,
                    R::UserId,
                    R::CompanyId,
                    R::UpTo,
                    R::UpdatedAt,
                ])
                .values_panic([
                    conversation.0.into(),
                    user.0.into(),
                    company.0.into(),
                    up_to.into(),
                    now.into(),
                ])
                .on_conflict(
                    OnConflict::columns([R::ConversationId, R::UserId])
                        .update_column(R::UpTo)
                        .to_owned(),
                )
                .to_owned();
            tx.execute(&insert).await?;
        }
    }
    Ok(up_to)
}

pub async fn message(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
    id: MessageId,
) -> Result<Message> {
    let select = Query::select()
        .columns(MESSAGE_COLUMNS)
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::ConversationId).eq(conversation.0))
        .and_where(Expr::col(M::Id).eq(id.0))
        .to_owned();
    let row: Option<Message> = db.fetch_optional(&select).await?;
    row.ok_or(StoreError::NotFound)
}

/// Replaces a message's body (an edit, or the empty body of a tombstone), keeping the body
/// it had as a version of its own; `sealed` says whether the new body is sealed.
pub async fn replace_body(
    tx: &mut Tx,
    message: &Message,
    by: UserId,
    body: &str,
    sealed: bool,
    deleted: bool,
) -> Result<Message> {
    let now = Utc::now();
    let keep = Query::insert()
        .into_table(V::Table)
        .columns([
            V::MessageId,
            V::CompanyId,
            V::Version,
            V::Body,
            V::EditedBy,
            V::ReplacedAt,
            V::Sealed,
        ])
        .values_panic([
            message.id.0.into(),
            message.company_id.0.into(),
            message.version.into(),
            message.body.clone().into(),
            by.0.into(),
            now.into(),
            message.sealed.into(),
        ])
        .to_owned();
    tx.execute(&keep).await?;
    let mut update = Query::update()
        .table(M::Table)
        .value(M::Body, body)
        .value(M::Sealed, sealed)
        .value(M::Version, message.version + 1)
        .and_where(Expr::col(M::CompanyId).eq(message.company_id.0))
        .and_where(Expr::col(M::Id).eq(message.id.0))
        .to_owned();
    if deleted {
        update.value(M::DeletedAt, now);
    } else {
        update.value(M::EditedAt, now);
    }
    tx.execute(&update).await?;
    message_in(tx, message).await
}

async fn message_in(tx: &mut Tx, found: &Message) -> Result<Message> {
    message(&mut *tx, found.company_id, found.conversation_id, found.id).await
}

/// An earlier body of a message.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct Version {
    pub version: i32,
    pub body: String,
    pub edited_by: UserId,
    pub replaced_at: DateTime<Utc>,
    pub sealed: bool,
}

/// A message's earlier bodies, oldest first.
pub async fn versions(
    db: impl Exec,
    company: CompanyId,
    message: MessageId,
) -> Result<Vec<Version>> {
    let select = Query::select()
        .columns([V::Version, V::Body, V::EditedBy, V::ReplacedAt, V::Sealed])
        .from(V::Table)
        .and_where(Expr::col(V::CompanyId).eq(company.0))
        .and_where(Expr::col(V::MessageId).eq(message.0))
        .order_by(V::Version, Order::Asc)
        .to_owned();
    db.fetch_all(&select).await
}

/// Whether an agent sent the template in the conversation (a requester answers only those).
pub async fn template_sent(
    db: impl Exec,
    company: CompanyId,
    conversation: ConversationId,
    template: Uuid,
) -> Result<bool> {
    let select = Query::select()
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::ConversationId).eq(conversation.0))
        .and_where(Expr::col(M::TemplateId).eq(template))
        .and_where(Expr::col(M::Answers).is_null())
        .to_owned();
    Ok(crate::db::count(db, select, M::Id).await? > 0)
}

/// Links the conversation to a ticket, unless it has one already (then `Conflict` on
/// `conversations_ticket_id`); another conversation of the ticket is a `Conflict` on the
/// unique index `conversations_company_id_ticket_id_key`. The conversation stops being its
/// requester's general one: it is the ticket's now.
pub async fn link_ticket(
    tx: &mut Tx,
    company: CompanyId,
    id: ConversationId,
    ticket: TicketId,
) -> Result<()> {
    let update = Query::update()
        .table(C::Table)
        .value(C::TicketId, ticket.0)
        .value(C::OpenKey, Option::<String>::None)
        .value(C::UpdatedAt, Utc::now())
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .and_where(Expr::col(C::Id).eq(id.0))
        .and_where(Expr::col(C::TicketId).is_null())
        .to_owned();
    match tx.execute(&update).await? {
        0 => Err(StoreError::Conflict {
            constraint: "conversations_ticket_id".into(),
        }),
        _ => Ok(()),
    }
}

/// Whether the company's agents support this ticket's requester or the ticket itself: a
/// conversation of the requester's, or one linked to the ticket.
pub async fn supports(
    db: impl Exec,
    company: CompanyId,
    ticket: TicketId,
    requester: UserId,
) -> Result<bool> {
    let select = Query::select()
        .from(C::Table)
        .and_where(Expr::col(C::CompanyId).eq(company.0))
        .cond_where(
            Expr::col(C::TicketId)
                .eq(ticket.0)
                .or(Expr::col(C::RequesterId).eq(requester.0)),
        )
        .to_owned();
    Ok(crate::db::count(db, select, C::Id).await? > 0)
}

/// The conversation a message belongs to, if the message is the company's.
pub async fn message_conversation(
    db: impl Exec,
    company: CompanyId,
    message: MessageId,
) -> Result<Option<ConversationId>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        conversation_id: ConversationId,
    }
    let select = Query::select()
        .column(M::ConversationId)
        .from(M::Table)
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::Id).eq(message.0))
        .to_owned();
    let row: Option<Row> = db.fetch_optional(&select).await?;
    Ok(row.map(|r| r.conversation_id))
}

/// Sets where an outbound message is on its way; a report never moves it back (`ranks`
/// lists the states it may replace). Returns whether it changed.
pub async fn set_delivery(
    tx: &mut Tx,
    company: CompanyId,
    message: MessageId,
    state: &str,
    error: Option<&str>,
    replaces: &[&str],
) -> Result<bool> {
    let update = Query::update()
        .table(M::Table)
        .value(M::Delivery, state)
        .value(M::DeliveryError, error.map(str::to_owned))
        .and_where(Expr::col(M::CompanyId).eq(company.0))
        .and_where(Expr::col(M::Id).eq(message.0))
        .and_where(Expr::col(M::Delivery).is_in(replaces.iter().copied()))
        .to_owned();
    Ok(tx.execute(&update).await? == 1)
}

/// Sets a reader's watermark to `up_to`, also backwards (marking unread again).
pub async fn reset_read(
    tx: &mut Tx,
    company: CompanyId,
    conversation: ConversationId,
    user: UserId,
    up_to: i64,
) -> Result<()> {
    let delete = Query::delete()
        .from_table(R::Table)
        .and_where(Expr::col(R::CompanyId).eq(company.0))
        .and_where(Expr::col(R::ConversationId).eq(conversation.0))
        .and_where(Expr::col(R::UserId).eq(user.0))
        .to_owned();
    tx.execute(&delete).await?;
    mark_read(tx, company, conversation, user, up_to).await?;
    Ok(())
}
