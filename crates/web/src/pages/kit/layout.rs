//! Server-rendered pages. Templates live in `crates/web/templates/` and are compiled into
//! the binary by askama, so a typo in a template is a build error.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use domain::SystemRole;
use domain::auth::Actor;

use crate::pages::kit::assets;

/// Values every page's layout needs.
#[derive(Clone)]
pub struct Layout {
    pub asset_version: &'static str,
    pub title: String,
    /// Name shown in the header when someone is signed in.
    pub signed_in: Option<String>,
    /// The company being impersonated by platform staff, shown on every page.
    pub impersonating: Option<String>,
    /// The CSRF token every form on the page carries.
    pub csrf: String,
    /// The navigation for the signed-in person's roles, by area.
    pub nav: Vec<NavGroup>,
    /// Where the header's search box sends its query (the tickets this person may search).
    pub search: Option<&'static str>,
    /// The way from the top of the desk to this page, without the page itself.
    pub crumbs: Vec<Crumb>,
    /// A one-shot message from the previous form post.
    pub flash: Option<Flash>,
    /// The streams whose events refresh the page's live regions (`app.js`).
    pub live: Vec<String>,
    /// The header's bell: the person's unread notifications and the latest few.
    pub bell: Option<Bell>,
}

/// The header's bell, refreshed live through the person's own stream.
#[derive(Clone, Default)]
pub struct Bell {
    pub unread: i64,
    pub recent: Vec<BellItem>,
}

/// One notification in the bell's list.
#[derive(Clone)]
pub struct BellItem {
    pub id: String,
    pub title: String,
    pub unread: bool,
    pub at: crate::pages::kit::when::When,
}

impl Layout {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            asset_version: assets::VERSION.as_str(),
            title: title.into(),
            signed_in: None,
            impersonating: None,
            csrf: String::new(),
            nav: Vec::new(),
            search: None,
            crumbs: Vec::new(),
            flash: None,
            live: Vec::new(),
            bell: None,
        }
    }

    /// Adds a page above the current one to the breadcrumbs.
    /// Keeps the page's live regions (`data-live-region`) up to date with `stream`'s events.
    pub fn live(&mut self, stream: impl Into<String>) {
        self.live.push(stream.into());
    }

    pub fn crumb(&mut self, href: impl Into<String>, title: impl Into<String>) {
        self.crumbs.push(Crumb {
            href: href.into(),
            title: title.into(),
        });
    }
}

/// A page above the current one, in the breadcrumbs.
#[derive(Clone, Debug)]
pub struct Crumb {
    pub href: String,
    pub title: String,
}

/// Renders a template, turning a render failure into a logged 500 instead of a panic.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Internal server error</h1>"),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    layout: Layout,
    version: &'static str,
}

/// `/`: what TicketFlower is, and the way in.
pub async fn landing() -> Response {
    render(
        StatusCode::OK,
        &Landing {
            layout: Layout::new("TicketFlower — your service desk"),
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    layout: Layout,
}

/// A page request refused before any handler saw it (see `edge`): what was wrong, and a
/// way back.
pub fn refused_input(status: StatusCode, message: &str) -> Response {
    render(
        status,
        &Message {
            layout: Layout::new("Request refused"),
            heading: "This request could not be accepted".into(),
            message: message.to_owned(),
            back: "/".into(),
        },
    )
}

/// An error answered before any page handler ran (an address that names no page, a body too
/// large), as a page.
pub fn status_page(status: StatusCode) -> Response {
    let heading = status.canonical_reason().unwrap_or("Something went wrong");
    let message = match status {
        StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => "There is no such page here.",
        s if s.is_server_error() => "The server could not answer in time. Try again in a moment.",
        _ => "This request could not be answered.",
    };
    render(
        status,
        &Message {
            layout: Layout::new(heading),
            heading: heading.into(),
            message: message.into(),
            back: "/".into(),
        },
    )
}

/// Pages that do not exist get a page, not JSON.
pub async fn not_found() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFound {
            layout: Layout::new("Page not found"),
        },
    )
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub back: String,
}

/// One area of the navigation (work, team, design, admin), shown to those who work in it.
#[derive(Clone, Debug)]
pub struct NavGroup {
    pub title: &'static str,
    pub links: Vec<NavLink>,
}

