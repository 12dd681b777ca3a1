//! Workflow design: companies build workflows out of tasks and transitions, and ticket
//! types that start them; they publish a workflow to make a version ACTIVE and immutable.
//!
//! The working copy of a workflow is a set of design objects (the workflow, its tasks,
//! transitions and ticket types), each with its own `version` and the workflow's status.
//! Every change to any of them bumps the workflow's version and makes it a DRAFT again;
//! publishing validates the whole graph and stores an immutable snapshot (the bundle
//! document) under that version number, which is what tickets pin.
//!
//! Saving checks what an object is on its own (schemas, conditions, transforms, URLs,
//! references); whether the graph is complete is checked on publish and shown as
//! `problems` of the workflow, since a design is incomplete while it is being drawn.

use domain::ids::{DesignObjectId, WorkflowId};
use std::collections::BTreeMap;

use domain::auth::Actor;
use domain::event::{Payload, Stream};
use domain::workflow::{
    self as wf, Limits, Problem, TaskSpec, TicketTypeSpec, TransitionSpec, WorkflowSpec,
    WorkflowStatus,
};
use domain::{CompanyId, UserId, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use store::Tx;
pub use store::design::DesignFilter;
use store::design::{DesignChange, DesignObject, NewDesignObject};

use crate::error::{AppError, Result};
use crate::{App, audit};

mod openapi;
pub use openapi::{
    DesignTask, DesignTaskChange, DesignTicketType, DesignTicketTypeChange, DesignTransition,
    DesignTransitionChange, DesignWorkflow, DesignWorkflowChange, NewDesignTask,
    NewDesignTicketType, NewDesignTransition, NewDesignWorkflow,
};

/// The four kinds of design object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Workflow,
    Task,
    Transition,
    TicketType,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workflow => "workflow",
            Kind::Task => "task",
            Kind::Transition => "transition",
            Kind::TicketType => "ticket_type",
        }
    }
}

/// What a workflow row stores: the workflow's own fields (its tasks and transitions are
/// rows of their own).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowFields)]
pub struct WorkflowHeader {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    ext_ref: Vec<wf::ExtRef>,
    /// JSON Schema 2020-12 of the workflow data.
    #[serde(default = "empty_object_schema")]
    #[schema(value_type = Value)]
    fields: Value,
}

fn empty_object_schema() -> Value {
    json!({ "type": "object", "properties": {} })
}

/// What a transition row stores: task references by id, so renaming a task's key keeps
/// its transitions.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TransitionFields)]
pub struct StoredTransition {
    #[serde(default)]
    key: String,
    /// The task it leaves; `null`: fired by the ticket's submission.
    #[serde(default)]
    from_task: Option<DesignObjectId>,
    /// The task it starts; exactly one of `to_task` and `to_status` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to_task: Option<DesignObjectId>,
    /// Ends the workflow with this upper-case status, e.g. `COMPLETED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to_status: Option<String>,
    /// A condition over the workflow data; absent = always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    condition: Option<Value>,
    #[serde(default)]
    priority: i32,
}

/// A design object as the API shows it: its own fields, plus the bookkeeping.
///
/// Its own schema holds only the bookkeeping: the fields depend on the kind, so the API
/// documents each kind as its own schema ([`DesignWorkflow`], [`DesignTask`], ...).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DesignView {
    pub id: DesignObjectId,
    pub workflow_id: WorkflowId,
    #[serde(flatten)]
    #[schema(ignore)]
    pub spec: Value,
    /// The workflow's status: `DRAFT`, `ACTIVE`, `DEPRECATED` or `ARCHIVED`.
    pub status: String,
    pub version: i32,
    pub created_by: UserId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<DesignObject> for DesignView {
    fn from(object: DesignObject) -> Self {
        Self {
            id: object.id,
            workflow_id: object.workflow_id,
            spec: object.spec,
            status: object.status,
            version: object.version,
            created_by: object.created_by,
            created_at: object.created_at,
            updated_at: object.updated_at,
        }
    }
}

/// A workflow with everything in it, as its detail page and API show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DesignWorkflowDetail)]
pub struct WorkflowDetail {
    #[serde(flatten)]
    #[schema(value_type = DesignWorkflow)]
    pub workflow: DesignView,
    /// The version new tickets start on, if one is ACTIVE.
    pub active_version: Option<i32>,
    #[schema(value_type = Vec<DesignTask>)]
    pub tasks: Vec<DesignView>,
    #[schema(value_type = Vec<DesignTransition>)]
    pub transitions: Vec<DesignView>,
    #[schema(value_type = Vec<DesignTicketType>)]
    pub ticket_types: Vec<DesignView>,
    /// What publishing would refuse right now, located by JSON pointers into the bundle.
    pub problems: Vec<Problem>,
    /// What the caller may do with the workflow now.
    pub actions: crate::access::WorkflowActions,
}

/// Body keys no create or update may set: they belong to the server or to dedicated
/// endpoints (publish, deprecate, archive).
const RESERVED: [&str; 8] = [
    "id",
    "company_id",
    "status",
    "version",
    "created_by",
    "created_at",
    "updated_at",
    "problems",
];

fn reject_reserved(body: &Map<String, Value>, allow_workflow_id: bool) -> Result<()> {
    let mut errors = ValidationErrors::new();
    for key in RESERVED {
        if body.contains_key(key) {
            errors.add(key, "is set by the server and cannot be given");
        }
    }
    if !allow_workflow_id && body.contains_key("workflow_id") {
        errors.add(
            "workflow_id",
            "cannot be changed; an object stays in its workflow",
        );
    }
    Ok(errors.into_result()?)
}

