//! Company administration: users and their roles, company roles, API tokens, the invite
//! code. Every function requires the `admin` system role in the actor's own company, and
//! every lookup is scoped to that company, so other tenants' objects are simply not found.

use chrono::{DateTime, Utc};
use domain::auth::{Actor, first_role_out_of_reach};
use domain::company::{Company, CompanyRole, DataLimits};
use domain::event::{Payload, Stream};
use domain::ids::{ApiTokenId, CompanyRoleId};
use domain::user::{User, UserStatus};
use domain::validation::required_text;
use domain::{CompanyId, Email, SystemRole, UserId, ValidationErrors};
use serde::Serialize;

pub use store::api_tokens::ApiToken;
pub use store::users::UserFilter;

use super::tokens;
use crate::error::{AppError, Result};
use crate::identity::accounts::{add_person, check_person};
use crate::{App, audit};

/// A user as the admin list shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: User,
    /// The names of the company roles held.
    pub company_roles: Vec<String>,
}

async fn view(app: &App, company: CompanyId, user: User) -> Result<UserView> {
    let company_roles = store::companies::user_role_names(app.db(), company, user.id).await?;
    Ok(UserView {
        user,
        company_roles,
    })
}

pub async fn list_users(
    app: &App,
    actor: &Actor,
    filter: store::users::UserFilter,
) -> Result<Vec<User>> {
    let company = crate::access::require_admin(actor)?;
    Ok(store::users::list(app.db(), company, &filter).await?)
}

/// How many people `filter` finds, over all its pages.
pub async fn count_users(
    app: &App,
    actor: &Actor,
    filter: &store::users::UserFilter,
) -> Result<i64> {
    let company = crate::access::require_admin(actor)?;
    Ok(store::users::count(app.db(), company, filter).await?)
}

pub async fn get_user(app: &App, actor: &Actor, id: UserId) -> Result<UserView> {
    let company = crate::access::require_admin(actor)?;
    let user = person(app, company, id).await?;
    view(app, company, user).await
}

/// A person (not a service account) of the company.
async fn person(app: &App, company: CompanyId, id: UserId) -> Result<User> {
    let user = store::users::get(app.db(), company, id).await?;
    Ok(user)
}

/// Input of `POST /users`.
#[derive(Clone, Debug)]
pub struct NewUserInput {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub system_roles: Vec<SystemRole>,
}

/// Adds the implied `user` role, removes repeats, and records under `field` any role the
/// actor may not grant.
fn grantable_roles(
    actor: &Actor,
    mut roles: Vec<SystemRole>,
    errors: &mut ValidationErrors,
    field: &str,
) -> Vec<SystemRole> {
    roles.push(SystemRole::User);
    roles.sort();
    roles.dedup();
    if let Some(role) = first_role_out_of_reach(actor.level(), &roles) {
        errors.add(field, format!("you may not grant `{role}`"));
    }
    roles
}

/// Creates an active user directly (no approval needed).
pub async fn create_user(app: &App, actor: &Actor, input: NewUserInput) -> Result<UserView> {
    let company = crate::access::require_admin(actor)?;
    let mut errors = ValidationErrors::new();
    let person = check_person(
        &mut errors,
        ["email", "password", "first_name", "last_name"],
        &input.email,
        &input.password,
        &input.first_name,
        &input.last_name,
    );
    let roles = grantable_roles(actor, input.system_roles, &mut errors, "system_roles");
    errors.clone().into_result()?;
    let Some(person) = person else {
        return Err(errors.into());
    };
    let hash = app.passwords().hash(&input.password).await?;
    let mut tx = app.db().begin().await?;
    let default_role = store::companies::default_role(&mut tx, company).await?;
    let user = add_person(
        &mut tx,
        company,
        default_role.id,
        person,
        hash,
        UserStatus::Active,
        roles,
        "email",
    )
    .await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::User(user.id),
        Payload::UserCreated {
            email: user.email.to_string(),
            roles: user.system_roles.clone(),
            via: None,
        },
    )
    .await?;
    app.commit(tx).await?;
    view(app, company, user).await
}

/// Refuses changes to users above the actor's level.
fn check_reach(actor: &Actor, target: &User) -> Result<()> {
    let target_level = target
        .system_roles
        .iter()
        .map(|r| r.level())
        .max()
        .unwrap_or(0);
    if target_level > actor.level() {
        return Err(AppError::Forbidden(
            "you may not change a user above your own level".into(),
        ));
    }
    Ok(())
}

