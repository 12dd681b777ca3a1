//! Sign-up, self-registration, one's own profile and password, and password reset by mail.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::company::{Company, DEFAULT_ROLE};
use domain::event::{Payload, Stream};
use domain::job::NewJob;
use domain::user::{User, UserStatus};
use domain::validation::required_text;
use domain::{CompanyId, Email, SystemRole, ValidationErrors, password};
use serde::Serialize;
use serde_json::json;
pub use store::logins::LoginEntry;

use super::tokens;
use crate::error::{AppError, Result};
use crate::identity::auth::{ClientInfo, TokenPair, open_session};
use crate::infra::throttle::Throttled;
use crate::{App, JobError, audit};

/// What a new company's founder enters.
#[derive(Clone, Debug)]
pub struct SignupInput {
    pub company_name: String,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_first_name: String,
    pub admin_last_name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SignupOutcome {
    pub company: Company,
    pub user: User,
    pub tokens: TokenPair,
}

pub(crate) fn new_invite_code() -> String {
    let token = tokens::opaque("");
    token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect()
}

/// A person's names and credentials, checked together so every problem is reported.
pub(crate) struct PersonInput {
    email: Email,
    first_name: String,
    last_name: String,
}

pub(crate) fn check_person(
    errors: &mut ValidationErrors,
    fields: [&str; 4],
    email: &str,
    password_value: &str,
    first: &str,
    last: &str,
) -> Option<PersonInput> {
    let email = errors.check(fields[0], Email::parse(email));
    errors.check(fields[1], password::check_strength(password_value));
    let first = required_text(errors, fields[2], first, 100);
    let last = required_text(errors, fields[3], last, 100);
    Some(PersonInput {
        email: email?,
        first_name: first?,
        last_name: last?,
    })
}

/// Inserts a person of `company` holding the company's default role `default_role`; a taken
/// email is a 409 naming `email_field`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn add_person(
    tx: &mut store::Tx,
    company: CompanyId,
    default_role: domain::CompanyRoleId,
    person: PersonInput,
    password_hash: String,
    status: UserStatus,
    system_roles: Vec<SystemRole>,
    email_field: &'static str,
) -> Result<User> {
    let user = store::users::insert(
        tx,
        store::users::NewUser {
            company_id: Some(company),
            email: person.email,
            password_hash,
            first_name: person.first_name,
            last_name: person.last_name,
            status,
            system_roles,
            kind: store::users::UserKind::Person,
        },
    )
    .await
    .map_err(email_conflict(email_field))?;
    store::companies::set_user_roles(tx, company, user.id, &[default_role]).await?;
    Ok(user)
}

/// Creates a company, its default role and its first admin, and logs the admin in.
/// Throttled per client address: each sign-up creates a company.
pub async fn signup(app: &App, input: SignupInput, client: &ClientInfo) -> Result<SignupOutcome> {
    app.throttle(Throttled::Signup, &client.ip)?;
    create_company(app, input, client).await
}

