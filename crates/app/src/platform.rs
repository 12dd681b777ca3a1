//! Platform staff: the `superadmin` accounts that run the service itself, outside every
//! company.

use domain::event::NewEvent;
use domain::user::{User, UserStatus};
use domain::{Email, SystemRole, ValidationErrors, password};
use serde_json::json;

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
                },
            )
            .await?;
            (user, SuperuserOutcome::Created)
        }
    };
    let kind = match outcome {
        SuperuserOutcome::Created => "platform.superuser_created",
        SuperuserOutcome::PasswordReset => "platform.superuser_password_reset",
    };
    store::events::append(
        &mut tx,
        NewEvent::new(format!("user:{}", user.id), kind)
            .payload(json!({ "user_id": user.id, "email": user.email })),
    )
    .await?;
    tx.commit().await?;
    Ok((user, outcome))
}
