//! Ticket data at rest: the size bounds of a company, and the searchable text of a ticket.

use domain::{CompanyId, UserId, ValidationErrors};
use serde_json::Value;
use store::tickets::Ticket;
use store::{Exec, Tx};

use crate::{App, Result};

/// The searchable text of a ticket: who requested it, every string and number in its data,
/// and its comments.
pub(crate) fn search_text(requester: &str, data: &Value, comments: &[String]) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::String(s) => {
                out.push_str(s);
                out.push(' ');
            }
            Value::Number(n) => {
                out.push_str(&n.to_string());
                out.push(' ');
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            Value::Bool(_) | Value::Null => {}
        }
    }
    let mut out = format!("{requester} ");
    walk(data, &mut out);
    for comment in comments {
        out.push_str(comment);
        out.push(' ');
    }
    out
}

/// Who requested a ticket, as its summary line and its searchable text name them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Requester {
    /// First and last name.
    pub name: String,
    /// First and last name and email, for the search.
    pub text: String,
}

/// The requester of a ticket; nobody (empty names) for a user who is gone.
pub(crate) async fn requester(
    db: impl Exec,
    company: CompanyId,
    user: UserId,
) -> Result<Requester> {
    match store::users::get(db, company, user).await {
        Ok(user) => Ok(Requester {
            name: format!("{} {}", user.first_name, user.last_name)
                .trim()
                .to_owned(),
            text: format!(
                "{} {} {}",
                user.first_name,
                user.last_name,
                user.email.as_str()
            ),
        }),
        Err(store::StoreError::NotFound) => Ok(Requester::default()),
        Err(other) => Err(other.into()),
    }
}

/// Rewrites a ticket's searchable text: its requester, data and public comments for
/// everyone who may see it, its internal notes for the team only.
pub(crate) async fn reindex(tx: &mut Tx, company: CompanyId, ticket: &Ticket) -> Result<()> {
    let requester = requester(&mut *tx, company, ticket.requester_id)
        .await?
        .text;
    let (notes, public): (Vec<_>, Vec<_>) =
        store::tickets::comments(&mut *tx, company, ticket.id, true)
            .await?
            .into_iter()
            .partition(|c| c.internal);
    let public: Vec<String> = public.into_iter().map(|c| c.body).collect();
    let notes: Vec<String> = notes.into_iter().map(|c| c.body).collect();
    store::tickets::index_text(
        tx,
        company,
        ticket.id,
        &search_text(&requester, &ticket.workflow_data, &public),
        &notes.join(" "),
        store::tickets::Indexing::Again,
    )
    .await?;
    Ok(())
}

/// Indexes tickets that have no searchable text (after migrations 8 and 12), a batch at a time;
/// returns how many it indexed. Run by the job workers' sweep.
pub async fn reindex_missing(app: &App) -> Result<usize> {
    let missing = store::tickets::unindexed(app.db(), 200).await?;
    for (company, id) in &missing {
        let mut tx = app.db().begin().await?;
        let ticket = store::tickets::get(&mut tx, *company, *id).await?;
        reindex(&mut tx, *company, &ticket).await?;
        app.commit(tx).await?;
    }
    Ok(missing.len())
}

/// Refuses data over the company's bounds (or the server's defaults), naming the limit.
pub(crate) async fn check_size(
    app: &App,
    company: CompanyId,
    field: &str,
    data: &Value,
) -> Result<()> {
    let settings = app.settings();
    let defaults = (
        settings.ticket_data_max_bytes as u64,
        settings.ticket_data_max_nodes as u64,
    );
    let (max_bytes, max_nodes) = store::companies::get(app.db(), company)
        .await?
        .data_limits
        .or(defaults);
    domain::company::check_data_size(data, max_bytes, max_nodes)
        .map_err(|message| ValidationErrors::single(field, message).into())
}