/// A sign-up without the throttle, for platform staff creating a company.
pub(crate) async fn create_company(
    app: &App,
    input: SignupInput,
    client: &ClientInfo,
) -> Result<SignupOutcome> {
    let mut errors = ValidationErrors::new();
    let company_name = required_text(&mut errors, "company_name", &input.company_name, 200);
    let person = check_person(
        &mut errors,
        [
            "admin_email",
            "admin_password",
            "admin_first_name",
            "admin_last_name",
        ],
        &input.admin_email,
        &input.admin_password,
        &input.admin_first_name,
        &input.admin_last_name,
    );
    errors.clone().into_result()?;
    let (Some(company_name), Some(person)) = (company_name, person) else {
        return Err(errors.into());
    };
    let hash = app.passwords().hash(&input.admin_password).await?;
    let mut tx = app.db().begin().await?;
    let company = store::companies::insert(&mut tx, &company_name, &new_invite_code()).await?;
    let default_role = store::companies::insert_role(
        &mut tx,
        company.id,
        DEFAULT_ROLE,
        "Everyone in the company",
        true,
    )
    .await?;
    let user = add_person(
        &mut tx,
        company.id,
        default_role.id,
        person,
        hash,
        UserStatus::Active,
        vec![SystemRole::Admin, SystemRole::User],
        "admin_email",
    )
    .await?;
    let tokens = open_session(app, &mut tx, &user, None, Some(company.id), client).await?;
    let actor = actor_for(&user);
    audit::record(
        &mut tx,
        Some(&actor),
        Some(company.id),
        Stream::Company(company.id),
        Payload::CompanyCreated {
            name: company.name.clone(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        Some(&actor),
        Some(company.id),
        Stream::User(user.id),
        Payload::UserCreated {
            email: user.email.to_string(),
            roles: user.system_roles.clone(),
            via: Some("signup".into()),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(SignupOutcome {
        company,
        user,
        tokens,
    })
}

/// Maps the unique-email collision onto the request's own field name.
pub(crate) fn email_conflict(field: &'static str) -> impl Fn(store::StoreError) -> AppError {
    move |error| match error {
        store::StoreError::Conflict { constraint } if constraint == "users_email_key" => {
            AppError::Conflict {
                field: Some(field.into()),
                message: "a user with this email already exists".into(),
            }
        }
        other => other.into(),
    }
}

pub(crate) fn actor_for(user: &User) -> Actor {
    Actor {
        user_id: user.id,
        company_id: user.company_id,
        roles: user.system_roles.clone(),
        kind: domain::auth::ActorKind::Person,
        session_id: None,
        impersonator: None,
        api_token_id: None,
    }
}

/// Self-registration with a company's invite code: the user waits as `pending`.
pub async fn register(
    app: &App,
    invite_code: &str,
    email: &str,
    password_value: &str,
    first_name: &str,
    last_name: &str,
    client: &ClientInfo,
) -> Result<User> {
    app.throttle(Throttled::Register, &client.ip)?;
    let mut errors = ValidationErrors::new();
    let company = store::companies::find_by_invite_code(app.db(), invite_code.trim()).await?;
    if company.is_none() {
        errors.add("company_invite_code", "is not a valid invite code");
    }
    let person = check_person(
        &mut errors,
        ["email", "password", "first_name", "last_name"],
        email,
        password_value,
        first_name,
        last_name,
    );
    errors.clone().into_result()?;
    let (Some(company), Some(person)) = (company, person) else {
        return Err(errors.into());
    };
    let hash = app.passwords().hash(password_value).await?;
    let mut tx = app.db().begin().await?;
    let default_role = store::companies::default_role(&mut tx, company.id).await?;
    let user = add_person(
        &mut tx,
        company.id,
        default_role.id,
        person,
        hash,
        UserStatus::Pending,
        vec![SystemRole::User],
        "email",
    )
    .await?;
    audit::record(
        &mut tx,
        None,
        Some(company.id),
        Stream::User(user.id),
        Payload::UserRegistered {
            email: user.email.to_string(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(user)
}

/// One's own profile.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Profile {
    #[serde(flatten)]
    pub user: User,
    /// `null` for platform staff.
    pub company: Option<Company>,
    /// The names of the company roles held.
    pub company_roles: Vec<String>,
    /// Set when platform staff act inside this company.
    pub impersonated_by: Option<domain::UserId>,
}

pub async fn me(app: &App, actor: &Actor) -> Result<Profile> {
    let user = store::users::get_any(app.db(), actor.user_id).await?;
    let (company, company_roles) = match actor.company_id {
        Some(company_id) => (
            Some(store::companies::get(app.db(), company_id).await?),
            store::companies::user_role_names(app.db(), company_id, user.id).await?,
        ),
        None => (None, Vec::new()),
    };
    Ok(Profile {
        user,
        company,
        company_roles,
        impersonated_by: actor.impersonator,
    })
}

pub async fn update_me(
    app: &App,
    actor: &Actor,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<Profile> {
    let user = store::users::get_any(app.db(), actor.user_id).await?;
    let names = (first_name, last_name);
    rename(
        app,
        actor,
        user.company_id,
        user.id,
        names,
        Payload::UserProfileUpdated {},
    )
    .await?;
    me(app, actor).await
}

/// Validates and stores new first/last names of a user, recording `event`.
pub(crate) async fn rename(
    app: &App,
    actor: &Actor,
    company: Option<CompanyId>,
    id: domain::UserId,
    (first_name, last_name): (Option<&str>, Option<&str>),
    event: Payload,
) -> Result<()> {
    let mut errors = ValidationErrors::new();
    let first = first_name.and_then(|v| required_text(&mut errors, "first_name", v, 100));
    let last = last_name.and_then(|v| required_text(&mut errors, "last_name", v, 100));
    errors.into_result()?;
    let mut tx = app.db().begin().await?;
    store::users::update(
        &mut tx,
        company,
        id,
        store::users::UserChanges {
            first_name: first,
            last_name: last,
            ..Default::default()
        },
    )
    .await?;
    audit::record(&mut tx, Some(actor), company, Stream::User(id), event).await?;
    app.commit(tx).await?;
    Ok(())
}

/// Changes one's password after checking the current one; ends every other session.
pub async fn change_password(app: &App, actor: &Actor, current: &str, new: &str) -> Result<()> {
    let hash = store::users::password_hash(app.db(), actor.user_id).await?;
    let mut errors = ValidationErrors::new();
    if !app.passwords().verify(current, &hash).await? {
        errors.add("current_password", "is not your current password");
    }
    errors.check("new_password", password::check_strength(new));
    errors.into_result()?;
    let new_hash = app.passwords().hash(new).await?;
    let mut tx = app.db().begin().await?;
    store::users::set_password_hash(&mut tx, actor.user_id, &new_hash).await?;
    let ended =
        store::sessions::revoke_all_for_user(&mut tx, actor.user_id, actor.session_id).await?;
    audit::record(
        &mut tx,
        Some(actor),
        actor.company_id,
        Stream::User(actor.user_id),
        Payload::PasswordChanged {
            other_sessions_ended: ended,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

pub async fn my_logins(
    app: &App,
    actor: &Actor,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<store::logins::LoginEntry>> {
    Ok(store::logins::for_user(app.db(), actor.user_id, from, to, 200).await?)
}

/// The job that looks up the account of a password reset request and mails its link.
pub const RESET_JOB: &str = "password_reset.start";

/// Starts a password reset. Always succeeds from the caller's view, so it cannot be used to
/// find out which emails have accounts: the request only queues a job, the same work for
/// every address, and the job looks the account up later.
pub async fn request_password_reset(app: &App, email: &str, client: &ClientInfo) -> Result<()> {
    app.throttle(Throttled::PasswordReset, &client.ip)?;
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let mut tx = app.db().begin().await?;
    store::jobs::enqueue(
        &mut tx,
        NewJob::new(RESET_JOB, json!({ "email": email.as_str() })),
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// The `password_reset.start` job: mails a single-use link when the email belongs to an
/// account that is not blocked; otherwise does nothing.
pub async fn start_password_reset(
    app: App,
    job: domain::job::Job,
) -> std::result::Result<(), JobError> {
    let email = job
        .payload
        .get("email")
        .and_then(|v| v.as_str())
        .and_then(|v| Email::parse(v).ok())
        .ok_or_else(|| JobError::Permanent("payload has no valid email".into()))?;
    let retry = |e: store::StoreError| JobError::Retry(e.to_string());
    let Some(found) = store::users::find_credentials(app.db(), &email)
        .await
        .map_err(retry)?
    else {
        return Ok(());
    };
    let user = found.user;
    if user.status == UserStatus::Blocked {
        return Ok(());
    }
    let token = tokens::opaque(tokens::RESET_PREFIX);
    let expires = Utc::now() + chrono::Duration::minutes(60);
    let link = format!("{}/reset-password?token={token}", app.settings().base_url());
    let body = format!(
        "Hello {},\n\nSomeone asked to reset the password of your TicketFlower account.\n\
         Open this link within 60 minutes to choose a new password:\n\n{link}\n\n\
         If it was not you, ignore this message; your password stays as it is.\n",
        user.first_name
    );
    let mut tx = app.db().begin().await.map_err(retry)?;
    store::mail::insert_reset(&mut tx, user.id, &tokens::hash(&token), expires)
        .await
        .map_err(retry)?;
    let mail = store::mail::enqueue(
        &mut tx,
        user.company_id,
        user.email.as_str(),
        "Reset your TicketFlower password",
        &body,
    )
    .await
    .map_err(retry)?;
    store::jobs::enqueue(
        &mut tx,
        NewJob::new(crate::infra::mail::JOB_KIND, json!({ "mail_id": mail })),
    )
    .await
    .map_err(retry)?;
    audit::record(
        &mut tx,
        None,
        user.company_id,
        Stream::User(user.id),
        Payload::PasswordResetRequested {},
    )
    .await
    .map_err(|e| JobError::Retry(e.to_string()))?;
    app.commit(tx)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    Ok(())
}

/// Sets a new password with a reset token (single use, 60 minutes); ends all sessions.
/// The token is checked before the new password is hashed, so a guessed token costs the
/// server a lookup, not an argon2 hash.
pub async fn confirm_password_reset(
    app: &App,
    token: &str,
    new: &str,
    client: &ClientInfo,
) -> Result<()> {
    app.throttle(Throttled::PasswordResetConfirm, &client.ip)?;
    let token_hash = tokens::hash(token.trim());
    let invalid = || ValidationErrors::single("token", "is invalid, used or expired").into();
    if store::mail::pending_reset(app.db(), &token_hash)
        .await?
        .is_none()
    {
        return Err(invalid());
    }
    let mut errors = ValidationErrors::new();
    errors.check("new_password", password::check_strength(new));
    errors.into_result()?;
    let new_hash = app.passwords().hash(new).await?;
    let mut tx = app.db().begin().await?;
    let Some(user) = store::mail::consume_reset(&mut tx, &token_hash).await? else {
        return Err(invalid());
    };
    let found = store::users::get_any(&mut tx, user).await?;
    store::users::set_password_hash(&mut tx, user, &new_hash).await?;
    store::sessions::revoke_all_for_user(&mut tx, user, None).await?;
    audit::record(
        &mut tx,
        None,
        found.company_id,
        Stream::User(user),
        Payload::PasswordReset {},
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}
