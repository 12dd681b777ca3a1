//! The workflow designer's pages: workflows list, workflow detail (fields, links, tasks,
//! transitions, ticket types, the drawn graph, problems, versions), object pages with
//! their edit forms, bundle upload with a validation report, and the life-cycle buttons.
//! `ticket_admin` sees the same pages without the forms.

// A page helper fails with the response to send; it is built once per request.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use domain::ids::{DesignObjectId, WorkflowId};
use domain::workflow::{Condition, WorkflowStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use app::design::{DesignFilter, DesignView, Kind};

use crate::pages::design_forms::{FormValues, ObjectForm, TASK_TYPES, assignment_value, body_of};
use crate::pages::kit::context::{
    CsrfForm, Flash, PageCtx, PagePath, PagePost, PageResult, error_page,
};
use crate::pages::kit::filters;
use crate::pages::kit::form::{FieldErrors, Refusal};
use crate::pages::kit::layout::Layout;
use crate::pages::kit::pager::{Pager, Place, WORKFLOWS, address};
use crate::pages::kit::when::{When, when};
use crate::state::WebState;

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn text(spec: &Value, field: &str) -> String {
    spec.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

// ---- Workflows list

pub struct WorkflowRow {
    pub id: String,
    pub title: String,
    pub status: String,
    pub version: i32,
    pub updated: When,
}

#[derive(Template)]
#[template(path = "design_workflows.html")]
struct WorkflowsPage {
    layout: Layout,
    rows: Vec<WorkflowRow>,
    status: String,
    q: String,
    statuses: Vec<&'static str>,
    can_design: bool,
    /// The new-workflow form as typed, and why it was refused.
    new_workflow: NewWorkflowForm,
    errors: FieldErrors,
    pager: Pager,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    trail: String,
}

/// Rows of the workflows list.
const WORKFLOWS_PAGE: u32 = 50;

pub async fn workflows(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<ListQuery>,
) -> PageResult {
    workflows_page(&state, ctx, query, None).await
}

async fn workflows_page(
    state: &WebState,
    ctx: PageCtx,
    query: ListQuery,
    refused: Option<(NewWorkflowForm, Refusal)>,
) -> PageResult {
    let ctx = ctx.titled("Workflows");
    let place = Place::new(&query.cursor, &query.trail);
    let filter = DesignFilter {
        status: query
            .status
            .parse::<WorkflowStatus>()
            .ok()
            .map(|s| s.as_str().to_owned()),
        workflow: None,
        q: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        after: place.cursor().and_then(|c| c.parse().ok()),
        limit: WORKFLOWS_PAGE,
    };
    let total =
        ctx.load(app::design::count(&state.app, &ctx.actor, Kind::Workflow, &filter).await)?;
    let items =
        ctx.load(app::design::list(&state.app, &ctx.actor, Kind::Workflow, filter).await)?;
    let next = (items.len() == WORKFLOWS_PAGE as usize)
        .then(|| items.last().map(|w| w.id.to_string()))
        .flatten();
    let pager = place.pager(
        items.len(),
        WORKFLOWS_PAGE,
        total,
        WORKFLOWS,
        next.as_deref(),
        |cursor, trail| {
            address(
                "/design/workflows",
                &[
                    ("status", &query.status),
                    ("q", &query.q),
                    ("cursor", cursor),
                    ("trail", trail),
                ],
            )
        },
    );
    let rows = items
        .into_iter()
        .map(|w| WorkflowRow {
            id: w.id.to_string(),
            title: text(&w.spec, "title"),
            status: w.status,
            version: w.version,
            updated: when(w.updated_at),
        })
        .collect();
    let (new_workflow, refusal) = refused.unzip();
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    Ok(ctx.render_status(
        status,
        &WorkflowsPage {
            layout: ctx.layout.clone(),
            rows,
            pager,
            status: query.status,
            q: query.q,
            statuses: WorkflowStatus::ALL.iter().map(|s| s.as_str()).collect(),
            can_design: app::access::can_design(&ctx.actor),
            new_workflow: new_workflow.unwrap_or_default(),
            errors: refusal.map(|r| r.errors).unwrap_or_default(),
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct NewWorkflowForm {
    title: String,
    #[serde(default)]
    description: String,
}

pub async fn create_workflow(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<NewWorkflowForm>,
) -> PageResult {
    let body = json!({ "title": form.title, "description": form.description });
    let refusal = match app::design::create(&state.app, &ctx.actor, Kind::Workflow, body).await {
        Ok(created) => {
            return Ok(ctx.redirect(
                &format!("/design/workflows/{}", created.id),
                Flash::ok("The workflow was created. Add its fields, tasks and transitions."),
            ));
        }
        Err(error) => match Refusal::of(error, &["title", "description"]) {
            Ok(refusal) => refusal,
            Err(error) => return Ok(ctx.failed("/design/workflows", error)),
        },
    };
    workflows_page(&state, ctx, ListQuery::default(), Some((form, refusal))).await
}

// ---- Workflow detail

pub struct TaskRow {
    pub id: String,
    pub key: String,
    pub name: String,
    pub task_type: String,
    pub assignment: String,
    pub version: i32,
}

pub struct TransitionRow {
    pub id: String,
    pub key: String,
    pub from: String,
    pub to: String,
    pub condition: String,
    pub priority: i64,
}

pub struct TicketTypeRow {
    pub id: String,
    pub key: String,
    pub title: String,
    pub roles: String,
}

pub struct ExtRefRow {
    pub label: String,
    pub desc: String,
    pub uri: String,
}

pub struct FieldRow {
    pub name: String,
    pub kind: String,
    pub title: String,
}

pub struct ProblemRow {
    pub location: String,
    pub message: String,
}

pub struct VersionRow {
    pub version: i32,
    pub status: String,
    /// Published (not a draft): it has a graph and a bundle.
    pub released: bool,
    pub published: Option<When>,
}

#[derive(Template)]
#[template(path = "design_workflow.html")]
struct WorkflowPage {
    layout: Layout,
    id: String,
    title: String,
    description: String,
    status: String,
    version: i32,
    active_version: Option<i32>,
    ext_refs: Vec<ExtRefRow>,
    fields: Vec<FieldRow>,
    tasks: Vec<TaskRow>,
    transitions: Vec<TransitionRow>,
    ticket_types: Vec<TicketTypeRow>,
    problems: Vec<ProblemRow>,
    versions: Vec<VersionRow>,
    edit: FormValues,
    new_task: FormValues,
    new_transition: FormValues,
    new_ticket_type: FormValues,
    task_types: [&'static str; 3],
    can_design: bool,
    can_publish: bool,
    can_deprecate: bool,
    can_archive: bool,
}

fn describe_condition(condition: Option<&Value>) -> String {
    match condition {
        None | Some(Value::Null) => "always".into(),
        Some(value) => Condition::parse(value, &Default::default())
            .map_or_else(|_| value.to_string(), |c| c.describe()),
    }
}

fn field_rows(schema: &Value) -> Vec<FieldRow> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, def)| FieldRow {
                    name: if required.contains(&name.as_str()) {
                        format!("{name} *")
                    } else {
                        name.clone()
                    },
                    kind: def
                        .get("type")
                        .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_owned))
                        .or_else(|| def.get("enum").map(|e| format!("one of {e}")))
                        .unwrap_or_else(|| "any".into()),
                    title: text(def, "title"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A design form that was refused, to show again as it was posted.
pub struct RefusedObject {
    kind: Kind,
    form: ObjectForm,
    refusal: Refusal,
}

impl RefusedObject {
    /// The form's values as typed, with why it was refused, in the form named `id`.
    fn values(
        self,
        tasks: &[(String, String, String)],
        roles: &[String],
        id: &'static str,
    ) -> (FormValues, StatusCode) {
        let values = FormValues::typed(&self.form, tasks, roles, self.refusal.errors).in_form(id);
        (values, self.refusal.status)
    }
}

/// The inputs of a kind's form (`design_forms.html`), which the app's complaints are
/// sorted onto.
fn inputs(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Workflow => &["title", "description", "ext_ref", "fields"],
        Kind::Task => &[
            "name",
            "key",
            "description",
            "task_type",
            "assignment",
            "output_schema",
            "input_schema",
            "action_url",
            "timeout_seconds",
            "input_transform",
            "output_transform",
            "company_role_access",
        ],
        Kind::Transition => &[
            "key",
            "from_task",
            "to_task",
            "to_status",
            "priority",
            "condition",
        ],
        Kind::TicketType => &[
            "title",
            "key",
            "description",
            "fields",
            "company_role_access",
        ],
    }
}

/// Sorts a use case's error onto a refused design form, or gives it back.
fn refused(
    kind: Kind,
    form: ObjectForm,
    error: app::AppError,
) -> Result<RefusedObject, app::AppError> {
    Ok(RefusedObject {
        kind,
        form,
        refusal: Refusal::of(error, inputs(kind))?,
    })
}

pub async fn workflow(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath(id): PagePath<WorkflowId>,
) -> PageResult {
    workflow_page(&state, ctx, id, None).await
}

async fn workflow_page(
    state: &WebState,
    ctx: PageCtx,
    id: WorkflowId,
    refused: Option<RefusedObject>,
) -> PageResult {
    let ctx = ctx.titled("Workflow");
    let detail = ctx.load(app::design::workflow_detail(&state.app, &ctx.actor, id).await)?;
    let versions = ctx.load(app::design::versions(&state.app, &ctx.actor, id).await)?;
    let spec = &detail.workflow.spec;
    let roles = ctx.load(app::design::role_names(&state.app, &ctx.actor).await)?;
    let tasks: Vec<(String, String, String)> = detail
        .tasks
        .iter()
        .map(|t| {
            (
                t.id.to_string(),
                text(&t.spec, "key"),
                text(&t.spec, "name"),
            )
        })
        .collect();
    let task_name = |id: Option<&str>| -> Option<String> {
        let id = id?;
        Some(
            detail
                .tasks
                .iter()
                .find(|t| t.id.to_string() == id)
                .map_or_else(|| id.to_owned(), |t| text(&t.spec, "name")),
        )
    };
    let transitions = detail
        .transitions
        .iter()
        .map(|t| TransitionRow {
            id: t.id.to_string(),
            key: text(&t.spec, "key"),
            from: task_name(t.spec.get("from_task").and_then(Value::as_str))
                .unwrap_or_else(|| "ticket submitted".into()),
            to: task_name(t.spec.get("to_task").and_then(Value::as_str))
                .or_else(|| {
                    t.spec
                        .get("to_status")
                        .and_then(Value::as_str)
                        .map(|s| format!("end: {s}"))
                })
                .unwrap_or_default(),
            condition: describe_condition(t.spec.get("condition")),
            priority: t.spec.get("priority").and_then(Value::as_i64).unwrap_or(0),
        })
        .collect();
    let mut layout = under_workflows(&ctx);
    layout.title = format!("{} — TicketFlower", text(spec, "title"));
    let mut page = WorkflowPage {
        layout,
        id: id.to_string(),
        title: text(spec, "title"),
        description: text(spec, "description"),
        status: detail.workflow.status.clone(),
        version: detail.workflow.version,
        active_version: detail.active_version,
        ext_refs: spec
            .get("ext_ref")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .map(|r| ExtRefRow {
                        label: text(r, "label"),
                        desc: text(r, "desc"),
                        uri: text(r, "uri"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        fields: field_rows(spec.get("fields").unwrap_or(&Value::Null)),
        tasks: detail
            .tasks
            .iter()
            .map(|t| TaskRow {
                id: t.id.to_string(),
                key: text(&t.spec, "key"),
                name: text(&t.spec, "name"),
                task_type: text(&t.spec, "task_type"),
                assignment: assignment_value(&t.spec).replace(':', ": "),
                version: t.version,
            })
            .collect(),
        transitions,
        ticket_types: detail
            .ticket_types
            .iter()
            .map(|t| TicketTypeRow {
                id: t.id.to_string(),
                key: text(&t.spec, "key"),
                title: text(&t.spec, "title"),
                roles: t
                    .spec
                    .get("company_role_access")
                    .and_then(Value::as_array)
                    .filter(|r| !r.is_empty())
                    .map_or_else(
                        || "everyone".into(),
                        |r| {
                            r.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    ),
            })
            .collect(),
        problems: detail
            .problems
            .iter()
            .map(|p| ProblemRow {
                location: if p.location.is_empty() {
                    "/".into()
                } else {
                    p.location.clone()
                },
                message: p.message.clone(),
            })
            .collect(),
        versions: versions
            .into_iter()
            .map(|v| VersionRow {
                version: v.version,
                released: v.status != WorkflowStatus::Draft.as_str(),
                status: v.status,
                published: v.published_at.map(when),
            })
            .collect(),
        edit: FormValues::of(spec, &[], &[]).in_form("edit-workflow"),
        new_task: FormValues::new_object(Kind::Task, &tasks, &roles).in_form("add-task"),
        new_transition: FormValues::new_object(Kind::Transition, &tasks, &roles)
            .in_form("add-transition"),
        new_ticket_type: FormValues::new_object(Kind::TicketType, &tasks, &roles)
            .in_form("add-ticket-type"),
        task_types: TASK_TYPES,
        can_design: detail.actions.edit,
        can_publish: detail.actions.publish,
        can_deprecate: detail.actions.deprecate,
        can_archive: detail.actions.archive,
    };
    let mut status = StatusCode::OK;
    if let Some(refused) = refused {
        let (slot, id) = match refused.kind {
            Kind::Workflow => (&mut page.edit, "edit-workflow"),
            Kind::Task => (&mut page.new_task, "add-task"),
            Kind::Transition => (&mut page.new_transition, "add-transition"),
            Kind::TicketType => (&mut page.new_ticket_type, "add-ticket-type"),
        };
        let (values, refused_status) = refused.values(&tasks, &roles, id);
        *slot = values;
        status = refused_status;
    }
    Ok(ctx.render_status(status, &page))
}

#[derive(Deserialize)]
pub struct LifeCycleForm {
    /// `publish`, `deprecate` or `archive`.
    action: String,
}

pub async fn life_cycle(
    State(state): State<WebState>,
    PagePath(id): PagePath<WorkflowId>,
    PagePost { ctx, form }: PagePost<LifeCycleForm>,
) -> PageResult {
    let back = format!("/design/workflows/{id}");
    let result = match form.action.as_str() {
        "publish" => app::design::publish(&state.app, &ctx.actor, id)
            .await
            .map(|v| format!("Version {} is published and ACTIVE.", v.version)),
        "deprecate" => app::design::retire(&state.app, &ctx.actor, id, WorkflowStatus::Deprecated)
            .await
            .map(|_| "The workflow is DEPRECATED: no new tickets start on it.".into()),
        "archive" => app::design::retire(&state.app, &ctx.actor, id, WorkflowStatus::Archived)
            .await
            .map(|_| "The workflow is ARCHIVED.".into()),
        _ => return Ok(ctx.redirect(&back, Flash::error("action: unknown action"))),
    };
    Ok(ctx.outcome(&back, result, |message| message))
}

// ---- Adding and editing objects

/// Adds a task, transition or ticket type to a workflow from its form; a refused one comes
/// back on the workflow's page as it was typed.
pub async fn add_object(
    State(state): State<WebState>,
    PagePath((id, kind)): PagePath<(WorkflowId, String)>,
    PagePost { ctx, form }: PagePost<ObjectForm>,
) -> PageResult {
    let back = format!("/design/workflows/{id}");
    let Some(kind) = kind_of(&kind).filter(|k| *k != Kind::Workflow) else {
        return Ok(ctx.not_found());
    };
    let refused = match body_of(kind, form.clone(), true) {
        Err(refusal) => RefusedObject {
            kind,
            form,
            refusal,
        },
        Ok(mut body) => {
            if let Value::Object(map) = &mut body {
                map.insert("workflow_id".into(), Value::String(id.to_string()));
            }
            match app::design::create(&state.app, &ctx.actor, kind, body).await {
                Ok(created) => {
                    let key = text(&created.spec, "key");
                    return Ok(ctx.redirect(&back, Flash::ok(format!("Added `{key}`."))));
                }
                Err(error) => match refused(kind, form, error) {
                    Ok(refused) => refused,
                    Err(error) => return Ok(ctx.failed(&back, error)),
                },
            }
        }
    };
    workflow_page(&state, ctx, id, Some(refused)).await
}

fn kind_of(segment: &str) -> Option<Kind> {
    match segment {
        "workflows" => Some(Kind::Workflow),
        "tasks" => Some(Kind::Task),
        "transitions" => Some(Kind::Transition),
        "ticket-types" => Some(Kind::TicketType),
        _ => None,
    }
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Workflow => "Workflow",
        Kind::Task => "Task",
        Kind::Transition => "Transition",
        Kind::TicketType => "Ticket type",
    }
}

#[derive(Template)]
#[template(path = "design_object.html")]
struct ObjectPage {
    layout: Layout,
    kind: &'static str,
    segment: String,
    id: String,
    workflow_id: String,
    heading: String,
    status: String,
    version: i32,
    updated: When,
    rows: Vec<(String, String)>,
    edit: FormValues,
    task_types: [&'static str; 3],
    can_design: bool,
}

/// A task, transition or ticket type: its fields and its edit form.
pub async fn object(
    State(state): State<WebState>,
    ctx: PageCtx,
    PagePath((segment, id)): PagePath<(String, DesignObjectId)>,
) -> PageResult {
    object_page(&state, ctx, segment, id, None).await
}

async fn object_page(
    state: &WebState,
    ctx: PageCtx,
    segment: String,
    id: DesignObjectId,
    refused: Option<RefusedObject>,
) -> PageResult {
    let ctx = ctx.titled("Design");
    let Some(kind) = kind_of(&segment).filter(|k| *k != Kind::Workflow) else {
        return Ok(ctx.not_found());
    };
    let view: DesignView = ctx.load(app::design::get(&state.app, &ctx.actor, kind, id).await)?;
    let roles = ctx.load(app::design::role_names(&state.app, &ctx.actor).await)?;
    let filter = DesignFilter {
        workflow: Some(view.workflow_id),
        limit: 500,
        ..Default::default()
    };
    let tasks: Vec<(String, String, String)> = ctx
        .load(app::design::list(&state.app, &ctx.actor, Kind::Task, filter).await)?
        .into_iter()
        .map(|t| {
            (
                t.id.to_string(),
                text(&t.spec, "key"),
                text(&t.spec, "name"),
            )
        })
        .collect();
    let heading = [text(&view.spec, "name"), text(&view.spec, "title")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| text(&view.spec, "key"));
    let rows = view
        .spec
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    let shown = match (k.as_str(), v) {
                        ("condition", c) => describe_condition(Some(c)),
                        (_, Value::String(s)) => s.clone(),
                        (_, other) => pretty(other),
                    };
                    (k.clone(), shown)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut layout = under_workflows(&ctx);
    layout.title = format!("{} {heading} — TicketFlower", kind_label(kind));
    let (edit, status) = match refused {
        Some(refused) => refused.values(&tasks, &roles, "edit-object"),
        None => (
            FormValues::of(&view.spec, &tasks, &roles).in_form("edit-object"),
            StatusCode::OK,
        ),
    };
    Ok(ctx.render_status(
        status,
        &ObjectPage {
            layout,
            kind: kind_label(kind),
            segment,
            id: id.to_string(),
            workflow_id: view.workflow_id.to_string(),
            heading,
            status: view.status.clone(),
            version: view.version,
            updated: when(view.updated_at),
            rows,
            edit,
            task_types: TASK_TYPES,
            can_design: app::access::can_design(&ctx.actor),
        },
    ))
}

/// Where an object's page is: a workflow has its own.
fn object_page_path(segment: &str, id: DesignObjectId) -> String {
    if segment == "workflows" {
        format!("/design/workflows/{id}")
    } else {
        format!("/design/objects/{segment}/{id}")
    }
}

/// Saves an object (a workflow included) from its form; a refused one comes back on the
/// object's page (a workflow's: the workflow's page) as it was typed.
pub async fn update_object(
    State(state): State<WebState>,
    PagePath((segment, id)): PagePath<(String, DesignObjectId)>,
    PagePost { ctx, form }: PagePost<ObjectForm>,
) -> PageResult {
    let back = object_page_path(&segment, id);
    let Some(kind) = kind_of(&segment) else {
        return Ok(ctx.not_found());
    };
    let refused = match body_of(kind, form.clone(), false) {
        Err(refusal) => RefusedObject {
            kind,
            form,
            refusal,
        },
        Ok(body) => match app::design::update(&state.app, &ctx.actor, kind, id, body).await {
            Ok(saved) => {
                let done = format!("Saved; this is now version {}.", saved.version);
                return Ok(ctx.redirect(&back, Flash::ok(done)));
            }
            Err(error) => match refused(kind, form, error) {
                Ok(refused) => refused,
                Err(error) => return Ok(ctx.failed(&back, error)),
            },
        },
    };
    if kind == Kind::Workflow {
        workflow_page(&state, ctx, id.as_workflow(), Some(refused)).await
    } else {
        object_page(&state, ctx, segment, id, Some(refused)).await
    }
}

pub async fn delete_object(
    State(state): State<WebState>,
    PagePath((segment, id)): PagePath<(String, DesignObjectId)>,
    PagePost { ctx, form: _ }: PagePost<CsrfForm>,
) -> PageResult {
    let back = object_page_path(&segment, id);
    let Some(kind) = kind_of(&segment) else {
        return Ok(ctx.not_found());
    };
    let view = match app::design::get(&state.app, &ctx.actor, kind, id).await {
        Ok(view) => view,
        Err(error) => return Ok(ctx.failed(&back, error)),
    };
    let after = if kind == Kind::Workflow {
        "/design/workflows".to_owned()
    } else {
        format!("/design/workflows/{}", view.workflow_id)
    };
    Ok(
        match app::design::delete(&state.app, &ctx.actor, kind, id).await {
            Ok(()) => ctx.redirect(&after, Flash::ok("Deleted.")),
            Err(error) => ctx.failed(&back, error),
        },
    )
}

// ---- Bundles

#[derive(Template)]
#[template(path = "design_bundle.html")]
struct BundlePage {
    layout: Layout,
    document: String,
    workflow_id: String,
    problems: Vec<ProblemRow>,
    valid: bool,
}

#[derive(Deserialize, Default)]
pub struct BundleQuery {
    #[serde(default)]
    workflow_id: String,
}

/// The page's layout with the workflows above it in the breadcrumbs.
fn under_workflows(ctx: &PageCtx) -> Layout {
    let mut layout = ctx.layout.clone();
    layout.crumb("/design/workflows", "Workflows");
    layout
}

pub async fn bundle_page(
    State(_state): State<WebState>,
    ctx: PageCtx,
    Query(query): Query<BundleQuery>,
) -> PageResult {
    let ctx = ctx.titled("Upload a bundle");
    if !app::access::can_design(&ctx.actor) {
        return Ok(error_page(app::AppError::Forbidden(
            "needs workflow_creator".into(),
        )));
    }
    Ok(ctx.render(&BundlePage {
        layout: under_workflows(&ctx),
        document: String::new(),
        workflow_id: query.workflow_id,
        problems: Vec::new(),
        valid: false,
    }))
}

#[derive(Deserialize)]
pub struct BundleForm {
    document: String,
    /// Update this workflow instead of creating one.
    #[serde(default)]
    workflow_id: String,
    /// `check` validates only; anything else imports.
    #[serde(default)]
    intent: String,
}

pub async fn bundle_submit(
    State(state): State<WebState>,
    PagePost { ctx, form }: PagePost<BundleForm>,
) -> PageResult {
    let into = form.workflow_id.trim().parse::<WorkflowId>().ok();
    // JSON is YAML; one parser reads both, behind the API's nesting guard.
    let outcome = match crate::api::design::parse_bundle_text(&form.document) {
        Err(message) => Err(vec![ProblemRow {
            location: "/".into(),
            message,
        }]),
        Ok(document) => match app::design::read_bundle(document) {
            Err(error) => Err(problem_rows(error)),
            Ok(bundle) if form.intent == "check" => {
                match app::design::check_bundle(&state.app, &ctx.actor, &bundle, into).await {
                    Ok(()) => Ok(None),
                    Err(error) => Err(problem_rows(error)),
                }
            }
            Ok(bundle) => {
                match app::design::import_bundle(&state.app, &ctx.actor, bundle, into).await {
                    Ok(done) => Ok(Some(done.workflow_id)),
                    Err(error) => Err(problem_rows(error)),
                }
            }
        },
    };
    Ok(match outcome {
        Ok(Some(workflow)) => ctx.redirect(
            &format!("/design/workflows/{workflow}"),
            Flash::ok("The bundle was imported."),
        ),
        Ok(None) | Err(_) => {
            let (problems, valid) = match outcome {
                Err(problems) => (problems, false),
                _ => (Vec::new(), true),
            };
            let mut response = ctx.render(&BundlePage {
                layout: under_workflows(&ctx),
                document: form.document,
                workflow_id: form.workflow_id,
                problems,
                valid,
            });
            if !valid {
                *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            response
        }
    })
}

fn problem_rows(error: app::AppError) -> Vec<ProblemRow> {
    match error {
        app::AppError::Validation(errors) => errors
            .0
            .into_iter()
            .map(|e| ProblemRow {
                location: e.field,
                message: e.message,
            })
            .collect(),
        other => vec![ProblemRow {
            location: "/".into(),
            message: other.to_string(),
        }],
    }
}

/// This module's pages.
pub fn router() -> axum::Router<crate::state::WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/design/workflows", get(workflows).post(create_workflow))
        .route("/design/workflows/{id}", get(workflow))
        .route("/design/workflows/{id}/life-cycle", post(life_cycle))
        .route("/design/workflows/{id}/add/{kind}", post(add_object))
        .route("/design/bundles/new", get(bundle_page).post(bundle_submit))
        .route("/design/objects/{kind}/{id}", get(object))
        .route("/design/objects/{kind}/{id}/edit", post(update_object))
        .route("/design/objects/{kind}/{id}/delete", post(delete_object))
}