/// Would this change leave the company without an active admin?
async fn guard_last_admin(app: &App, company: CompanyId, target: &User) -> Result<()> {
    if target.status == UserStatus::Active
        && target.has_role(SystemRole::Admin)
        && store::users::count_active_admins(app.db(), company).await? <= 1
    {
        return Err(AppError::Conflict {
            field: None,
            message: "this is the company's last active admin".into(),
        });
    }
    Ok(())
}

pub async fn update_user_names(
    app: &App,
    actor: &Actor,
    id: UserId,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<UserView> {
    let company = crate::access::require_admin(actor)?;
    let target = person(app, company, id).await?;
    check_reach(actor, &target)?;
    let names = (first_name, last_name);
    crate::identity::accounts::rename(
        app,
        actor,
        Some(company),
        id,
        names,
        Payload::UserUpdated {},
    )
    .await?;
    get_user(app, actor, id).await
}

/// What an admin can do to a user's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    Approve,
    Block,
    Unblock,
}

pub async fn change_status(
    app: &App,
    actor: &Actor,
    id: UserId,
    change: StatusChange,
) -> Result<UserView> {
    let company = crate::access::require_admin(actor)?;
    let target = person(app, company, id).await?;
    check_reach(actor, &target)?;
    if target.id == actor.user_id && change == StatusChange::Block {
        return Err(AppError::Forbidden("you cannot block yourself".into()));
    }
    let (from_ok, to, kind) = match change {
        StatusChange::Approve => (
            target.status == UserStatus::Pending,
            UserStatus::Active,
            Payload::UserApproved {},
        ),
        StatusChange::Block => (
            target.status != UserStatus::Blocked,
            UserStatus::Blocked,
            Payload::UserBlocked {},
        ),
        StatusChange::Unblock => (
            target.status == UserStatus::Blocked,
            UserStatus::Active,
            Payload::UserUnblocked {},
        ),
    };
    if !from_ok {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: format!("the user is {}", target.status),
        });
    }
    if change == StatusChange::Block {
        guard_last_admin(app, company, &target).await?;
    }
    let mut tx = app.db().begin().await?;
    store::users::update(
        &mut tx,
        Some(company),
        id,
        store::users::UserChanges {
            status: Some(to),
            ..Default::default()
        },
    )
    .await?;
    if change == StatusChange::Block {
        store::sessions::revoke_all_for_user(&mut tx, id, None).await?;
    }
    audit::record(&mut tx, Some(actor), Some(company), Stream::User(id), kind).await?;
    app.commit(tx).await?;
    get_user(app, actor, id).await
}

/// Replaces a user's system roles and company roles.
pub async fn set_roles(
    app: &App,
    actor: &Actor,
    id: UserId,
    system_roles: Vec<SystemRole>,
    company_roles: Vec<String>,
) -> Result<UserView> {
    let company = crate::access::require_admin(actor)?;
    if id == actor.user_id {
        return Err(AppError::Forbidden(
            "you cannot change your own roles".into(),
        ));
    }
    let target = person(app, company, id).await?;
    check_reach(actor, &target)?;
    let mut errors = ValidationErrors::new();
    let roles = grantable_roles(actor, system_roles, &mut errors, "system_roles");
    let defined = store::companies::list_roles(app.db(), company).await?;
    let mut role_ids: Vec<CompanyRoleId> = defined
        .iter()
        .filter(|r| r.is_default)
        .map(|r| r.id)
        .collect();
    for name in &company_roles {
        match defined.iter().find(|r| &r.name == name) {
            Some(role) if !role_ids.contains(&role.id) => role_ids.push(role.id),
            Some(_) => {}
            None => errors.add("company_roles", format!("no company role named `{name}`")),
        }
    }
    errors.into_result()?;
    if target.has_role(SystemRole::Admin) && !roles.contains(&SystemRole::Admin) {
        guard_last_admin(app, company, &target).await?;
    }
    let mut tx = app.db().begin().await?;
    store::users::update(
        &mut tx,
        Some(company),
        id,
        store::users::UserChanges {
            system_roles: Some(roles.clone()),
            ..Default::default()
        },
    )
    .await?;
    store::companies::set_user_roles(&mut tx, company, id, &role_ids).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::User(id),
        Payload::UserRolesChanged {
            system_roles: roles,
            company_roles,
        },
    )
    .await?;
    app.commit(tx).await?;
    get_user(app, actor, id).await
}

