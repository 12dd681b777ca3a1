//! What is waiting for a person, counted for the navigation of every page: one round trip,
//! each count through an index that starts with the company.

use domain::user::UserStatus;
use domain::workflow::{TaskStatus, WorkflowErrorStatus};
use domain::{CompanyId, UserId};
use sea_query::{Expr, ExprTrait, Func, Query, SelectStatement};

use crate::db::Exec;
use crate::error::Result;
use crate::schema::{Conversations, TaskInstances, Users, WorkflowErrors};

/// The counts beside the navigation's links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DeskCounts {
    /// Unfinished tasks held by the person.
    pub held_tasks: i64,
    /// People who registered with the invite code and wait for an admin.
    pub pending_users: i64,
    /// Workflow errors not yet resolved.
    pub open_errors: i64,
    /// Open conversations assigned to the person, and open ones nobody has.
    pub my_conversations: i64,
    pub unassigned_conversations: i64,
}

fn count(mut select: SelectStatement, column: impl sea_query::IntoColumnRef) -> Expr {
    select.expr(Func::cast_as(Func::count(Expr::col(column)), "BIGINT"));
    Expr::SubQuery(None, Box::new(select.into()))
}

/// The counts of `user` in `company`. Counts a person has no use for (pending users for a
/// non-admin) are cheap enough to take together in the same statement.
#[tracing::instrument(level = "debug", skip_all, fields(company = %company))]
pub async fn counts(db: impl Exec, company: CompanyId, user: UserId) -> Result<DeskCounts> {
    let held = Query::select()
        .from(TaskInstances::Table)
        .and_where(Expr::col(TaskInstances::CompanyId).eq(company.0))
        .and_where(Expr::col(TaskInstances::AssignedTo).eq(user.0))
        .and_where(
            Expr::col(TaskInstances::Status).is_in(TaskStatus::QUEUED.map(TaskStatus::as_str)),
        )
        .to_owned();
    let pending = Query::select()
        .from(Users::Table)
        .and_where(Expr::col(Users::CompanyId).eq(company.0))
        .and_where(Expr::col(Users::Kind).eq("person"))
        .and_where(Expr::col(Users::Status).eq(UserStatus::Pending.as_str()))
        .to_owned();
    let errors = Query::select()
        .from(WorkflowErrors::Table)
        .and_where(Expr::col(WorkflowErrors::CompanyId).eq(company.0))
        .and_where(
            Expr::col(WorkflowErrors::ErrorStatus).ne(WorkflowErrorStatus::Resolved.as_str()),
        )
        .to_owned();
    let open = |assignee: Option<UserId>| {
        let mut select = Query::select()
            .from(Conversations::Table)
            .and_where(Expr::col(Conversations::CompanyId).eq(company.0))
            .and_where(Expr::col(Conversations::Status).eq("open"))
            .to_owned();
        match assignee {
            Some(user) => select.and_where(Expr::col(Conversations::AssigneeId).eq(user.0)),
            None => select.and_where(Expr::col(Conversations::AssigneeId).is_null()),
        };
        select
    };
    let select = Query::select()
        .expr_as(
            count(open(Some(user)), Conversations::Id),
            "my_conversations",
        )
        .expr_as(
            count(open(None), Conversations::Id),
            "unassigned_conversations",
        )
        .expr_as(count(held, TaskInstances::Id), "held_tasks")
        .expr_as(count(pending, Users::Id), "pending_users")
        .expr_as(count(errors, WorkflowErrors::Id), "open_errors")
        .to_owned();
    let row: Option<DeskCounts> = db.fetch_optional(&select).await?;
    Ok(row.unwrap_or_default())
}
