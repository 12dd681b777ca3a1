//! Realtime: the event log read sooner. A client subscribes to streams it may read; it is
//! first sent what it missed since its cursor (read from the log), then every new event as
//! the node's [`Hub`] reads it, with each event checked for this reader on the way out, live
//! or replayed. See `docs/realtime.md` for the protocol.

pub mod bus;
pub mod hub;

use std::borrow::Cow;
use std::collections::HashSet;

use domain::auth::Actor;
use domain::event::{Event, Position, Stream};
use domain::workflow::TaskType;
use domain::{CompanyId, TaskId, TicketId};
use store::events::Scope;

pub use hub::{BusStatus, Connection, Delivery, FEED, Hub, Limits, Live, Refused, Signal};

use crate::{App, AppError, Result};

/// One stream a connection reads, with the rule that filters its events for the reader.
pub struct Subscription {
    /// As the client named it: `company:<id>` (the company's feed) or a stream.
    pub name: String,
    /// What the hub hands out under: [`FEED`] or the stream's name.
    pub key: String,
    /// Where to replay it from.
    pub scope: Scope,
    reader: Reader,
}

enum Reader {
    /// Everything of the stream.
    All,
    /// A company's feed for someone who is not an admin: what their roles cover. Ticket
    /// admins read tickets and workflows; task workers what happens to tasks (their queue
    /// and their own work), not the tickets' data, comments or design; agents the
    /// conversations. Never people's or the company's own settings.
    Feed {
        tickets: bool,
        tasks: bool,
        conversations: bool,
    },
    /// One conversation for its requester: no internal notes.
    Requester,
    /// One ticket for its requester (or another person outside the ticket team): what
    /// people did and how it ended (see `runtime::tickets::for_requester`).
    TicketRequester {
        ticket: TicketId,
        forms: HashSet<TaskId>,
        known: HashSet<TaskId>,
    },
}

/// Checks that `actor` may read `name` and prepares its filter. A stream of another
/// company, or one the actor may not read, is `NotFound`, whatever exists: the answer
/// tells nothing about other companies.
pub async fn subscription(app: &App, actor: &Actor, name: &str) -> Result<Subscription> {
    let company = crate::access::company_of(actor)?;
    let stream: Stream = name.parse().map_err(|_| {
        domain::ValidationErrors::single(
            "stream",
            "must be company:<id>, ticket:<id>, workflow:<id>, conversation:<id> or user:<id>",
        )
    })?;
    let (key, scope, reader) = match stream {
        Stream::Company(id) if id == company => {
            let tickets = crate::access::is_ticket_admin(actor);
            let reader = if actor.has(domain::SystemRole::Admin) {
                Reader::All
            } else {
                let reader = Reader::Feed {
                    tickets,
                    tasks: !tickets && crate::access::is_team(actor),
                    conversations: crate::conversations::is_agent(actor),
                };
                if matches!(
                    reader,
                    Reader::Feed {
                        tickets: false,
                        tasks: false,
                        conversations: false
                    }
                ) {
                    return Err(AppError::Forbidden(
                        "the company feed is the ticket team's and the agents'; subscribe to \
                         your tickets, conversations and your own user stream instead"
                            .into(),
                    ));
                }
                reader
            };
            (FEED.to_owned(), Scope::Company(company), reader)
        }
        Stream::User(id) if id == actor.user_id => (
            name.to_owned(),
            Scope::Stream(company, name.to_owned()),
            Reader::All,
        ),
        Stream::Ticket(ticket) => {
            crate::runtime::tickets::visible(app, actor, ticket).await?;
            let reader = if crate::access::is_team(actor) {
                Reader::All
            } else {
                let mut reader = Reader::TicketRequester {
                    ticket,
                    forms: HashSet::new(),
                    known: HashSet::new(),
                };
                reader.learn_tasks(app, company).await?;
                reader
            };
            (
                name.to_owned(),
                Scope::Stream(company, name.to_owned()),
                reader,
            )
        }
        Stream::Conversation(conversation) => {
            let agent = crate::conversations::may_watch(app, actor, conversation).await?;
            (
                name.to_owned(),
                Scope::Stream(company, name.to_owned()),
                if agent {
                    Reader::All
                } else {
                    Reader::Requester
                },
            )
        }
        Stream::Workflow(workflow) => {
            crate::access::require_design_reader(actor)?;
            store::design::get(app.db(), company, "workflow", workflow).await?;
            (
                name.to_owned(),
                Scope::Stream(company, name.to_owned()),
                Reader::All,
            )
        }
        Stream::Company(_) | Stream::User(_) => return Err(AppError::NotFound),
    };
    Ok(Subscription {
        name: name.to_owned(),
        key,
        scope,
        reader,
    })
}