pub async fn delete_user(app: &App, actor: &Actor, id: UserId) -> Result<()> {
    let company = crate::access::require_admin(actor)?;
    if id == actor.user_id {
        return Err(AppError::Forbidden("you cannot delete yourself".into()));
    }
    let target = person(app, company, id).await?;
    check_reach(actor, &target)?;
    guard_last_admin(app, company, &target).await?;
    let mut tx = app.db().begin().await?;
    store::users::delete(&mut tx, company, id).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::User(id),
        Payload::UserDeleted {
            email: target.email.to_string(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

// ---- company roles

fn role_conflict(error: store::StoreError) -> AppError {
    match error {
        store::StoreError::Conflict { constraint }
            if constraint == "company_roles_company_id_name_key" =>
        {
            AppError::Conflict {
                field: Some("name".into()),
                message: "a company role with this name already exists".into(),
            }
        }
        other => other.into(),
    }
}

pub async fn list_company_roles(app: &App, actor: &Actor) -> Result<Vec<CompanyRole>> {
    let company = crate::access::require_admin(actor)?;
    Ok(store::companies::list_roles(app.db(), company).await?)
}

pub async fn get_company_role(app: &App, actor: &Actor, id: CompanyRoleId) -> Result<CompanyRole> {
    let company = crate::access::require_admin(actor)?;
    Ok(store::companies::get_role(app.db(), company, id).await?)
}

pub async fn create_company_role(
    app: &App,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<CompanyRole> {
    let company = crate::access::require_admin(actor)?;
    let mut errors = ValidationErrors::new();
    let name = required_text(&mut errors, "name", name, 100);
    if description.chars().count() > 1000 {
        errors.add("description", "must be at most 1000 characters");
    }
    errors.clone().into_result()?;
    let Some(name) = name else {
        return Err(errors.into());
    };
    let mut tx = app.db().begin().await?;
    let role = store::companies::insert_role(&mut tx, company, &name, description.trim(), false)
        .await
        .map_err(role_conflict)?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::CompanyRoleCreated {
            role_id: role.id,
            name: role.name.clone(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(role)
}

pub async fn update_company_role(
    app: &App,
    actor: &Actor,
    id: CompanyRoleId,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<CompanyRole> {
    let company = crate::access::require_admin(actor)?;
    let role = store::companies::get_role(app.db(), company, id).await?;
    let mut errors = ValidationErrors::new();
    let name = name.and_then(|n| required_text(&mut errors, "name", n, 100));
    if role.is_default && name.as_deref().is_some_and(|n| n != role.name) {
        errors.add("name", "the default role cannot be renamed");
    }
    if description.is_some_and(|d| d.chars().count() > 1000) {
        errors.add("description", "must be at most 1000 characters");
    }
    errors.into_result()?;
    let mut tx = app.db().begin().await?;
    store::companies::update_role(
        &mut tx,
        company,
        id,
        name.as_deref(),
        description.map(str::trim),
    )
    .await
    .map_err(role_conflict)?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::CompanyRoleUpdated { role_id: id },
    )
    .await?;
    app.commit(tx).await?;
    Ok(store::companies::get_role(app.db(), company, id).await?)
}

pub async fn delete_company_role(app: &App, actor: &Actor, id: CompanyRoleId) -> Result<()> {
    let company = crate::access::require_admin(actor)?;
    let role = store::companies::get_role(app.db(), company, id).await?;
    if role.is_default {
        return Err(AppError::Conflict {
            field: None,
            message: "the default role `user` cannot be deleted".into(),
        });
    }
    let mut tx = app.db().begin().await?;
    store::companies::delete_role(&mut tx, company, id).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::CompanyRoleDeleted {
            role_id: id,
            name: role.name,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

// ---- company and invite code

pub async fn company(app: &App, actor: &Actor) -> Result<Company> {
    let company = crate::access::require_admin(actor)?;
    Ok(store::companies::get(app.db(), company).await?)
}

pub async fn rotate_invite_code(app: &App, actor: &Actor) -> Result<Company> {
    let company = crate::access::require_admin(actor)?;
    let mut tx = app.db().begin().await?;
    store::companies::set_invite_code(
        &mut tx,
        company,
        &crate::identity::accounts::new_invite_code(),
    )
    .await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::InviteCodeRotated {},
    )
    .await?;
    app.commit(tx).await?;
    Ok(store::companies::get(app.db(), company).await?)
}

/// Sets the company's own bounds of ticket data and task outputs (`None`: the server's
/// default). They may not exceed what the server parses at all (`max_body_bytes`,
/// `max_json_nodes`), nor be so small that no form fits.
pub async fn set_data_limits(app: &App, actor: &Actor, limits: DataLimits) -> Result<Company> {
    let company = crate::access::require_admin(actor)?;
    let settings = app.settings();
    let mut errors = ValidationErrors::new();
    let mut check = |field: &str, value: Option<u64>, min: u64, max: u64| {
        if value.is_some_and(|v| v < min || v > max) {
            errors.add(field, format!("must be between {min} and {max}"));
        }
    };
    check(
        "ticket_data_max_bytes",
        limits.max_bytes,
        1024,
        settings.max_body_bytes as u64,
    );
    check(
        "ticket_data_max_nodes",
        limits.max_nodes,
        10,
        settings.max_json_nodes as u64,
    );
    errors.into_result()?;
    let mut tx = app.db().begin().await?;
    store::companies::set_data_limits(&mut tx, company, limits).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::DataLimitsSet {
            max_bytes: limits.max_bytes,
            max_nodes: limits.max_nodes,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(store::companies::get(app.db(), company).await?)
}

// ---- API tokens

/// A newly issued API token: the secret is shown this once.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: store::api_tokens::ApiToken,
    pub roles: Vec<SystemRole>,
    pub secret: String,
}

pub async fn create_api_token(
    app: &App,
    actor: &Actor,
    name: &str,
    roles: Vec<SystemRole>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<IssuedToken> {
    let company = crate::access::require_admin(actor)?;
    let mut errors = ValidationErrors::new();
    let name = required_text(&mut errors, "name", name, 100);
    let roles = grantable_roles(actor, roles, &mut errors, "roles");
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        errors.add("expires_at", "must be in the future");
    }
    errors.clone().into_result()?;
    let Some(name) = name else {
        return Err(errors.into());
    };
    let secret = tokens::opaque(tokens::API_PREFIX);
    let service_id = UserId::new();
    let email = Email::parse(&format!(
        "token-{}@service.ticketflower.invalid",
        service_id.0.simple()
    ))
    .map_err(AppError::internal)?;
    let mut tx = app.db().begin().await?;
    let user = store::users::insert(
        &mut tx,
        store::users::NewUser {
            company_id: Some(company),
            email,
            password_hash: "!".into(),
            first_name: name.clone(),
            last_name: "(API token)".into(),
            status: UserStatus::Active,
            system_roles: roles.clone(),
            kind: store::users::UserKind::Service,
        },
    )
    .await?;
    let token = store::api_tokens::insert(
        &mut tx,
        store::api_tokens::NewApiToken {
            company_id: company,
            user_id: user.id,
            name: &name,
            token_hash: &tokens::hash(&secret),
            created_by: actor.user_id,
            expires_at,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::ApiTokenIssued {
            token_id: token.id,
            name,
            roles: roles.clone(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(IssuedToken {
        token,
        roles,
        secret,
    })
}

/// A page of the company's API tokens, newest first, and how many there are in all.
pub async fn list_api_tokens(
    app: &App,
    actor: &Actor,
    after: Option<ApiTokenId>,
    limit: u32,
) -> Result<(Vec<store::api_tokens::ApiToken>, i64)> {
    let company = crate::access::require_admin(actor)?;
    let total = store::api_tokens::count(app.db(), company).await?;
    let tokens = store::api_tokens::list(app.db(), company, after, limit).await?;
    Ok((tokens, total))
}

pub async fn revoke_api_token(app: &App, actor: &Actor, id: ApiTokenId) -> Result<()> {
    let company = crate::access::require_admin(actor)?;
    let token = store::api_tokens::get(app.db(), company, id).await?;
    if token.revoked_at.is_some() {
        return Ok(());
    }
    let mut tx = app.db().begin().await?;
    store::api_tokens::revoke(&mut tx, company, id).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::ApiTokenRevoked {
            token_id: id,
            name: token.name,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}