/// A link of the navigation.
#[derive(Clone, Debug)]
pub struct NavLink {
    pub href: &'static str,
    pub title: &'static str,
    /// What waits there (tasks, people, errors), shown when there is any.
    pub count: Option<i64>,
    /// The link of the page being shown (`aria-current`).
    pub current: bool,
}

impl NavLink {
    fn new(href: &'static str, title: &'static str) -> Self {
        Self {
            href,
            title,
            count: None,
            current: false,
        }
    }

    fn counting(mut self, count: Option<i64>) -> Self {
        self.count = count.filter(|n| *n > 0);
        self
    }
}

/// The navigation of a person: each area they work in, with what is waiting there. `path`
/// marks the current page's link (and the list a page below it belongs to).
pub fn nav_for(actor: &Actor, counts: &app::desk::Counts, path: Option<&str>) -> Vec<NavGroup> {
    let in_company = actor.company_id.is_some();
    let mut groups = Vec::new();
    let mut work = vec![NavLink::new("/dashboard", "Home")];
    if in_company {
        if actor.has(SystemRole::TaskWorker) || counts.my_tasks.is_some_and(|n| n > 0) {
            work.push(NavLink::new("/tasks", "My tasks").counting(counts.my_tasks));
        }
        work.extend([
            NavLink::new("/tickets", "My tickets"),
            NavLink::new("/tickets/new", "New ticket"),
        ]);
        if !app::access::is_agent(actor) {
            work.push(NavLink::new("/support", "Support chat"));
        }
    }
    groups.push(NavGroup {
        title: "Work",
        links: work,
    });
    if app::access::is_agent(actor) {
        groups.push(NavGroup {
            title: "Support",
            links: vec![
                NavLink::new("/conversations", "My conversations")
                    .counting(counts.my_conversations),
                NavLink::new("/conversations?view=unassigned", "Unassigned")
                    .counting(counts.unassigned_conversations),
                NavLink::new("/conversations?view=all", "All conversations"),
            ],
        });
    }
    if in_company && app::access::is_ticket_admin(actor) {
        groups.push(NavGroup {
            title: "Team",
            links: vec![
                NavLink::new("/tickets/all", "All tickets"),
                NavLink::new("/tasks/all", "All tasks"),
                NavLink::new("/workflow-errors", "Workflow errors").counting(counts.open_errors),
            ],
        });
    }
    if app::access::can_read_designs(actor) {
        groups.push(NavGroup {
            title: "Design",
            links: vec![NavLink::new("/design/workflows", "Workflows")],
        });
    }
    if in_company && actor.has(SystemRole::Admin) {
        groups.push(NavGroup {
            title: "Admin",
            links: vec![
                NavLink::new("/admin/users", "Users").counting(counts.pending_users),
                NavLink::new("/admin/company-roles", "Company roles"),
                NavLink::new("/admin/api-tokens", "API tokens"),
                NavLink::new("/admin/chat", "Chat settings"),
                NavLink::new("/admin/canned-replies", "Canned replies"),
                NavLink::new("/admin/channels", "Channels"),
                NavLink::new("/admin/webhooks", "Event webhooks"),
            ],
        });
    }
    if app::access::is_staff(actor) {
        groups.push(NavGroup {
            title: "Platform",
            links: vec![
                NavLink::new("/staff/companies", "Companies"),
                NavLink::new("/staff/errors", "Errors"),
            ],
        });
    }
    if let Some(path) = path {
        mark_current(&mut groups, path);
    }
    groups
}

/// Marks the link whose address is the longest prefix of `path`: `/tickets/all?q=x` is
/// "All tickets", a ticket's page is "My tickets".
fn mark_current(groups: &mut [NavGroup], path: &str) {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let best = groups
        .iter_mut()
        .flat_map(|g| g.links.iter_mut())
        .filter(|l| path == l.href || path.starts_with(&format!("{}/", l.href)))
        .max_by_key(|l| l.href.len());
    if let Some(link) = best {
        link.current = true;
    }
}

/// A message shown once on the next page, after a redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }

    /// Cookie-safe encoding: base64 of `"1:" | "0:"` and the text.
    pub(crate) fn encode(&self) -> String {
        let raw = format!("{}:{}", u8::from(self.ok), self.text);
        URL_SAFE_NO_PAD.encode(raw.as_bytes())
    }

    pub(crate) fn decode(value: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let raw = String::from_utf8(bytes).ok()?;
        let (ok, text) = raw.split_once(':')?;
        Some(Self {
            ok: ok == "1",
            text: text.chars().take(500).collect(),
        })
    }
}