/// Reads a JSON object into `T`, naming the field that does not fit.
fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let (field, message) =
            domain::validation::name_serde_field(&e.path().to_string(), &e.inner().to_string());
        ValidationErrors::single(field, message).into()
    })
}

/// A key made from a name: lower case letters, digits and `_`.
fn slug(name: &str) -> String {
    let mut key = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_');
    let mut key: String = key.chars().take(48).collect();
    if key.is_empty() {
        key.push_str("item");
    }
    key
}

/// A key not yet used by `taken`.
fn free_key(base: &str, taken: &[&str]) -> String {
    if !taken.contains(&base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|k| !taken.contains(&k.as_str()))
        .unwrap_or_else(|| base.to_owned())
}

// ---- Loading a whole workflow

/// The working copy of one workflow.
pub struct Design {
    pub workflow: DesignObject,
    pub tasks: Vec<DesignObject>,
    pub transitions: Vec<DesignObject>,
    pub ticket_types: Vec<DesignObject>,
}

async fn load(db: impl store::Exec, company: CompanyId, workflow: WorkflowId) -> Result<Design> {
    let objects = store::design::of_workflow(db, company, workflow).await?;
    let mut design: Option<DesignObject> = None;
    let (mut tasks, mut transitions, mut ticket_types) = (Vec::new(), Vec::new(), Vec::new());
    for object in objects {
        match object.kind.as_str() {
            "workflow" => design = Some(object),
            "task" => tasks.push(object),
            "transition" => transitions.push(object),
            "ticket_type" => ticket_types.push(object),
            other => return Err(AppError::internal(format!("unknown design kind {other}"))),
        }
    }
    let workflow = design.ok_or(AppError::NotFound)?;
    Ok(Design {
        workflow,
        tasks,
        transitions,
        ticket_types,
    })
}

/// The bundle document: a workflow with its tasks, transitions (by task key) and ticket
/// types. It is the import/export format, the published snapshot, and what validation
/// problems point into.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub ext_ref: Vec<wf::ExtRef>,
    /// JSON Schema 2020-12 of the workflow data.
    #[serde(default = "empty_object_schema")]
    #[schema(value_type = Value)]
    pub fields: Value,
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub transitions: Vec<TransitionSpec>,
    #[serde(default)]
    pub ticket_types: Vec<TicketTypeSpec>,
}

impl Bundle {
    pub fn workflow_spec(&self) -> WorkflowSpec {
        WorkflowSpec {
            title: self.title.clone(),
            description: self.description.clone(),
            ext_ref: self.ext_ref.clone(),
            fields: self.fields.clone(),
            tasks: self.tasks.clone(),
            transitions: self.transitions.clone(),
        }
    }

    pub fn problems(&self, limits: &Limits) -> Vec<Problem> {
        wf::validate_workflow(&self.workflow_spec(), &self.ticket_types, limits)
    }
}

impl Design {
    /// Every field a condition may use: the workflow's and every task's outputs (its
    /// `output_schema` properties and its `output_transform` keys, as on publish).
    fn known_fields(&self) -> Result<Vec<String>> {
        let header: WorkflowHeader =
            serde_json::from_value(self.workflow.spec.clone()).map_err(AppError::internal)?;
        let mut fields = wf::top_level_fields(&header.fields);
        for task in &self.tasks {
            if let Some(schema) = task.spec.get("output_schema") {
                fields.extend(wf::top_level_fields(schema));
            }
            if let Some(Value::Object(transform)) = task.spec.get("output_transform") {
                fields.extend(transform.keys().cloned());
            }
        }
        fields.sort();
        fields.dedup();
        Ok(fields)
    }

    fn task_key(&self, id: Option<DesignObjectId>) -> Option<String> {
        let id = id?;
        Some(
            self.tasks
                .iter()
                .find(|t| t.id == id)
                .map_or_else(|| id.to_string(), |t| t.key.clone()),
        )
    }

