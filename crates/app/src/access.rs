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
use domain::workflow::{self as wf, TaskStatus, TaskType, WorkflowRunStatus, WorkflowStatus};

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
///
/// A task the design gives to a person (`requester`, `completer_of`) is theirs without this:
/// its holder completes it, worker or not (see [`task_actions`]).
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

/// What an actor may do with a ticket now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TicketActions {
    /// Cancel it: its requester or a ticket admin, while its workflow runs.
    pub cancel: bool,
    /// Correct its data: ticket admins, while its workflow runs.
    pub correct: bool,
    /// Comment on it and attach files: everyone who sees it.
    pub comment: bool,
    /// Write internal notes only the team reads.
    pub note: bool,
    /// Read how the workflow runs: its graph, its automated steps and their errors, every
    /// event. The ticket team does; everyone else follows the ticket's `progress`.
    pub details: bool,
}

/// The actions on a ticket requested by `requester` whose workflow is in `run`, for someone
/// who sees it.
pub fn ticket_actions(
    actor: &Actor,
    requester: domain::UserId,
    run: WorkflowRunStatus,
) -> TicketActions {
    let running = WorkflowRunStatus::ACTIVE.contains(&run);
    let admin = is_ticket_admin(actor);
    TicketActions {
        cancel: running && (requester == actor.user_id || admin),
        correct: running && admin,
        comment: true,
        note: is_team(actor),
        details: is_team(actor),
    }
}

/// The ticket team: ticket admins and task workers read internal notes and the workflow's
/// details (its graph, its automated steps, their errors); a requester outside it reads a
/// plain progress instead.
pub fn is_team(actor: &Actor) -> bool {
    is_ticket_admin(actor) || actor.has(SystemRole::TaskWorker)
}

/// Whether the actor answers support conversations: agents, and admins, who may do what
/// agents do. They read every conversation of the company and its internal notes; anyone
/// else reads only the conversations they opened.
pub fn is_agent(actor: &Actor) -> bool {
    actor.company_id.is_some() && (actor.has(SystemRole::Agent) || actor.has(SystemRole::Admin))
}

/// Agents (and admins) of a company: what only those who answer conversations may read,
/// such as the company's canned replies.
pub fn require_agent(actor: &Actor) -> Result<CompanyId> {
    let company = company_of(actor)?;
    if !is_agent(actor) {
        return Err(AppError::Forbidden("this needs the agent role".into()));
    }
    Ok(company)
}

/// What an actor may do with a task now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TaskActions {
    /// Take it from the queue: an eligible worker, while nobody holds it.
    pub claim: bool,
    /// Give it back to the queue: its holder or a ticket admin, unless the design gave it to
    /// the person who holds it (the requester, say), whose task it stays.
    pub release: bool,
    /// Give it to a worker: ticket admins.
    pub assign: bool,
    /// Fill in its form and complete it: its holder.
    pub complete: bool,
}

/// The actions on a task of `task_type` in `status` held by `holder`, for an actor who
/// `may_work` it (see [`may_work`]); `personal`: the holder is the person the design gives
/// the task to. Action tasks are the engine's: nobody works them. The holder completes, so a
/// requester holding their own task completes it without being a worker.
pub fn task_actions(
    actor: &Actor,
    task_type: TaskType,
    status: TaskStatus,
    holder: Option<domain::UserId>,
    may_work: bool,
    personal: bool,
) -> TaskActions {
    if task_type != TaskType::Form {
        return TaskActions::default();
    }
    let queued = TaskStatus::QUEUED.contains(&status);
    let mine = holder == Some(actor.user_id);
    let admin = is_ticket_admin(actor);
    TaskActions {
        claim: holder.is_none() && status == TaskStatus::Open && may_work,
        release: holder.is_some() && queued && (mine || admin) && !personal,
        assign: queued && admin,
        complete: mine && queued,
    }
}

/// What an actor may do with a workflow now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WorkflowActions {
    /// Change its working copy (which makes an ACTIVE workflow a DRAFT again).
    pub edit: bool,
    /// Publish the working copy as a new ACTIVE version: a DRAFT without problems.
    pub publish: bool,
    /// Stop new tickets on its ACTIVE version.
    pub deprecate: bool,
    /// Retire it for good.
    pub archive: bool,
}

/// The actions on a workflow whose working copy is in `status`, with `problems` problems,
/// and which has an ACTIVE version or not.
pub fn workflow_actions(
    actor: &Actor,
    status: WorkflowStatus,
    problems: usize,
    has_active: bool,
) -> WorkflowActions {
    let designer = can_design(actor);
    WorkflowActions {
        edit: designer && status != WorkflowStatus::Archived,
        publish: designer && status == WorkflowStatus::Draft && problems == 0,
        deprecate: designer && (status == WorkflowStatus::Active || has_active),
        archive: designer
            && status != WorkflowStatus::Archived
            && (status != WorkflowStatus::Draft || has_active),
    }
}
