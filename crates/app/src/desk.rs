//! What is waiting for a person: the counts the navigation shows beside its links. A count
//! is only given to someone who may act on it (pending people to admins, open workflow
//! errors to ticket admins), so a page never hints at what its reader cannot open.

use domain::SystemRole;
use domain::auth::Actor;

use crate::{App, Result};

/// Counts for the navigation; `None` where the person has no such list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Unfinished tasks the person holds.
    pub my_tasks: Option<i64>,
    /// People waiting for an admin's approval.
    pub pending_users: Option<i64>,
    /// Workflow errors not yet resolved.
    pub open_errors: Option<i64>,
    /// For agents: open conversations of theirs and open ones nobody has taken.
    pub my_conversations: Option<i64>,
    pub unassigned_conversations: Option<i64>,
}

/// The actor's counts: one query, none for an actor outside a company.
pub async fn counts(app: &App, actor: &Actor) -> Result<Counts> {
    let Some(company) = actor.company_id else {
        return Ok(Counts::default());
    };
    let all = store::desk::counts(app.db(), company, actor.user_id).await?;
    Ok(Counts {
        my_tasks: Some(all.held_tasks),
        pending_users: actor.has(SystemRole::Admin).then_some(all.pending_users),
        open_errors: crate::access::is_ticket_admin(actor).then_some(all.open_errors),
        my_conversations: crate::access::is_agent(actor).then_some(all.my_conversations),
        unassigned_conversations: crate::access::is_agent(actor)
            .then_some(all.unassigned_conversations),
    })
}
