//! Logging in and staying logged in: login with throttling and a login log, refresh-token
//! rotation with reuse detection, logout, and resolving a bearer token into an [`Actor`].

use domain::ids::SessionId;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::auth::{Actor, ActorKind};
use domain::company::CompanyStatus;
use domain::event::{Payload, Stream};
use domain::user::{User, UserStatus};
use domain::{CompanyId, Email, SystemRole, UserId, ValidationErrors};
use serde::Serialize;

use super::cache::{SessionEntry, TokenEntry};
use super::tokens;
use crate::error::{AppError, Result};
use crate::{App, audit};

/// Where a request came from, for the login log and throttling.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// A fresh pair of tokens.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// The one answer for unknown email and wrong password, so neither can be told apart.
const BAD_CREDENTIALS: &str = "email or password is incorrect";

/// A hash to verify against when the email is unknown, so both paths cost the same.
async fn dummy_hash(app: &App) -> Result<String> {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_try_init(|| app.passwords().hash("not a real password, only for timing"))
        .await
        .cloned()
}

/// Checks email and password and opens a session.
pub async fn login(
    app: &App,
    email: &str,
    password: &str,
    platform: Option<&str>,
    client: &ClientInfo,
) -> Result<(User, TokenPair)> {
    let email =
        Email::parse(email).map_err(|e| ValidationErrors::single("email", e.to_string()))?;
    let platform = platform.map(|p| p.chars().take(64).collect::<String>());
    let settings = app.settings();
    let now = Utc::now();
    let db = app.db();

    let account_window = chrono::Duration::seconds(settings.login_account_window_secs as i64);
    let ip_window = chrono::Duration::seconds(settings.login_ip_window_secs as i64);
    let account_failures =
        store::logins::failures_for_email(db, email.as_str(), now - account_window).await?;
    let ip_failures = store::logins::failures_for_ip(db, &client.ip, now - ip_window).await?;
    let locked_until = [
        lock_end(
            &account_failures,
            settings.login_account_max_failures,
            account_window,
        ),
        lock_end(&ip_failures, settings.login_ip_max_failures, ip_window),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(until) = locked_until.filter(|until| *until > now) {
        // Counted, not written: a locked-out guesser must not be able to grow the log.
        metrics::counter!("login_attempts_throttled_total").increment(1);
        tracing::info!(ip = %client.ip, "login throttled");
        let wait = (until - now).to_std().unwrap_or(Duration::from_secs(1));
        return Err(AppError::TooManyRequests {
            retry_after: wait.max(Duration::from_secs(1)),
        });
    }

    // The attempt is written as a failure before the password is checked: if that write
    // fails, nothing about the password has been learnt, and every checked password counts
    // toward the lock. A right password turns it into a success afterwards.
    let credentials = store::users::find_credentials(db, &email).await?;
    let user = credentials.as_ref().map(|c| &c.user);
    let attempt = store::logins::record(
        db,
        store::logins::NewAttempt {
            user_id: user.map(|u| u.id),
            company_id: user.and_then(|u| u.company_id),
            email: email.as_str(),
            ip: &client.ip,
            user_agent: &client.user_agent,
            platform: platform.as_deref(),
            success: false,
            failure_reason: Some(if user.is_some() {
                "wrong_password"
            } else {
                "unknown_email"
            }),
        },
    )
    .await?;
    let Some(credentials) = credentials else {
        let dummy = dummy_hash(app).await?;
        app.passwords().verify(password, &dummy).await?;
        return Err(AppError::Unauthorized(BAD_CREDENTIALS.into()));
    };
    let user = credentials.user;
    if !app
        .passwords()
        .verify(password, &credentials.password_hash)
        .await?
    {
        return Err(AppError::Unauthorized(BAD_CREDENTIALS.into()));
    }
    let refused = |reason: &'static str, message: &'static str| async move {
        store::logins::set_outcome(db, attempt, false, Some(reason)).await?;
        Err::<(User, TokenPair), _>(AppError::Forbidden(message.into()))
    };
    match user.status {
        UserStatus::Active => {}
        UserStatus::Pending => {
            return refused(
                "pending",
                "your account is waiting for an administrator's approval",
            )
            .await;
        }
        UserStatus::Blocked => return refused("blocked", "your account is blocked").await,
    }
    if let Some(company) = user.company_id {
        let company = store::companies::get(db, company).await?;
        if company.status == CompanyStatus::Suspended {
            return refused("company_suspended", "your company's account is suspended").await;
        }
    }

    let mut tx = db.begin().await?;
    let pair = open_session(app, &mut tx, &user, None, user.company_id, client).await?;
    store::users::update(
        &mut tx,
        user.company_id,
        user.id,
        store::users::UserChanges {
            last_login_at: Some(now),
            ..Default::default()
        },
    )
    .await?;
    let actor = person_actor(&user, user.company_id, None, None);
    audit::record(
        &mut tx,
        Some(&actor),
        user.company_id,
        Stream::User(user.id),
        Payload::LoggedIn {
            ip: client.ip.clone(),
            platform,
        },
    )
    .await?;
    store::logins::set_outcome(&mut tx, attempt, true, None).await?;
    app.commit(tx).await?;
    Ok((user, pair))
}

/// When the throttle opened by these failures ends, if they reach `max`.
fn lock_end(
    failures: &[chrono::DateTime<Utc>],
    max: usize,
    window: chrono::Duration,
) -> Option<chrono::DateTime<Utc>> {
    if max == 0 || failures.len() < max {
        return None;
    }
    failures.get(failures.len() - max).map(|t| *t + window)
}

fn person_actor(
    user: &User,
    company: Option<CompanyId>,
    session: Option<SessionId>,
    impersonator: Option<UserId>,
) -> Actor {
    Actor {
        user_id: user.id,
        company_id: company,
        roles: user.system_roles.clone(),
        kind: ActorKind::Person,
        session_id: session,
        impersonator,
        api_token_id: None,
    }
}

/// Creates a session for `user` (acting in `company`) with its first refresh token.
pub(crate) async fn open_session(
    app: &App,
    tx: &mut store::Tx,
    user: &User,
    impersonator: Option<UserId>,
    company: Option<CompanyId>,
    client: &ClientInfo,
) -> Result<TokenPair> {
    let session = store::sessions::insert(
        tx,
        store::sessions::NewSession {
            user_id: user.id,
            company_id: company,
            impersonator_id: impersonator,
            ip: &client.ip,
            user_agent: &client.user_agent,
        },
    )
    .await?;
    let roles = if impersonator.is_some() {
        vec![SystemRole::Admin]
    } else {
        user.system_roles.clone()
    };
    issue_pair(app, tx, user.id, company, &roles, session, impersonator).await
}

async fn issue_pair(
    app: &App,
    tx: &mut store::Tx,
    user: UserId,
    company: Option<CompanyId>,
    roles: &[SystemRole],
    session: SessionId,
    impersonator: Option<UserId>,
) -> Result<TokenPair> {
    let settings = app.settings();
    let refresh = tokens::opaque(tokens::REFRESH_PREFIX);
    let expires = Utc::now() + chrono::Duration::seconds(settings.refresh_token_secs as i64);
    store::sessions::insert_refresh_token(tx, session, &tokens::hash(&refresh), expires).await?;
    let now = tokens::now();
    let claims = tokens::Claims {
        iss: tokens::ISSUER.into(),
        aud: tokens::AUDIENCE.into(),
        sub: user,
        exp: now + settings.access_token_secs as i64,
        iat: now,
        company,
        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
        sid: session,
        imp: impersonator,
        typ: "access".into(),
    };
    Ok(TokenPair {
        access_token: tokens::sign(app.secrets(), &claims)?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: settings.access_token_secs,
    })
}

/// Swaps a refresh token for a new pair. A token already used means it leaked: the whole
/// session is revoked and the request refused.
pub async fn refresh(app: &App, refresh_token: &str) -> Result<TokenPair> {
    let invalid = || AppError::Unauthorized("invalid refresh token".into());
    let hash = tokens::hash(refresh_token.trim());
    let db = app.db();
    let Some(stored) = store::sessions::find_refresh_token(db, &hash).await? else {
        return Err(invalid());
    };
    let session = store::sessions::get(db, stored.session_id).await?;
    if session.revoked_at.is_some() || stored.expires_at <= Utc::now() {
        return Err(invalid());
    }
    let mut tx = db.begin().await?;
    if stored.used_at.is_some() || !store::sessions::use_refresh_token(&mut tx, &hash).await? {
        drop(tx);
        // The revocation and its event commit together, so the event that makes every
        // server forget the session cannot be missing.
        let mut tx = db.begin().await?;
        store::sessions::revoke(&mut tx, session.id).await?;
        audit::record(
            &mut tx,
            None,
            session.company_id,
            Stream::User(session.user_id),
            Payload::RefreshTokenReused {
                session_id: session.id,
            },
        )
        .await?;
        app.commit(tx).await?;
        return Err(AppError::Unauthorized(
            "refresh token already used; the session has been revoked".into(),
        ));
    }
    let user = store::users::get_any(&mut tx, session.user_id).await?;
    check_can_act(app, &user, session.company_id, session.impersonator_id).await?;
    let roles = if session.impersonator_id.is_some() {
        vec![SystemRole::Admin]
    } else {
        user.system_roles.clone()
    };
    let pair = issue_pair(
        app,
        &mut tx,
        user.id,
        session.company_id,
        &roles,
        session.id,
        session.impersonator_id,
    )
    .await?;
    app.commit(tx).await?;
    Ok(pair)
}

/// Ends the session of a refresh token (and so the access tokens issued in it).
pub async fn logout_refresh_token(app: &App, refresh_token: &str) -> Result<()> {
    let hash = tokens::hash(refresh_token.trim());
    if let Some(stored) = store::sessions::find_refresh_token(app.db(), &hash).await? {
        end_session(app, stored.session_id).await?;
    }
    Ok(())
}

/// Ends the actor's own session.
pub async fn logout(app: &App, actor: &Actor) -> Result<()> {
    if let Some(session) = actor.session_id {
        end_session(app, session).await?;
    }
    Ok(())
}

async fn end_session(app: &App, session: SessionId) -> Result<()> {
    let found = store::sessions::get(app.db(), session).await?;
    let mut tx = app.db().begin().await?;
    store::sessions::revoke(&mut tx, session).await?;
    audit::record(
        &mut tx,
        None,
        found.company_id,
        Stream::User(found.user_id),
        Payload::LoggedOut {
            session_id: session,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

/// Is the user allowed to act (in `company`) right now? Read from the database, for the
/// rare paths that do not go through the authentication cache (a token refresh).
async fn check_can_act(
    app: &App,
    user: &User,
    company: Option<CompanyId>,
    impersonator: Option<UserId>,
) -> Result<()> {
    let staff = match impersonator {
        Some(staff) if user.status == UserStatus::Active => {
            Some(store::users::get_staff(app.db(), staff).await?)
        }
        _ => None,
    };
    check_person(user, company, impersonator, staff.as_ref())?;
    let status = match company {
        Some(company) => Some(store::companies::get(app.db(), company).await?.status),
        None => None,
    };
    check_company(status)
}

/// The user's half of `check_can_act`: an active account acting in its own company, or
/// impersonated by active staff (`staff`, read for an impersonation).
fn check_person(
    user: &User,
    company: Option<CompanyId>,
    impersonator: Option<UserId>,
    staff: Option<&User>,
) -> Result<()> {
    if user.status != UserStatus::Active {
        return Err(AppError::Unauthorized("the account is not active".into()));
    }
    if impersonator.is_some() {
        if !staff
            .is_some_and(|s| s.status == UserStatus::Active && s.has_role(SystemRole::Superadmin))
        {
            return Err(AppError::Unauthorized(
                "the impersonating staff account is not active".into(),
            ));
        }
    } else if user.company_id != company {
        return Err(AppError::Unauthorized(
            "the token does not belong to this user".into(),
        ));
    }
    Ok(())
}

/// The company's half of `check_can_act`.
fn check_company(status: Option<CompanyStatus>) -> Result<()> {
    if status == Some(CompanyStatus::Suspended) {
        return Err(AppError::Unauthorized("the company is suspended".into()));
    }
    Ok(())
}

/// Resolves a bearer token (access JWT or API token) into the acting principal. Roles
/// come from the database, not the token, so a role change or block applies at once; what
/// the database said is remembered between requests ([`super::cache`]) until a change of
/// who may act is committed.
pub async fn authenticate(app: &App, bearer: &str) -> Result<Actor> {
    if bearer.starts_with(tokens::API_PREFIX) {
        return authenticate_api_token(app, bearer).await;
    }
    let claims = tokens::verify(app.secrets(), bearer)?;
    let entry = match app.auth_cache().session(claims.sid) {
        Some(entry) => entry,
        None => load_session(app, claims.sid).await?,
    };
    session_actor(&entry, claims.sub)
}

/// The actor a session admits for `user`, or why it admits nobody.
fn session_actor(entry: &SessionEntry, user_id: UserId) -> Result<Actor> {
    let (session, user) = (&entry.principal.session, &entry.principal.user);
    if session.revoked_at.is_some() || session.user_id != user_id {
        return Err(AppError::Unauthorized("the session has ended".into()));
    }
    let company = session.company_id;
    let impersonator = session.impersonator_id;
    check_person(user, company, impersonator, entry.staff.as_ref())?;
    if company.is_some() && entry.principal.company_status.is_none() {
        return Err(AppError::Unauthorized("unknown company".into()));
    }
    check_company(entry.principal.company_status)?;
    let mut actor = person_actor(user, company, Some(session.id), impersonator);
    if impersonator.is_some() {
        actor.roles = vec![SystemRole::Admin, SystemRole::User];
    }
    Ok(actor)
}

/// Whether `actor` would be admitted just as it is now, read from the database rather than
/// the cache. A live connection asks this when an event that may end its access reaches it:
/// the connection may have been authenticated after that event committed (the hub can hand
/// a new connection events committed just before it), and then it is not revoked.
pub async fn still_admits(app: &App, actor: &Actor) -> Result<bool> {
    let current = if let Some(session) = actor.session_id {
        read_session(app, session)
            .await
            .and_then(|entry| session_actor(&entry, actor.user_id))
    } else if let (Some(token), Some(company)) = (actor.api_token_id, actor.company_id) {
        let read = async {
            let found = store::api_tokens::get(app.db(), company, token).await?;
            let user = store::users::get_any(app.db(), found.user_id).await?;
            let company = store::companies::get(app.db(), company).await?;
            Ok::<_, AppError>(TokenEntry::new(found, user, company.status))
        };
        read.await.and_then(|entry| token_actor(&entry, Utc::now()))
    } else {
        return Ok(false);
    };
    match current {
        Ok(current) => Ok(current == *actor),
        Err(AppError::Unauthorized(_) | AppError::NotFound) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Reads a session, its user, its company's status and its impersonating staff member, and
/// remembers them.
async fn load_session(app: &App, id: SessionId) -> Result<Arc<SessionEntry>> {
    let cache = app.auth_cache();
    let stamp = cache.begin_load();
    let entry = Arc::new(read_session(app, id).await?);
    cache.keep_session(id, stamp, entry.clone());
    Ok(entry)
}

/// Reads a session, its user, its company's status and its impersonating staff member.
async fn read_session(app: &App, id: SessionId) -> Result<SessionEntry> {
    let principal = match store::users::by_session(app.db(), id).await {
        Err(store::StoreError::NotFound) => {
            return Err(AppError::Unauthorized("unknown session".into()));
        }
        // A database that is down is a 503, not a reason to log the user out.
        other => other?,
    };
    let staff = match principal.session.impersonator_id {
        // Staff impersonate as themselves: the session's user is the staff account.
        Some(staff) if staff == principal.user.id && principal.user.company_id.is_none() => {
            Some(principal.user.clone())
        }
        Some(staff) => Some(store::users::get_staff(app.db(), staff).await?),
        None => None,
    };
    Ok(SessionEntry { principal, staff })
}

async fn authenticate_api_token(app: &App, token: &str) -> Result<Actor> {
    let hash = tokens::hash(token);
    let entry = match app.auth_cache().token(&hash) {
        Some(entry) => entry,
        None => load_token(app, hash).await?,
    };
    let now = Utc::now();
    let actor = token_actor(&entry, now)?;
    // Recording every use would put a write on every API request; a minute's precision is enough.
    if let Some(previous) = entry.claim_touch(now)
        && let Err(error) = store::api_tokens::touch(app.db(), entry.token.id).await
    {
        entry.untouch(now, previous);
        return Err(error.into());
    }
    Ok(actor)
}

/// The actor an API token admits at `now`, or why it admits nobody.
fn token_actor(entry: &TokenEntry, now: chrono::DateTime<Utc>) -> Result<Actor> {
    let invalid = |why: &str| AppError::Unauthorized(why.to_owned());
    let found = &entry.token;
    if found.revoked_at.is_some() {
        return Err(invalid("the API token was revoked"));
    }
    if found.expires_at.is_some_and(|at| at <= now) {
        return Err(invalid("the API token has expired"));
    }
    check_person(&entry.user, Some(found.company_id), None, None)?;
    check_company(Some(entry.company_status))?;
    Ok(Actor {
        user_id: entry.user.id,
        company_id: Some(found.company_id),
        roles: entry.user.system_roles.clone(),
        kind: ActorKind::ApiToken,
        session_id: None,
        impersonator: None,
        api_token_id: Some(found.id),
    })
}

/// Reads an API token, its service user and its company's status, and remembers them.
/// Unknown and revoked tokens are not remembered: nobody should be able to fill the cache
/// by sending made-up tokens.
async fn load_token(app: &App, hash: String) -> Result<Arc<TokenEntry>> {
    let cache = app.auth_cache();
    let stamp = cache.begin_load();
    let Some(found) = store::api_tokens::find_by_hash(app.db(), &hash).await? else {
        return Err(AppError::Unauthorized("invalid API token".into()));
    };
    if found.revoked_at.is_some() {
        return Err(AppError::Unauthorized("the API token was revoked".into()));
    }
    let user = store::users::get_any(app.db(), found.user_id).await?;
    let company = store::companies::get(app.db(), found.company_id).await?;
    let entry = Arc::new(TokenEntry::new(found, user, company.status));
    cache.keep_token(hash, stamp, entry.clone());
    Ok(entry)
}

/// The answer of `POST /auth/verify`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub valid: bool,
    /// The token's claims while it is valid, else `null`.
    pub claims: Option<tokens::Claims>,
}

/// Whether an access token is currently valid (signature, expiry, session, account).
pub async fn verify(app: &App, token: &str) -> Verification {
    let Ok(claims) = tokens::verify(app.secrets(), token) else {
        return Verification {
            valid: false,
            claims: None,
        };
    };
    match authenticate(app, token).await {
        Ok(_) => Verification {
            valid: true,
            claims: Some(claims),
        },
        Err(_) => Verification {
            valid: false,
            claims: None,
        },
    }
}