    /// The working copy as a bundle document.
    pub fn bundle(&self) -> Result<Bundle> {
        let header: WorkflowHeader =
            serde_json::from_value(self.workflow.spec.clone()).map_err(AppError::internal)?;
        let tasks = self
            .tasks
            .iter()
            .map(|t| serde_json::from_value(t.spec.clone()).map_err(AppError::internal))
            .collect::<Result<Vec<TaskSpec>>>()?;
        let transitions = self
            .transitions
            .iter()
            .map(|t| {
                let stored: StoredTransition =
                    serde_json::from_value(t.spec.clone()).map_err(AppError::internal)?;
                Ok(TransitionSpec {
                    key: stored.key,
                    from_task: self.task_key(stored.from_task),
                    to_task: self.task_key(stored.to_task),
                    to_status: stored.to_status,
                    condition: stored.condition,
                    priority: stored.priority,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ticket_types = self
            .ticket_types
            .iter()
            .map(|t| serde_json::from_value(t.spec.clone()).map_err(AppError::internal))
            .collect::<Result<Vec<TicketTypeSpec>>>()?;
        Ok(Bundle {
            title: header.title,
            description: header.description,
            ext_ref: header.ext_ref,
            fields: header.fields,
            tasks,
            transitions,
            ticket_types,
        })
    }
}

pub(crate) fn limits(app: &App) -> Limits {
    app.settings().workflow_limits()
}

// ---- Reading

pub async fn list(
    app: &App,
    actor: &Actor,
    kind: Kind,
    filter: DesignFilter,
) -> Result<Vec<DesignView>> {
    let company = crate::access::require_design_reader(actor)?;
    let objects = store::design::list(app.db(), company, kind.as_str(), &filter).await?;
    Ok(objects.into_iter().map(Into::into).collect())
}

/// How many objects of a kind a list's filter finds, over all its pages.
pub async fn count(app: &App, actor: &Actor, kind: Kind, filter: &DesignFilter) -> Result<i64> {
    let company = crate::access::require_design_reader(actor)?;
    Ok(store::design::count(app.db(), company, kind.as_str(), filter).await?)
}

pub async fn get(app: &App, actor: &Actor, kind: Kind, id: DesignObjectId) -> Result<DesignView> {
    let company = crate::access::require_design_reader(actor)?;
    Ok(store::design::get(app.db(), company, kind.as_str(), id)
        .await?
        .into())
}

pub async fn workflow_detail(app: &App, actor: &Actor, id: WorkflowId) -> Result<WorkflowDetail> {
    let company = crate::access::require_design_reader(actor)?;
    let design = load(app.db(), company, id).await?;
    let problems = design.bundle()?.problems(&limits(app));
    let versions = store::design::versions(app.db(), company, id).await?;
    let active_version = versions
        .iter()
        .find(|v| v.status == WorkflowStatus::Active.as_str())
        .map(|v| v.version);
    let status = design
        .workflow
        .status
        .parse()
        .unwrap_or(WorkflowStatus::Draft);
    let actions =
        crate::access::workflow_actions(actor, status, problems.len(), active_version.is_some());
    Ok(WorkflowDetail {
        actions,
        workflow: design.workflow.into(),
        active_version,
        tasks: design.tasks.into_iter().map(Into::into).collect(),
        transitions: design.transitions.into_iter().map(Into::into).collect(),
        ticket_types: design.ticket_types.into_iter().map(Into::into).collect(),
        problems,
    })
}

/// One entry of a workflow's history.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VersionEntry {
    pub version: i32,
    /// `DRAFT` (the working copy), `ACTIVE`, `DEPRECATED` or `ARCHIVED`.
    pub status: String,
    /// `None` for the unpublished working copy.
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    pub published_by: Option<UserId>,
}

pub async fn versions(app: &App, actor: &Actor, id: WorkflowId) -> Result<Vec<VersionEntry>> {
    let company = crate::access::require_design_reader(actor)?;
    let workflow = store::design::get(app.db(), company, Kind::Workflow.as_str(), id).await?;
    let published = store::design::versions(app.db(), company, id).await?;
    let mut entries = Vec::new();
    if workflow.status == WorkflowStatus::Draft.as_str() {
        entries.push(VersionEntry {
            version: workflow.version,
            status: workflow.status,
            published_at: None,
            published_by: None,
        });
    }
    entries.extend(published.into_iter().map(|v| VersionEntry {
        version: v.version,
        status: v.status,
        published_at: Some(v.published_at),
        published_by: Some(v.published_by),
    }));
    Ok(entries)
}

/// The bundle of a published version, or of the working copy when `version` is `None`.
pub async fn bundle(
    app: &App,
    actor: &Actor,
    id: WorkflowId,
    version: Option<i32>,
) -> Result<Bundle> {
    let company = crate::access::require_design_reader(actor)?;
    match version {
        None => load(app.db(), company, id).await?.bundle(),
        Some(number) => {
            let published = store::design::versions(app.db(), company, id).await?;
            let found = published
                .into_iter()
                .find(|v| v.version == number)
                .ok_or(AppError::NotFound)?;
            serde_json::from_value(found.snapshot).map_err(AppError::internal)
        }
    }
}

// ---- Changing

/// The workflow row a change belongs to, refusing archived workflows.
async fn editable_workflow(
    db: impl store::Exec,
    company: CompanyId,
    id: WorkflowId,
) -> Result<DesignObject> {
    let workflow = store::design::get(db, company, Kind::Workflow.as_str(), id).await?;
    if workflow.status == WorkflowStatus::Archived.as_str() {
        return Err(AppError::Conflict {
            field: None,
            message: "an archived workflow cannot be changed".into(),
        });
    }
    Ok(workflow)
}

/// After any change inside a workflow: its version goes up and the working copy is a
/// DRAFT again (published versions stay as they were).
async fn touch_workflow(tx: &mut Tx, company: CompanyId, workflow: &DesignObject) -> Result<()> {
    store::design::update(
        tx,
        company,
        workflow.id,
        DesignChange {
            key: &workflow.key,
            title: &workflow.title,
            status: WorkflowStatus::Draft.as_str(),
            spec: &workflow.spec,
        },
    )
    .await?;
    if workflow.status != WorkflowStatus::Draft.as_str() {
        store::design::set_workflow_status(
            tx,
            company,
            workflow.id.as_workflow(),
            WorkflowStatus::Draft.as_str(),
        )
        .await?;
    }
    Ok(())
}

/// Checks one object's spec on its own and returns it in stored form with its key and
/// title. `siblings` are the other objects of the same workflow.
fn checked_spec(
    kind: Kind,
    body: Value,
    design: Option<&Design>,
    current_id: Option<DesignObjectId>,
    limits: &Limits,
) -> Result<(Value, String, String)> {
    let taken: Vec<&str> = design
        .map(|d| match kind {
            Kind::Task => &d.tasks,
            Kind::Transition => &d.transitions,
            Kind::TicketType | Kind::Workflow => &d.ticket_types,
        })
        .into_iter()
        .flatten()
        .filter(|o| Some(o.id) != current_id)
        .map(|o| o.key.as_str())
        .collect();
    match kind {
        Kind::Workflow => {
            let header: WorkflowHeader = parse(body)?;
            let problems = wf::check_workflow_header(
                &WorkflowSpec {
                    title: header.title.clone(),
                    description: header.description.clone(),
                    ext_ref: header.ext_ref.clone(),
                    fields: header.fields.clone(),
                    tasks: Vec::new(),
                    transitions: Vec::new(),
                },
                limits,
            );
            if !problems.is_empty() {
                return Err(ValidationErrors::from_problems(problems, "").into());
            }
            let title = header.title.clone();
            Ok((to_value(&header)?, "workflow".into(), title))
        }
        Kind::Task => {
            let mut body = body;
            fill_key(&mut body, "name", &taken);
            let task: TaskSpec = parse(body)?;
            let mut problems = wf::check_task(&task, limits);
            // Whether the task can run after the one it names is checked on publish.
            if let (wf::AssignmentStrategy::CompleterOf(key), Some(design)) =
                (&task.assignment, design)
            {
                let known = *key == task.key
                    || design
                        .tasks
                        .iter()
                        .any(|t| Some(t.id) != current_id && t.key == *key);
                if !known {
                    problems.push(Problem::new(
                        "/assignment/completer_of",
                        format!("no task `{key}` in this workflow"),
                    ));
                }
            }
            if !problems.is_empty() {
                return Err(ValidationErrors::from_problems(problems, "").into());
            }
            let (key, title) = (task.key.clone(), task.name.clone());
            Ok((to_value(&task)?, key, title))
        }
        Kind::TicketType => {
            let mut body = body;
            fill_key(&mut body, "title", &taken);
            let ticket_type: TicketTypeSpec = parse(body)?;
            let fields = match design {
                Some(d) => {
                    let header: WorkflowHeader = serde_json::from_value(d.workflow.spec.clone())
                        .map_err(AppError::internal)?;
                    wf::top_level_fields(&header.fields)
                }
                None => Vec::new(),
            };
            let problems = wf::check_ticket_type(&ticket_type, &fields, limits);
            if !problems.is_empty() {
                return Err(ValidationErrors::from_problems(problems, "").into());
            }
            let (key, title) = (ticket_type.key.clone(), ticket_type.title.clone());
            Ok((to_value(&ticket_type)?, key, title))
        }
        Kind::Transition => {
            let mut stored: StoredTransition = parse(body)?;
            let design = design.ok_or(AppError::NotFound)?;
            let mut errors = ValidationErrors::new();
            for (field, id) in [("from_task", stored.from_task), ("to_task", stored.to_task)] {
                if let Some(id) = id
                    && !design.tasks.iter().any(|t| t.id == id)
                {
                    errors.add(field, "is not a task of this workflow");
                }
            }
            errors.into_result()?;
            if stored.key.trim().is_empty() {
                let from = design
                    .task_key(stored.from_task)
                    .unwrap_or_else(|| "start".into());
                let to = design
                    .task_key(stored.to_task)
                    .or_else(|| stored.to_status.as_deref().map(str::to_lowercase))
                    .unwrap_or_else(|| "end".into());
                stored.key = free_key(&slug(&format!("{from}_to_{to}")), &taken);
            }
            let spec = TransitionSpec {
                key: stored.key.clone(),
                from_task: design.task_key(stored.from_task),
                to_task: design.task_key(stored.to_task),
                to_status: stored.to_status.clone(),
                condition: stored.condition.clone(),
                priority: stored.priority,
            };
            let task_keys: Vec<String> = design.tasks.iter().map(|t| t.key.clone()).collect();
            let known_fields = design.known_fields()?;
            let problems = wf::check_transition(&spec, &task_keys, &known_fields, limits);
            if !problems.is_empty() {
                return Err(ValidationErrors::from_problems(problems, "").into());
            }
            let (key, title) = (stored.key.clone(), stored.key.clone());
            Ok((to_value(&stored)?, key, title))
        }
    }
}

fn to_value(value: &impl Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(AppError::internal)
}

/// Gives an object without a `key` one made from its name.
fn fill_key(body: &mut Value, name_field: &str, taken: &[&str]) {
    if let Value::Object(map) = body
        && map
            .get("key")
            .is_none_or(|k| k.as_str().is_some_and(|k| k.trim().is_empty()))
    {
        let name = map.get(name_field).and_then(Value::as_str).unwrap_or("");
        map.insert("key".into(), Value::String(free_key(&slug(name), taken)));
    }
}

/// Where a new design object goes and who makes it.
#[derive(Clone, Copy)]
struct Owner {
    company: CompanyId,
    /// For a new workflow: its own, fresh id.
    workflow_id: WorkflowId,
    created_by: UserId,
}

/// Inserts a new DRAFT design object; a workflow takes the owner's workflow id as its id.
async fn insert_draft(
    tx: &mut Tx,
    owner: Owner,
    kind: Kind,
    key: &str,
    title: &str,
    spec: &Value,
) -> Result<DesignObject> {
    let id = if kind == Kind::Workflow {
        owner.workflow_id.into()
    } else {
        DesignObjectId::new()
    };
    Ok(store::design::insert(
        tx,
        NewDesignObject {
            id,
            company_id: owner.company,
            workflow_id: owner.workflow_id,
            kind: kind.as_str(),
            key,
            title,
            status: WorkflowStatus::Draft.as_str(),
            spec,
            created_by: owner.created_by,
        },
    )
    .await?)
}

/// Creates a workflow (`workflow_id` absent) or an object inside one.
pub async fn create(app: &App, actor: &Actor, kind: Kind, body: Value) -> Result<DesignView> {
    let company = crate::access::require_designer(actor)?;
    let Value::Object(mut map) = body else {
        return Err(ValidationErrors::single("body", "must be a JSON object").into());
    };
    reject_reserved(&map, kind != Kind::Workflow)?;
    let limits = limits(app);
    let mut tx = app.db().begin().await?;
    let object = if kind == Kind::Workflow {
        let (spec, key, title) = checked_spec(kind, Value::Object(map), None, None, &limits)?;
        let owner = Owner {
            company,
            workflow_id: WorkflowId::new(),
            created_by: actor.user_id,
        };
        insert_draft(&mut tx, owner, kind, &key, &title, &spec).await?
    } else {
        let workflow_id = match map.remove("workflow_id") {
            Some(Value::String(id)) => id.parse::<WorkflowId>().ok(),
            _ => None,
        }
        .ok_or_else(|| ValidationErrors::single("workflow_id", "is required: a workflow id"))?;
        // Another company's workflow is not found, like a missing one.
        let workflow = editable_workflow(&mut tx, company, workflow_id)
            .await
            .map_err(|e| match e {
                AppError::NotFound => {
                    ValidationErrors::single("workflow_id", "is not a workflow of your company")
                        .into()
                }
                other => other,
            })?;
        let design = load(&mut tx, company, workflow_id).await?;
        let (spec, key, title) =
            checked_spec(kind, Value::Object(map), Some(&design), None, &limits)?;
        check_object_roles(&mut tx, company, kind, &spec).await?;
        let owner = Owner {
            company,
            workflow_id,
            created_by: actor.user_id,
        };
        let object = insert_draft(&mut tx, owner, kind, &key, &title, &spec).await?;
        touch_workflow(&mut tx, company, &workflow).await?;
        object
    };
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Workflow(object.workflow_id),
        Payload::DesignCreated {
            object: kind.as_str().to_owned(),
            id: object.id,
            key: object.key.clone(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(object.into())
}

/// Applies a partial update: top-level keys of `patch` replace the object's, `null`
/// removes an optional one.
pub async fn update(
    app: &App,
    actor: &Actor,
    kind: Kind,
    id: DesignObjectId,
    patch: Value,
) -> Result<DesignView> {
    let company = crate::access::require_designer(actor)?;
    let Value::Object(patch) = patch else {
        return Err(ValidationErrors::single("body", "must be a JSON object").into());
    };
    reject_reserved(&patch, false)?;
    let limits = limits(app);
    let mut tx = app.db().begin().await?;
    let current = store::design::get(&mut tx, company, kind.as_str(), id).await?;
    let workflow = editable_workflow(&mut tx, company, current.workflow_id).await?;
    let design = load(&mut tx, company, current.workflow_id).await?;
    let mut merged = match current.spec.clone() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    let (spec, key, title) = checked_spec(
        kind,
        Value::Object(merged),
        Some(&design),
        Some(id),
        &limits,
    )?;
    check_object_roles(&mut tx, company, kind, &spec).await?;
    if kind == Kind::Task && key != current.key {
        follow_renamed_task(&mut tx, company, &design, id, &current.key, &key).await?;
    }
    let updated = store::design::update(
        &mut tx,
        company,
        id,
        DesignChange {
            key: &key,
            title: &title,
            status: WorkflowStatus::Draft.as_str(),
            spec: &spec,
        },
    )
    .await?;
    if kind == Kind::Workflow {
        if workflow.status != WorkflowStatus::Draft.as_str() {
            store::design::set_workflow_status(
                &mut tx,
                company,
                workflow.id.as_workflow(),
                WorkflowStatus::Draft.as_str(),
            )
            .await?;
        }
    } else {
        touch_workflow(&mut tx, company, &workflow).await?;
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Workflow(updated.workflow_id),
        Payload::DesignUpdated {
            object: kind.as_str().to_owned(),
            id,
            version: updated.version.into(),
        },
    )
    .await?;
    app.commit(tx).await?;
    let fresh = store::design::get(app.db(), company, kind.as_str(), id).await?;
    Ok(fresh.into())
}

/// The other tasks of `design` given to whoever completed task `old` now name it `new`, as
/// transitions (which refer by id) follow a renamed task.
async fn follow_renamed_task(
    tx: &mut Tx,
    company: CompanyId,
    design: &Design,
    renamed: DesignObjectId,
    old: &str,
    new: &str,
) -> Result<()> {
    for task in design.tasks.iter().filter(|t| t.id != renamed) {
        if completer_of(&task.spec).as_deref() != Some(old) {
            continue;
        }
        let mut spec = task.spec.clone();
        spec["assignment"] = json!({ "completer_of": new });
        store::design::update(
            tx,
            company,
            task.id,
            DesignChange {
                key: &task.key,
                title: &task.title,
                status: WorkflowStatus::Draft.as_str(),
                spec: &spec,
            },
        )
        .await?;
    }
    Ok(())
}

/// The task key a stored task's `completer_of` assignment names, if it has one.
fn completer_of(spec: &Value) -> Option<String> {
    match serde_json::from_value(spec.get("assignment")?.clone()).ok()? {
        wf::AssignmentStrategy::CompleterOf(key) => Some(key),
        _ => None,
    }
}

/// Deletes a DRAFT object nothing uses. A workflow goes with everything in it, and only if
/// it was never published.
pub async fn delete(app: &App, actor: &Actor, kind: Kind, id: DesignObjectId) -> Result<()> {
    let company = crate::access::require_designer(actor)?;
    let mut tx = app.db().begin().await?;
    let object = store::design::get(&mut tx, company, kind.as_str(), id).await?;
    if object.status != WorkflowStatus::Draft.as_str() {
        return Err(in_use("only a DRAFT can be deleted"));
    }
    match kind {
        Kind::Workflow => {
            if !store::design::versions(&mut tx, company, id.as_workflow())
                .await?
                .is_empty()
            {
                return Err(in_use(
                    "this workflow was published; deprecate or archive it instead",
                ));
            }
            store::design::delete_workflow(&mut tx, company, id.as_workflow()).await?;
        }
        _ => {
            let workflow = editable_workflow(&mut tx, company, object.workflow_id).await?;
            if kind == Kind::Task {
                let design = load(&mut tx, company, object.workflow_id).await?;
                let used = design.transitions.iter().any(|t| {
                    let stored: Option<StoredTransition> =
                        serde_json::from_value(t.spec.clone()).ok();
                    stored.is_some_and(|s| s.from_task == Some(id) || s.to_task == Some(id))
                });
                if let Some(other) = design.tasks.iter().find(|t| {
                    t.id != id && completer_of(&t.spec).as_deref() == Some(object.key.as_str())
                }) {
                    return Err(in_use(&format!(
                        "task `{}` goes to whoever completes this task; change its assignment first",
                        other.key
                    )));
                }
                if used {
                    return Err(in_use(
                        "transitions lead to or from this task; delete them first",
                    ));
                }
            }
            store::design::delete(&mut tx, company, id).await?;
            touch_workflow(&mut tx, company, &workflow).await?;
        }
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Workflow(object.workflow_id),
        Payload::DesignDeleted {
            object: kind.as_str().to_owned(),
            id,
            key: object.key.clone(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(())
}

fn in_use(message: &str) -> AppError {
    AppError::Conflict {
        field: None,
        message: message.into(),
    }
}

// ---- Life cycle

/// Validates the working copy and makes it the ACTIVE version; the previously ACTIVE
/// version is DEPRECATED (tickets running on it keep it).
pub async fn publish(app: &App, actor: &Actor, id: WorkflowId) -> Result<VersionEntry> {
    let company = crate::access::require_designer(actor)?;
    let mut tx = app.db().begin().await?;
    let design = load(&mut tx, company, id).await?;
    let status: WorkflowStatus = design.workflow.status.parse().map_err(AppError::internal)?;
    if status != WorkflowStatus::Draft {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "the workflow is {}; only a DRAFT can be published",
                status.as_str()
            ),
        });
    }
    let bundle = design.bundle()?;
    bundle_problems(app, company, &bundle)
        .await?
        .into_result()?;
    store::design::set_version_status(
        &mut tx,
        company,
        id,
        &[WorkflowStatus::Active.as_str()],
        WorkflowStatus::Deprecated.as_str(),
    )
    .await?;
    let version = store::design::insert_version(
        &mut tx,
        store::design::NewVersion {
            company_id: company,
            workflow_id: id,
            version: design.workflow.version,
            status: WorkflowStatus::Active.as_str(),
            snapshot: &to_value(&bundle)?,
            published_by: actor.user_id,
        },
    )
    .await?;
    store::design::set_workflow_status(&mut tx, company, id, WorkflowStatus::Active.as_str())
        .await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Workflow(id),
        Payload::WorkflowPublished {
            version: version.version,
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(VersionEntry {
        version: version.version,
        status: version.status,
        published_at: Some(version.published_at),
        published_by: Some(version.published_by),
    })
}

/// DEPRECATED: no new tickets, running ones finish. ARCHIVED: also hidden from lists of
/// what can be used, and frozen.
pub async fn retire(
    app: &App,
    actor: &Actor,
    id: WorkflowId,
    to: WorkflowStatus,
) -> Result<DesignView> {
    let company = crate::access::require_designer(actor)?;
    let mut tx = app.db().begin().await?;
    let workflow = store::design::get(&mut tx, company, Kind::Workflow.as_str(), id).await?;
    let versions = store::design::versions(&mut tx, company, id).await?;
    let current: WorkflowStatus = workflow.status.parse().map_err(AppError::internal)?;
    // A DRAFT with a published version retires that version; the draft follows.
    let effective = match (current, versions.first()) {
        (WorkflowStatus::Draft, Some(latest)) => {
            latest.status.parse().map_err(AppError::internal)?
        }
        _ => current,
    };
    if effective.change_to(to).is_err() {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "a {} workflow cannot become {}",
                effective.as_str(),
                to.as_str()
            ),
        });
    }
    let from: &[&str] = match to {
        WorkflowStatus::Deprecated => &[WorkflowStatus::Active.as_str()],
        _ => &[
            WorkflowStatus::Active.as_str(),
            WorkflowStatus::Deprecated.as_str(),
        ],
    };
    store::design::set_version_status(&mut tx, company, id, from, to.as_str()).await?;
    store::design::set_workflow_status(&mut tx, company, id, to.as_str()).await?;
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Workflow(id),
        if to == WorkflowStatus::Archived {
            Payload::WorkflowArchived {}
        } else {
            Payload::WorkflowDeprecated {}
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(
        store::design::get(app.db(), company, Kind::Workflow.as_str(), id)
            .await?
            .into(),
    )
}

// ---- Bundles

/// What an import created or updated, by key.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub workflow_id: WorkflowId,
    pub task_ids: BTreeMap<String, DesignObjectId>,
    pub transition_ids: BTreeMap<String, DesignObjectId>,
    pub ticket_type_ids: BTreeMap<String, DesignObjectId>,
    /// `true`: a new workflow; `false`: the `workflow_id`'s working copy was updated.
    pub created: bool,
}

/// Reads a bundle document (already parsed from JSON or YAML), naming the bad field.
pub fn read_bundle(document: Value) -> Result<Bundle> {
    parse(document)
}

/// Every problem of a bundle, as validation errors (empty when it can be imported). A
/// design at the limits takes a while to check, so it runs off the async workers.
async fn bundle_problems(
    app: &App,
    company: CompanyId,
    bundle: &Bundle,
) -> Result<ValidationErrors> {
    let grants = bundle
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("/tasks/{i}"), t.company_role_access.as_slice()))
        .chain(bundle.ticket_types.iter().enumerate().map(|(i, t)| {
            (
                format!("/ticket_types/{i}"),
                t.company_role_access.as_slice(),
            )
        }));
    let mut problems = unknown_roles(app.db(), company, grants).await?;
    let (bundle, limits) = (bundle.clone(), limits(app));
    problems.extend(
        tokio::task::spawn_blocking(move || bundle.problems(&limits))
            .await
            .map_err(AppError::internal)?,
    );
    Ok(ValidationErrors::from_problems(problems, ""))
}

/// Grants of role names the company does not have: a misspelt role would otherwise lock
/// everyone out of a task or ticket type without a word. `grants` pairs a JSON pointer to an
/// object with its `company_role_access`.
async fn unknown_roles<'a>(
    db: impl store::Exec,
    company: CompanyId,
    grants: impl IntoIterator<Item = (String, &'a [String])>,
) -> Result<Vec<Problem>> {
    let grants: Vec<_> = grants.into_iter().filter(|(_, r)| !r.is_empty()).collect();
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let known: Vec<String> = store::companies::list_roles(db, company)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    Ok(grants
        .into_iter()
        .flat_map(|(at, roles)| {
            roles
                .iter()
                .enumerate()
                .filter(|(_, name)| !known.contains(name))
                .map(|(i, name)| {
                    Problem::new(
                        format!("{at}/company_role_access/{i}"),
                        format!("there is no company role named `{name}`"),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect())
}

/// The role check of one task or ticket type on save.
async fn check_object_roles(
    tx: &mut Tx,
    company: CompanyId,
    kind: Kind,
    spec: &Value,
) -> Result<()> {
    if !matches!(kind, Kind::Task | Kind::TicketType) {
        return Ok(());
    }
    let roles: Vec<String> = spec
        .get("company_role_access")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let problems = unknown_roles(&mut *tx, company, [(String::new(), roles.as_slice())]).await?;
    Ok(ValidationErrors::from_problems(problems, "").into_result()?)
}

/// The company's role names, for the grant check boxes of the designer's forms.
pub async fn role_names(app: &App, actor: &Actor) -> Result<Vec<String>> {
    let company = crate::access::require_design_reader(actor)?;
    Ok(store::companies::list_roles(app.db(), company)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

/// Validates a bundle without writing anything.
/// Validates a bundle as an import would, without importing it; with `into`, also that
/// the workflow to update exists in the company and may still change.
pub async fn check_bundle(
    app: &App,
    actor: &Actor,
    bundle: &Bundle,
    into: Option<WorkflowId>,
) -> Result<()> {
    let company = crate::access::require_designer(actor)?;
    if let Some(id) = into {
        editable_workflow(app.db(), company, id)
            .await
            .map_err(|error| match error {
                AppError::NotFound => {
                    ValidationErrors::single("workflow_id", "is not a workflow of your company")
                        .into()
                }
                other => other,
            })?;
    }
    Ok(bundle_problems(app, company, bundle).await?.into_result()?)
}

/// Imports a valid bundle in one transaction: a new workflow, or (with `into`) the working
/// copy of an existing one, matching tasks, transitions and ticket types by key.
pub async fn import_bundle(
    app: &App,
    actor: &Actor,
    bundle: Bundle,
    into: Option<WorkflowId>,
) -> Result<ImportOutcome> {
    let company = crate::access::require_designer(actor)?;
    bundle_problems(app, company, &bundle)
        .await?
        .into_result()?;
    let header = WorkflowHeader {
        title: bundle.title.clone(),
        description: bundle.description.clone(),
        ext_ref: bundle.ext_ref.clone(),
        fields: bundle.fields.clone(),
    };
    let mut tx = app.db().begin().await?;
    let (workflow_id, existing) = match into {
        Some(id) => {
            let workflow = editable_workflow(&mut tx, company, id).await?;
            let design = load(&mut tx, company, id).await?;
            store::design::update(
                &mut tx,
                company,
                id,
                DesignChange {
                    key: &workflow.key,
                    title: &header.title,
                    status: WorkflowStatus::Draft.as_str(),
                    spec: &to_value(&header)?,
                },
            )
            .await?;
            store::design::set_workflow_status(
                &mut tx,
                company,
                id,
                WorkflowStatus::Draft.as_str(),
            )
            .await?;
            (id, Some(design))
        }
        None => {
            let owner = Owner {
                company,
                workflow_id: WorkflowId::new(),
                created_by: actor.user_id,
            };
            let spec = to_value(&header)?;
            insert_draft(
                &mut tx,
                owner,
                Kind::Workflow,
                "workflow",
                &header.title,
                &spec,
            )
            .await?;
            (owner.workflow_id, None)
        }
    };
    let mut sync = Sync {
        tx: &mut tx,
        owner: Owner {
            company,
            workflow_id,
            created_by: actor.user_id,
        },
    };
    let old = |kind: Kind| -> Vec<DesignObject> {
        existing
            .as_ref()
            .map(|d| match kind {
                Kind::Task => d.tasks.clone(),
                Kind::Transition => d.transitions.clone(),
                _ => d.ticket_types.clone(),
            })
            .unwrap_or_default()
    };
    let mut task_ids = BTreeMap::new();
    for task in &bundle.tasks {
        let id = sync
            .upsert(
                Kind::Task,
                &old(Kind::Task),
                &task.key,
                &task.name,
                &to_value(task)?,
            )
            .await?;
        task_ids.insert(task.key.clone(), id);
    }
    let mut transition_ids = BTreeMap::new();
    for transition in &bundle.transitions {
        let stored = StoredTransition {
            key: transition.key.clone(),
            from_task: transition
                .from_task
                .as_ref()
                .and_then(|k| task_ids.get(k).copied()),
            to_task: transition
                .to_task
                .as_ref()
                .and_then(|k| task_ids.get(k).copied()),
            to_status: transition.to_status.clone(),
            condition: transition.condition.clone(),
            priority: transition.priority,
        };
        let id = sync
            .upsert(
                Kind::Transition,
                &old(Kind::Transition),
                &transition.key,
                &transition.key,
                &to_value(&stored)?,
            )
            .await?;
        transition_ids.insert(transition.key.clone(), id);
    }
    let mut ticket_type_ids = BTreeMap::new();
    for ticket_type in &bundle.ticket_types {
        let id = sync
            .upsert(
                Kind::TicketType,
                &old(Kind::TicketType),
                &ticket_type.key,
                &ticket_type.title,
                &to_value(ticket_type)?,
            )
            .await?;
        ticket_type_ids.insert(ticket_type.key.clone(), id);
    }
    // What the bundle no longer has goes (transitions first: they refer to tasks).
    for (kind, kept) in [
        (Kind::Transition, &transition_ids),
        (Kind::Task, &task_ids),
        (Kind::TicketType, &ticket_type_ids),
    ] {
        for object in old(kind) {
            if !kept.contains_key(&object.key) {
                store::design::delete(sync.tx, company, object.id).await?;
            }
        }
    }
    audit::record(
        &mut tx,
        Some(actor),
        Some(company),
        Stream::Workflow(workflow_id),
        Payload::BundleImported {
            tasks: task_ids.len(),
            transitions: transition_ids.len(),
            ticket_types: ticket_type_ids.len(),
            created: into.is_none(),
        },
    )
    .await?;
    app.commit(tx).await?;
    Ok(ImportOutcome {
        workflow_id,
        task_ids,
        transition_ids,
        ticket_type_ids,
        created: into.is_none(),
    })
}

/// Writes the objects of one imported workflow.
struct Sync<'t> {
    tx: &'t mut Tx,
    owner: Owner,
}

impl Sync<'_> {
    async fn upsert(
        &mut self,
        kind: Kind,
        old: &[DesignObject],
        key: &str,
        title: &str,
        spec: &Value,
    ) -> Result<DesignObjectId> {
        match old.iter().find(|o| o.key == key) {
            Some(found) if found.spec == *spec => Ok(found.id),
            Some(found) => {
                store::design::update(
                    self.tx,
                    self.owner.company,
                    found.id,
                    DesignChange {
                        key,
                        title,
                        status: WorkflowStatus::Draft.as_str(),
                        spec,
                    },
                )
                .await?;
                Ok(found.id)
            }
            None => {
                let object = insert_draft(self.tx, self.owner, kind, key, title, spec).await?;
                Ok(object.id)
            }
        }
    }
}

/// The workflow drawn as SVG, or as Mermaid text.
pub async fn graph(
    app: &App,
    actor: &Actor,
    id: WorkflowId,
    version: Option<i32>,
    mermaid: bool,
) -> Result<String> {
    let bundle = bundle(app, actor, id, version).await?;
    let spec = bundle.workflow_spec();
    Ok(if mermaid {
        wf::to_mermaid(&spec)
    } else {
        wf::to_svg(&spec)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_from_names_and_kept_unique() {
        assert_eq!(slug("Manager approval!"), "manager_approval");
        assert_eq!(slug("  "), "item");
        assert_eq!(free_key("review", &["review", "review_2"]), "review_3");
        assert_eq!(free_key("review", &[]), "review");
    }
}