impl Subscription {
    /// Whether the hub's key or a replayed event belongs to this subscription.
    pub fn wants(&self, event: &Event) -> bool {
        self.key == FEED || event.stream == self.key
    }

    /// The event as this reader may see it, or `None`: borrowed when the reader sees it
    /// whole (then a shared encoding of it serves), owned when a part was held back.
    pub async fn admit<'e>(
        &mut self,
        app: &App,
        event: &'e Event,
    ) -> Result<Option<Cow<'e, Event>>> {
        if !self.wants(event) {
            return Ok(None);
        }
        // A person's notifications are theirs alone, also on an admin's company feed.
        if event.kind.starts_with("notification.") && self.key != event.stream {
            return Ok(None);
        }
        let whole = match &mut self.reader {
            Reader::All => true,
            Reader::Feed {
                tickets,
                tasks,
                conversations,
            } => {
                let ticket = event.stream.starts_with("ticket:");
                (*tickets && (ticket || event.stream.starts_with("workflow:")))
                    || (*tasks && ticket && event.kind.starts_with("task."))
                    || (*conversations && event.stream.starts_with("conversation:"))
            }
            Reader::Requester => event.payload["internal"] != serde_json::Value::Bool(true),
            Reader::TicketRequester { known, .. } => {
                let task = event.payload["task_id"]
                    .as_str()
                    .and_then(|id| id.parse::<TaskId>().ok());
                if task.is_some_and(|task| !known.contains(&task)) {
                    let company = event.company_id.ok_or(AppError::NotFound)?;
                    self.reader.learn_tasks(app, company).await?;
                }
                let Reader::TicketRequester { forms, .. } = &self.reader else {
                    return Ok(None);
                };
                return Ok(
                    crate::runtime::tickets::for_requester(event.clone(), forms).map(Cow::Owned)
                );
            }
        };
        Ok(whole.then_some(Cow::Borrowed(event)))
    }
}

impl Reader {
    /// Reads the ticket's tasks again: which are forms the requester sees.
    async fn learn_tasks(&mut self, app: &App, company: CompanyId) -> Result<()> {
        if let Reader::TicketRequester {
            ticket,
            forms,
            known,
        } = self
        {
            for task in store::tasks::of_ticket(app.db(), company, *ticket).await? {
                known.insert(task.id);
                if task.task_type == TaskType::Form {
                    forms.insert(task.id);
                }
            }
        }
        Ok(())
    }
}

/// The database's epoch: cursors of another epoch (another or a restored database) cannot be
/// resumed.
pub async fn epoch(app: &App) -> Result<String> {
    Ok(store::events::epoch(app.db()).await?)
}

/// The last event of a subscription's stream as a reader of the log sees it: where a client
/// that gives no cursor starts.
pub async fn head(app: &App, subscription: &Subscription) -> Result<Position> {
    Ok(store::events::head_position(app.db(), &subscription.scope).await?)
}

/// The subscription's events after `cursor` in commit order, at most `limit`, unfiltered
/// (see [`Subscription::admit`]).
pub async fn replay(
    app: &App,
    subscription: &Subscription,
    cursor: i64,
    limit: u32,
) -> Result<Vec<Event>> {
    Ok(store::events::read_after(app.db(), &subscription.scope, cursor, limit).await?)
}

/// How long a stream ticket may wait for its socket.
pub const TICKET_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Prefix of a stream ticket, so a leaked one is recognisable.
const TICKET_PREFIX: &str = "tfs_";

/// A single-use ticket that opens one stream socket as `actor` within [`TICKET_TTL`]: what
/// a browser puts in the socket's URL instead of its long-lived token. Tickets are kept by
/// the node that issued them, so the socket must reach the same node.
pub fn issue_ticket(app: &App, actor: &Actor) -> Result<String> {
    crate::access::company_of(actor)?;
    let ticket = crate::identity::tokens::opaque(TICKET_PREFIX);
    app.hub().keep_ticket(
        crate::identity::tokens::hash(&ticket),
        actor.clone(),
        TICKET_TTL,
    );
    Ok(ticket)
}

/// The actor a stream ticket admits; a ticket used, expired or unknown is refused.
pub fn redeem_ticket(app: &App, ticket: &str) -> Result<Actor> {
    app.hub()
        .take_ticket(&crate::identity::tokens::hash(ticket))
        .ok_or_else(|| AppError::Unauthorized("unknown, used or expired stream ticket".into()))
}

/// Where a cursor of `company` stands in commit order, if its event is in the log: a cursor
/// to resume from. Once events are pruned, an older cursor is not, and its client must
/// resync.
pub async fn cursor_position(
    app: &App,
    company: CompanyId,
    cursor: i64,
) -> Result<Option<Position>> {
    if cursor == 0 {
        return Ok(Some(Position::default()));
    }
    Ok(store::events::position(app.db(), company, cursor).await?)
}
