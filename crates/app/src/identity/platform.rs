//! Platform staff: the `superadmin` accounts that run the service itself, outside every
//! company.

use domain::event::{Payload, Stream};
use domain::user::{User, UserStatus};
use domain::{Email, SystemRole, ValidationErrors, password};

use crate::{App, Result};

/// What `create-superuser` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuperuserOutcome {
    Created,
    /// The staff account existed; its password was replaced.
    PasswordReset,
}

/// Creates a platform staff account, or resets the password of an existing one. An email
/// already used by a company's user is refused.
pub async fn create_superuser(
    app: &App,
    email: &str,
    password: &str,
) -> Result<(User, SuperuserOutcome)> {
    let mut errors = ValidationErrors::new();
    let email = errors.check("email", Email::parse(email));
    errors.check("password", password::check_strength(password));
    errors.into_result()?;
    let Some(email) = email else {
        return Err(ValidationErrors::single("email", "is required").into());
    };
    let hash = app.passwords().hash(password).await?;
    let mut tx = app.db().begin().await?;
    let existing = store::users::find_credentials(&mut tx, &email).await?;
    let (user, outcome) = match existing {
        Some(found) if found.user.company_id.is_none() => {
            store::users::set_password_hash(&mut tx, found.user.id, &hash).await?;
            (found.user, SuperuserOutcome::PasswordReset)
        }
        Some(_) => {
            return Err(crate::AppError::Conflict {
                field: Some("email".into()),
                message: "this email belongs to a company user".into(),
            });
        }
        None => {
            let user = store::users::insert(
                &mut tx,
                store::users::NewUser {
                    company_id: None,
                    email,
                    password_hash: hash,
                    first_name: "Platform".into(),
                    last_name: "Staff".into(),
                    status: UserStatus::Active,
                    system_roles: vec![SystemRole::Superadmin],
                    kind: store::users::UserKind::Person,
                },
            )
            .await?;
            (user, SuperuserOutcome::Created)
        }
    };
    let (user_id, email) = (user.id, user.email.to_string());
    let payload = match outcome {
        SuperuserOutcome::Created => Payload::SuperuserCreated { user_id, email },
        SuperuserOutcome::PasswordReset => Payload::SuperuserPasswordReset { user_id, email },
    };
    crate::audit::record(&mut tx, None, None, Stream::User(user.id), payload).await?;
    app.commit(tx).await?;
    Ok((user, outcome))
}

/// A page of every company, newest first, and how many there are in all.
pub async fn list_companies(
    app: &App,
    actor: &domain::auth::Actor,
    after: Option<domain::CompanyId>,
    limit: u32,
) -> Result<(Vec<domain::company::Company>, i64)> {
    crate::access::require_staff(actor)?;
    let total = store::companies::count(app.db()).await?;
    let companies = store::companies::list(app.db(), after, limit).await?;
    Ok((companies, total))
}

/// Staff create a company with its first admin, as a sign-up would (without logging in).
pub async fn create_company(
    app: &App,
    actor: &domain::auth::Actor,
    input: crate::identity::accounts::SignupInput,
) -> Result<crate::identity::accounts::SignupOutcome> {
    crate::access::require_staff(actor)?;
    let outcome = crate::identity::accounts::create_company(
        app,
        input,
        &crate::identity::auth::ClientInfo::default(),
    )
    .await?;
    let mut tx = app.db().begin().await?;
    crate::audit::record(
        &mut tx,
        Some(actor),
        Some(outcome.company.id),
        Stream::Company(outcome.company.id),
        Payload::CompanyCreatedByStaff {
            staff: actor.user_id,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(outcome)
}

/// Suspends (`true`) or reactivates a company. Suspension ends no session: every request
/// of its people is refused while it lasts (authentication reads the company's status, and
/// the event clears the authentication cache and closes their live sockets), and sessions
/// still unexpired work again once it is reactivated.
pub async fn set_suspended(
    app: &App,
    actor: &domain::auth::Actor,
    company: domain::CompanyId,
    suspended: bool,
) -> Result<domain::company::Company> {
    use domain::company::CompanyStatus;
    crate::access::require_staff(actor)?;
    let status = if suspended {
        CompanyStatus::Suspended
    } else {
        CompanyStatus::Active
    };
    let mut tx = app.db().begin().await?;
    store::companies::set_status(&mut tx, company, status).await?;
    crate::audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        if suspended {
            Payload::CompanySuspended {}
        } else {
            Payload::CompanyReactivated {}
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(store::companies::get(app.db(), company).await?)
}

/// Gives a staff member a session inside a company; everything done with it is marked as
/// impersonated in its events.
pub async fn impersonate(
    app: &App,
    actor: &domain::auth::Actor,
    company: domain::CompanyId,
    client: &crate::identity::auth::ClientInfo,
) -> Result<crate::identity::auth::TokenPair> {
    crate::access::require_staff(actor)?;
    let target = store::companies::get(app.db(), company).await?;
    if target.status == domain::company::CompanyStatus::Suspended {
        return Err(crate::AppError::Conflict {
            field: None,
            message: "the company is suspended".into(),
        });
    }
    let staff = store::users::get_staff(app.db(), actor.user_id).await?;
    let mut tx = app.db().begin().await?;
    let pair = crate::identity::auth::open_session(
        app,
        &mut tx,
        &staff,
        Some(staff.id),
        Some(company),
        client,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Company(company),
        Payload::ImpersonationStarted {
            staff: staff.id,
            staff_email: staff.email.to_string(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(pair)
}
