//! Who may do what: every permission predicate of TicketFlower, in one place, so that a use
//! case asks here instead of keeping its own rule, and the views that carry their allowed
//! actions (see `runtime::tickets::TicketActions`) are computed from the same rules.
//!
//! The `require_*` functions answer the actor's company or a `Forbidden` error; the `is_*`,
//! `can_*` and `may_*` ones answer a plain yes or no.

use domain::CompanyId;
use domain::SystemRole;
use domain::UserId;
use domain::auth::Actor;
use domain::workflow as wf;

use crate::{AppError, Result};

/// The company of an actor that must act inside one.
pub fn company_of(actor: &Actor) -> Result<CompanyId> {
    actor
        .company_id
        .ok_or_else(|| AppError::Forbidden("this needs a company account".into()))
}

/// Company admins: users, roles, tokens and settings of their company.
pub fn require_admin(actor: &Actor) -> Result<CompanyId> {
    let company = company_of(actor)?;
    if !actor.has(SystemRole::Admin) {
        return Err(AppError::Forbidden("this needs the admin role".into()));
    }
    Ok(company)
}

/// Platform staff acting as themselves (never while impersonating someone).
pub fn require_staff(actor: &Actor) -> Result<()> {
    if is_staff(actor) {
        Ok(())
    } else {
        Err(AppError::Forbidden("this needs platform staff".into()))
    }
}

pub fn is_staff(actor: &Actor) -> bool {
    actor.is_staff() && actor.impersonator.is_none()
}

/// Ticket admins (and company admins) see and manage every ticket of the company.
pub fn is_ticket_admin(actor: &Actor) -> bool {
    actor.has(SystemRole::TicketAdmin) || actor.has(SystemRole::Admin)
}

pub fn require_ticket_admin(actor: &Actor) -> Result<CompanyId> {
    let company = company_of(actor)?;
    if is_ticket_admin(actor) {
        Ok(company)
    } else {
        Err(AppError::Forbidden(
            "this needs the ticket_admin role".into(),
        ))
    }
}

/// May change definitions: `workflow_creator` or `admin` of the company.
pub fn can_design(actor: &Actor) -> bool {
    actor.has(SystemRole::WorkflowCreator) || actor.has(SystemRole::Admin)
}

pub fn require_designer(actor: &Actor) -> Result<CompanyId> {
    let company = company_of(actor)?;
    if can_design(actor) {
        Ok(company)
    } else {
        Err(AppError::Forbidden(
            "changing workflow definitions needs the workflow_creator role".into(),
        ))
    }
}

/// May read definitions: designers and ticket admins.
pub fn can_read_designs(actor: &Actor) -> bool {
    can_design(actor) || actor.has(SystemRole::TicketAdmin)
}

pub fn require_design_reader(actor: &Actor) -> Result<CompanyId> {
    let company = company_of(actor)?;
    if can_read_designs(actor) {
        Ok(company)
    } else {
        Err(AppError::Forbidden(
            "reading workflow definitions needs the workflow_creator or ticket_admin role".into(),
        ))
    }
}

/// May submit a ticket of this type: the type names no company role, or the user holds one.
pub fn may_submit(spec: &wf::TicketTypeSpec, company_roles: &[String]) -> bool {
    spec.company_role_access.is_empty()
        || spec
            .company_role_access
            .iter()
            .any(|r| company_roles.contains(r))
}

/// May work a task (the team of a task): an active `task_worker` who holds one of the task's
/// `company_role_access` roles (none listed: anyone) and, when the task names allowed users,
/// is one of them. `store::tasks::worker_loads` asks the same of a whole company at once.
pub fn may_work(
    user: domain::UserId,
    system: &[SystemRole],
    company_roles: &[String],
    spec: &wf::TaskSpec,
    allowed: &[UserId],
) -> bool {
    system.contains(&SystemRole::TaskWorker)
        && (spec.company_role_access.is_empty()
            || spec
                .company_role_access
                .iter()
                .any(|r| company_roles.contains(r)))
        && (allowed.is_empty() || allowed.contains(&user))
}
