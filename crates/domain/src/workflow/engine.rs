//! The workflow engine's state machine: what happens to a running workflow instance when its
//! ticket is submitted or one of its tasks completes. Pure: the app loads the instance, calls
//! [`step`] and writes what it returns (task instances, an end status or a workflow error), so
//! the rules here are the only place the engine decides anything.
//!
//! # A step
//!
//! A step is triggered by the ticket's submission (`from = None`: the transitions without
//! `from_task`) or by a task completing (`from = Some(key)`), after the task's output has been
//! merged into the workflow data ([`apply_output`], [`apply_action_response`]). The transitions
//! leaving `from` are taken by `priority`, higher first, ties by transition key so the order is
//! deterministic, and evaluated against the workflow data. Every one whose condition holds (no
//! condition = always) fires; priority orders them, it does not let one shadow another.
//!
//! - Nothing fires: a `WORKFLOW_TRANSITION` error. An instance never stops silently.
//! - The fired transitions mix `to_status` with `to_task`, or name two different statuses:
//!   a `WORKFLOW_TRANSITION` error naming them, as is a condition that does not parse.
//! - `to_task`s: one task instance per distinct target ([`Step::Tasks`]). Its `input_data` is
//!   the workflow data restricted to the top-level properties of the task's `input_schema` (the
//!   whole data when it has none) and must meet that schema, else a `TASK_CREATION` error.
//!   An action task also gets the request body it will send ([`action_body`]): its
//!   `input_transform` applied to the workflow data, or its input when it has none.
//!
//! A step is all or nothing: on any error no task is created and nothing ends.
//!
//! # Parallel branches and the join
//!
//! Several `to_task`s firing at once start parallel branches. A branch that reaches a task
//! which already has an active instance merges into it instead of starting a second copy
//! ([`Step::Tasks`] `joined`); the running task keeps the input it started with. This is a
//! merge, not a barrier: the join task starts when the first branch reaches it, and a branch
//! arriving after it completed starts it again, as any `to_task` back to a completed task does
//! (that is also how loops work: each pass is a new instance).
//!
//! A `to_status` fired while other tasks of the instance are still active ends only its own
//! branch: the status becomes the instance's pending end ([`Step::WaitForBranches`]) and the
//! other branches go on. The instance ends ([`Step::End`]) when the step of its last active
//! task fires a `to_status`. Every branch that ends must end with the same status: one that
//! disagrees with the pending end is a `WORKFLOW_TRANSITION` error. A step that starts tasks
//! leaves a pending end as it is.
//!
//! A task in `ERROR` counts as active: it still holds its branch (an admin retries or cancels
//! it), and the instance is not reported as stalled because the error is already on record.
//! An instance `IN_PROGRESS` with no active task is stalled ([`is_stalled`]).
//!
//! # Outputs
//!
//! A completing task's output must meet its `output_schema`; every violation is reported as a
//! [`Problem`] located by a JSON pointer into the output. Its top-level fields are then written
//! to the workflow fields of the same name, and every field whose value changes is returned
//! with its old and new value for the field history, so nothing is overwritten silently.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    CompiledSchema, Condition, Limits, Problem, TaskSpec, Transform, TransitionSpec, WorkflowSpec,
    top_level_fields,
};

/// The string is not a name of the runtime enum `kind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Declares a runtime enum whose upper-case name is written once: serde, [`Self::as_str`],
/// `Display` and `FromStr` all use it, so the stored and the displayed spelling cannot drift.
/// The names are `tt`, not `literal`: a `literal` fragment reaches derives wrapped in an
/// invisible group, which utoipa's reading of `#[serde(rename)]` does not look into.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:tt, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|variant| variant.as_str() == s)
                    .ok_or_else(|| UnknownVariant {
                        kind: $kind,
                        value: s.to_owned(),
                    })
            }
        }
    };
}

named_enum! {
    /// Where a task instance is in its life.
    TaskStatus, "task status" {
        /// Created, waiting for a worker (or for the engine, for an action).
        Open = "OPEN",
        InProgress = "IN_PROGRESS",
        /// Waits on something outside its worker, e.g. an async action's callback.
        Pending = "PENDING",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
        /// Failed; stays until an admin retries or cancels it.
        Error = "ERROR",
    }
}

impl TaskStatus {
    /// The statuses of a task that still needs someone or something to finish it.
    pub const ACTIVE: [Self; 4] = [Self::Open, Self::InProgress, Self::Pending, Self::Error];
    /// The statuses that count towards a worker's queue.
    pub const QUEUED: [Self; 2] = [Self::Open, Self::InProgress];

    /// Whether the task still holds its branch of the workflow. `ERROR` does: see the module
    /// docs.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Open | Self::InProgress | Self::Pending | Self::Error
        )
    }
}

named_enum! {
    /// Where a workflow instance is in its life. A `to_status` ends it `COMPLETED`; the
    /// design's status string is the outcome.
    WorkflowRunStatus, "workflow run status" {
        NotStarted = "NOT_STARTED",
        InProgress = "IN_PROGRESS",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
        /// Paused on purpose, so having no active task is expected.
        OnHold = "ON_HOLD",
    }
}

named_enum! {
    /// Which engine step failed.
    WorkflowErrorType, "workflow error type" {
        /// Starting the instance for a submitted ticket.
        WorkflowCreation = "WORKFLOW_CREATION",
        /// Creating a task instance, e.g. its input breaks its `input_schema`.
        TaskCreation = "TASK_CREATION",
        /// Completing a task, e.g. an action's response breaks its `output_schema`.
        TaskUpdate = "TASK_UPDATE",
        /// Choosing where the instance goes next.
        WorkflowTransition = "WORKFLOW_TRANSITION",
    }
}

named_enum! {
    /// How far a ticket admin has dealt with a workflow error.
    WorkflowErrorStatus, "workflow error status" {
        New = "NEW",
        Reviewed = "REVIEWED",
        Resolved = "RESOLVED",
    }
}

impl WorkflowErrorStatus {
    /// Only forward, skipping REVIEWED allowed: an error's handling is history, not a toggle.
    pub fn can_change_to(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::New, Self::Reviewed)
                | (Self::New, Self::Resolved)
                | (Self::Reviewed, Self::Resolved)
        )
    }

    pub fn is_final(self) -> bool {
        self == Self::Resolved
    }
}

impl WorkflowRunStatus {
    /// A running workflow (the ticket is open), as opposed to the archive.
    pub const ACTIVE: [Self; 3] = [Self::NotStarted, Self::InProgress, Self::OnHold];

    /// Whether the engine may take a step.
    pub fn can_step(self) -> bool {
        matches!(self, Self::NotStarted | Self::InProgress)
    }
}

/// Whether an instance is stuck without anyone able to move it on.
pub fn is_stalled(run_status: WorkflowRunStatus, active_task_count: usize) -> bool {
    run_status == WorkflowRunStatus::InProgress && active_task_count == 0
}

/// What the engine needs to know about a running instance.
#[derive(Clone, Copy, Debug)]
pub struct RunState<'a> {
    /// The workflow data, a JSON object, with the completing task's output already merged.
    pub data: &'a Value,
    /// Keys of the instance's active task instances. The completing task is ignored if
    /// listed: at most one instance per key is active, so it can only be that one.
    pub active_tasks: &'a [String],
    /// The status an earlier branch ended with while others were still active.
    pub pending_end: Option<&'a str>,
}

/// What the app does after a step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Create the task instances of `create`, in this order. `joined` are targets that were
    /// already active, so those branches merged into them; `create` is empty when all were.
    Tasks {
        create: Vec<NewTask>,
        joined: Vec<String>,
    },
    /// This branch ended while other tasks are active: remember `pending_end` and go on.
    WaitForBranches { pending_end: String },
    /// The instance is finished with this status.
    End { status: String },
}

/// A task instance to create.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewTask {
    pub key: String,
    pub input_data: Value,
    /// Action tasks only: the request body, fixed when the task is created.
    pub action_body: Option<Value>,
}

/// A failed step, recorded as a workflow error of the ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct EngineError {
    pub error_type: WorkflowErrorType,
    pub message: String,
}

impl EngineError {
    fn transition(message: String) -> Self {
        Self {
            error_type: WorkflowErrorType::WorkflowTransition,
            message,
        }
    }

    fn task_creation(task: &TaskSpec, what: &str, problems: &[Problem]) -> Self {
        Self {
            error_type: WorkflowErrorType::TaskCreation,
            message: format!(
                "task `{}` cannot start: {what}: {}",
                task.key,
                list(problems)
            ),
        }
    }
}

/// One workflow field written by a completing task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    /// `None`: the field had no value.
    pub old: Option<Value>,
    pub new: Value,
}

/// The workflow data after a task's output was merged in, and what changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    pub data: Value,
    /// In the order of the output's fields; fields written with their current value are left
    /// out.
    pub changes: Vec<FieldChange>,
}

/// Where the instance goes after the submission (`from = None`) or after task `from`
/// completed; see the module docs.
pub fn step(
    spec: &WorkflowSpec,
    from: Option<&str>,
    state: &RunState<'_>,
    limits: &Limits,
) -> Result<Step, EngineError> {
    let origin = Origin(from);
    let fired = fired(spec, from, state.data, limits)?;
    if fired.is_empty() {
        return Err(EngineError::transition(format!(
            "no transition from {origin} holds"
        )));
    }

    let mut ends = Vec::new();
    let mut targets = Vec::new();
    for transition in &fired {
        match (&transition.to_task, &transition.to_status) {
            (Some(task), None) => targets.push((*transition, task.as_str())),
            (None, Some(status)) => ends.push((*transition, status.as_str())),
            _ => {
                return Err(EngineError::transition(format!(
                    "transition `{}` must have exactly one of to_task and to_status",
                    transition.key
                )));
            }
        }
    }
    let others: Vec<&str> = state
        .active_tasks
        .iter()
        .map(String::as_str)
        .filter(|key| Some(*key) != from)
        .collect();

    match (ends.first(), targets.is_empty()) {
        (Some(_), false) => Err(EngineError::transition(format!(
            "from {origin}, {} end the workflow while {} start tasks: a step either ends the workflow or starts tasks",
            names(&ends),
            names(&targets)
        ))),
        (Some(&(first, status)), true) => {
            if let Some(&(other, other_status)) = ends.iter().find(|(_, s)| *s != status) {
                return Err(EngineError::transition(format!(
                    "from {origin}, transitions `{}` ({status}) and `{}` ({other_status}) end the workflow with different statuses",
                    first.key, other.key
                )));
            }
            if let Some(pending) = state.pending_end.filter(|pending| *pending != status) {
                return Err(EngineError::transition(format!(
                    "from {origin}, transition `{}` ends the workflow with {status}, but another branch already ended it with {pending}",
                    first.key
                )));
            }
            Ok(if others.is_empty() {
                Step::End {
                    status: status.to_owned(),
                }
            } else {
                Step::WaitForBranches {
                    pending_end: status.to_owned(),
                }
            })
        }
        (None, _) => start_tasks(spec, &targets, &others, state.data, limits),
    }
}

/// What completing a form task would do to its workflow, told before its form is filled in:
/// the workflow ends whatever is chosen (`always`), or with some choices of the form's
/// yes-or-no and list fields (`choices`), or it goes on. A forecast over the workflow data
/// as it is now, each choice tried alone with the other fields as they stand; the step run
/// after the completion is what decides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ending {
    /// Completing the task ends the workflow with this status, whatever is chosen.
    pub always: Option<String>,
    /// The choices that end the workflow, each with the status it ends with; empty when
    /// `always` is set.
    pub choices: Vec<EndingChoice>,
}

/// A value of a top-level output field that ends the workflow when chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndingChoice {
    pub field: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub value: Value,
    /// The end status it leads to, e.g. `REJECTED`.
    pub status: String,
}

/// Choices tried at most per forecast: the forecast runs on every look at a task, and past
/// this many the completion's own check still stands (see [`ending`]).
const MAX_FORECAST_CHOICES: usize = 64;

/// The choices a form offers of its output's top-level fields: the members of an `enum`,
/// or yes and no for a boolean.
fn choices_of(output_schema: &Value) -> Vec<(String, Value)> {
    let Some(properties) = output_schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let boolean = |def: &Value| match def.get("type") {
        Some(Value::String(t)) => t == "boolean",
        Some(Value::Array(types)) => types.iter().any(|t| t == "boolean"),
        _ => false,
    };
    let mut out = Vec::new();
    for (field, def) in properties {
        let values = match def.get("enum").and_then(Value::as_array) {
            Some(members) => members.clone(),
            None if boolean(def) => vec![Value::Bool(true), Value::Bool(false)],
            None => continue,
        };
        out.extend(values.into_iter().map(|value| (field.clone(), value)));
    }
    out.truncate(MAX_FORECAST_CHOICES);
    out
}

/// The status the step after `task` ends the whole workflow with, given `state`: `None`
/// when it starts tasks, waits for other branches, or fails.
pub fn end_after(
    spec: &WorkflowSpec,
    task: &str,
    state: &RunState<'_>,
    limits: &Limits,
) -> Option<String> {
    match step(spec, Some(task), state, limits) {
        Ok(Step::End { status }) => Some(status),
        _ => None,
    }
}

/// Forecasts what completing form `task` does to the workflow; see [`Ending`].
pub fn ending(
    spec: &WorkflowSpec,
    task: &TaskSpec,
    state: &RunState<'_>,
    limits: &Limits,
) -> Ending {
    let choices = task
        .output_schema
        .as_ref()
        .map(choices_of)
        .unwrap_or_default();
    if choices.is_empty() {
        return Ending {
            always: end_after(spec, &task.key, state, limits),
            choices: Vec::new(),
        };
    }
    let mut ending = Vec::new();
    let mut goes_on = false;
    for (field, value) in choices {
        let mut data = state.data.as_object().cloned().unwrap_or_default();
        data.insert(field.clone(), value.clone());
        let data = Value::Object(data);
        let tried = RunState {
            data: &data,
            ..*state
        };
        match end_after(spec, &task.key, &tried, limits) {
            Some(status) => ending.push(EndingChoice {
                field,
                value,
                status,
            }),
            None => goes_on = true,
        }
    }
    let same = ending
        .first()
        .map(|first| &first.status)
        .filter(|status| ending.iter().all(|choice| &choice.status == *status));
    match same {
        Some(status) if !goes_on => Ending {
            always: Some(status.clone()),
            choices: Vec::new(),
        },
        _ => Ending {
            always: None,
            choices: ending,
        },
    }
}

/// The transitions leaving `from` whose condition holds, in firing order.
fn fired<'s>(
    spec: &'s WorkflowSpec,
    from: Option<&str>,
    data: &Value,
    limits: &Limits,
) -> Result<Vec<&'s TransitionSpec>, EngineError> {
    let mut leaving: Vec<&TransitionSpec> = spec
        .transitions
        .iter()
        .filter(|transition| transition.from_task.as_deref() == from)
        .collect();
    leaving.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.key.cmp(&b.key)));
    let mut fired = Vec::with_capacity(leaving.len());
    for transition in leaving {
        let holds = match &transition.condition {
            None => true,
            Some(condition) => Condition::parse(condition, limits)
                .map_err(|problems| {
                    EngineError::transition(format!(
                        "the condition of transition `{}` is invalid: {}",
                        transition.key,
                        list(&problems)
                    ))
                })?
                .evaluate(data),
        };
        if holds {
            fired.push(transition);
        }
    }
    Ok(fired)
}

fn start_tasks(
    spec: &WorkflowSpec,
    targets: &[(&TransitionSpec, &str)],
    others: &[&str],
    data: &Value,
    limits: &Limits,
) -> Result<Step, EngineError> {
    let mut create: Vec<NewTask> = Vec::new();
    let mut joined: Vec<String> = Vec::new();
    for &(transition, key) in targets {
        if create.iter().any(|t| t.key == key) || joined.iter().any(|k| k == key) {
            continue;
        }
        let Some(task) = spec.tasks.iter().find(|task| task.key == key) else {
            return Err(EngineError::transition(format!(
                "transition `{}` leads to task `{key}`, which is not in this workflow",
                transition.key
            )));
        };
        if others.contains(&key) {
            joined.push(key.to_owned());
        } else {
            create.push(new_task(task, data, limits)?);
        }
    }
    Ok(Step::Tasks { create, joined })
}

fn new_task(task: &TaskSpec, data: &Value, limits: &Limits) -> Result<NewTask, EngineError> {
    let input_data = task_input(task, data);
    if let Some(schema) = &task.input_schema {
        let compiled = CompiledSchema::compile(schema, limits).map_err(|problems| {
            EngineError::task_creation(task, "its input schema is invalid", &problems)
        })?;
        let problems = compiled.validate(&input_data);
        if !problems.is_empty() {
            return Err(EngineError::task_creation(
                task,
                "the workflow data does not meet its input schema",
                &problems,
            ));
        }
    }
    let action_body = if task.task_type.is_action() {
        let body = action_body(task, data, limits).map_err(|problems| {
            EngineError::task_creation(task, "its input transform is invalid", &problems)
        })?;
        Some(body)
    } else {
        None
    };
    Ok(NewTask {
        key: task.key.clone(),
        input_data,
        action_body,
    })
}

/// The part of the workflow data a task reads: the top-level properties of its
/// `input_schema`, or everything when it has none.
pub fn task_input(task: &TaskSpec, data: &Value) -> Value {
    let Some(schema) = &task.input_schema else {
        return data.clone();
    };
    let fields = data.as_object();
    Value::Object(
        top_level_fields(schema)
            .into_iter()
            .filter_map(|field| {
                let value = fields?.get(&field)?.clone();
                Some((field, value))
            })
            .collect(),
    )
}

/// The request body an action task sends: its `input_transform` applied to the workflow data,
/// or its input ([`task_input`]) when it has none. `Err` holds the transform's problems,
/// located in the task (`/input_transform/<key>`).
pub fn action_body(task: &TaskSpec, data: &Value, limits: &Limits) -> Result<Value, Vec<Problem>> {
    match &task.input_transform {
        Some(transform) => Transform::parse(transform, limits)
            .map(|transform| transform.apply(data))
            .map_err(|problems| under("/input_transform", problems)),
        None => Ok(task_input(task, data)),
    }
}

/// Checks a completing task's output against its `output_schema` and merges it into the
/// workflow data. `Err` holds every problem, located in the output; if the task's own schema
/// is broken (which publishing rules out) the problems are located in the task instead
/// (`/output_schema/...`), since the output cannot be checked.
pub fn apply_output(
    task: &TaskSpec,
    data: &Value,
    output: &Value,
    limits: &Limits,
) -> Result<Merged, Vec<Problem>> {
    let schema = match &task.output_schema {
        Some(schema) => Some(
            CompiledSchema::compile(schema, limits)
                .map_err(|problems| under("/output_schema", problems))?,
        ),
        None => None,
    };
    apply_checked_output(schema.as_ref(), data, output)
}

/// [`apply_output`] with the task's output schema already compiled (a published version
/// keeps its schemas compiled, so completing a task does not compile one again).
pub fn apply_checked_output(
    schema: Option<&CompiledSchema>,
    data: &Value,
    output: &Value,
) -> Result<Merged, Vec<Problem>> {
    let mut problems = schema.map(|s| s.validate(output)).unwrap_or_default();
    if !output.is_object() && !problems.iter().any(|p| p.location.is_empty()) {
        problems.push(Problem::new("", "must be a JSON object of output fields"));
    }
    let mut merged = match data {
        Value::Object(fields) => fields.clone(),
        Value::Null => Map::new(),
        _ => {
            problems.push(Problem::new(
                "",
                "cannot be merged: the workflow data is not a JSON object",
            ));
            Map::new()
        }
    };
    let Some(output) = output.as_object().filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    let mut changes = Vec::new();
    for (field, new) in output {
        let old = merged.insert(field.clone(), new.clone());
        if old.as_ref() != Some(new) {
            changes.push(FieldChange {
                field: field.clone(),
                old,
                new: new.clone(),
            });
        }
    }
    Ok(Merged {
        data: Value::Object(merged),
        changes,
    })
}

/// [`apply_output`] for an action task's response: the output is the response mapped by the
/// task's `output_transform`, or the whole response when it has none. A broken transform's
/// problems are located in the task (`/output_transform/<key>`).
pub fn apply_action_response(
    task: &TaskSpec,
    data: &Value,
    response: &Value,
    limits: &Limits,
) -> Result<Merged, Vec<Problem>> {
    apply_output(task, data, &action_output(task, response, limits)?, limits)
}

/// An action's output: its response mapped by the task's `output_transform`, or the whole
/// response when it has none. A broken transform's problems are located in the task.
pub fn action_output(
    task: &TaskSpec,
    response: &Value,
    limits: &Limits,
) -> Result<Value, Vec<Problem>> {
    match &task.output_transform {
        Some(transform) => Transform::parse(transform, limits)
            .map(|transform| transform.apply(response))
            .map_err(|problems| under("/output_transform", problems)),
        None => Ok(response.clone()),
    }
}

/// Names the trigger of a step in messages.
struct Origin<'a>(Option<&'a str>);

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("the ticket's submission"),
            Some(key) => write!(f, "task `{key}`"),
        }
    }
}

/// Lists transitions with their targets for messages: ``transitions `a` (DONE), `b` (DONE)``.
fn names(transitions: &[(&TransitionSpec, &str)]) -> String {
    let keys: Vec<String> = transitions
        .iter()
        .map(|(transition, target)| format!("`{}` ({target})", transition.key))
        .collect();
    format!("transitions {}", keys.join(", "))
}

fn list(problems: &[Problem]) -> String {
    let items: Vec<String> = problems.iter().map(Problem::to_string).collect();
    items.join("; ")
}

fn under(prefix: &str, problems: Vec<Problem>) -> Vec<Problem> {
    problems.into_iter().map(|p| p.under(prefix)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form(key: &str, input: Value, output: Value) -> Value {
        json!({"key": key, "name": key, "task_type": "FORM",
               "input_schema": input, "output_schema": output})
    }

    fn open_form(key: &str) -> Value {
        json!({"key": key, "name": key, "task_type": "FORM", "output_schema": {}})
    }

    fn to_task(key: &str, from: Option<&str>, to: &str, priority: i32) -> Value {
        json!({"key": key, "from_task": from, "to_task": to, "priority": priority})
    }

    fn to_status(key: &str, from: &str, status: &str) -> Value {
        json!({"key": key, "from_task": from, "to_status": status})
    }

    fn with_condition(mut transition: Value, condition: Value) -> Value {
        transition["condition"] = condition;
        transition
    }

    fn spec(tasks: Vec<Value>, transitions: Vec<Value>) -> WorkflowSpec {
        serde_json::from_value(json!({
            "title": "Test",
            "fields": {"type": "object", "properties": {
                "x": {"type": "integer"}, "ok": {"type": "boolean"}, "note": {"type": "string"}}},
            "tasks": tasks,
            "transitions": transitions,
        }))
        .unwrap()
    }

    fn run(
        spec: &WorkflowSpec,
        from: Option<&str>,
        data: Value,
        active: &[&str],
        pending_end: Option<&str>,
    ) -> Result<Step, EngineError> {
        let active: Vec<String> = active.iter().map(|key| (*key).to_owned()).collect();
        let state = RunState {
            data: &data,
            active_tasks: &active,
            pending_end,
        };
        step(spec, from, &state, &Limits::default())
    }

    fn created(step: Result<Step, EngineError>) -> Vec<String> {
        match step {
            Ok(Step::Tasks { create, joined }) => {
                assert!(joined.is_empty(), "joined {joined:?}");
                create.into_iter().map(|task| task.key).collect()
            }
            other => panic!("expected new tasks, got {other:?}"),
        }
    }

    fn transition_error(step: Result<Step, EngineError>) -> String {
        match step {
            Err(error) => {
                assert_eq!(error.error_type, WorkflowErrorType::WorkflowTransition);
                error.message
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn diamond() -> WorkflowSpec {
        spec(
            ["a", "b", "c", "d"].map(open_form).to_vec(),
            vec![
                to_task("start", None, "a", 0),
                to_task("a_b", Some("a"), "b", 0),
                to_task("a_c", Some("a"), "c", 0),
                to_task("b_d", Some("b"), "d", 0),
                to_task("c_d", Some("c"), "d", 0),
                to_status("d_done", "d", "COMPLETED"),
            ],
        )
    }

    #[test]
    fn the_submission_fires_the_start_transitions() {
        let spec = spec(
            ["a", "b", "c"].map(open_form).to_vec(),
            vec![
                to_task("start_a", None, "a", 0),
                to_task("start_b", None, "b", 0),
                to_task("a_c", Some("a"), "c", 9),
            ],
        );
        assert_eq!(created(run(&spec, None, json!({}), &[], None)), ["a", "b"]);
    }

    #[test]
    fn higher_priority_fires_first_then_by_key() {
        let spec = spec(
            ["a", "b", "c", "d"].map(open_form).to_vec(),
            vec![
                to_task("z", None, "a", 1),
                to_task("y", None, "b", 5),
                to_task("x", None, "c", -2),
                to_task("w", None, "d", 5),
            ],
        );
        assert_eq!(
            created(run(&spec, None, json!({}), &[], None)),
            ["d", "b", "a", "c"]
        );
    }

    #[test]
    fn conditions_choose_the_branch() {
        let spec = spec(
            ["a", "big", "small"].map(open_form).to_vec(),
            vec![
                to_task("start", None, "a", 0),
                with_condition(
                    to_task("big", Some("a"), "big", 0),
                    json!({"x": {"$gt": 3}}),
                ),
                with_condition(
                    to_task("small", Some("a"), "small", 0),
                    json!({"x": {"$lte": 3}}),
                ),
            ],
        );
        assert_eq!(
            created(run(&spec, Some("a"), json!({"x": 4}), &[], None)),
            ["big"]
        );
        assert_eq!(
            created(run(&spec, Some("a"), json!({"x": 3}), &[], None)),
            ["small"]
        );
    }

    #[test]
    fn every_holding_transition_starts_a_parallel_branch_once() {
        let mut spec = diamond();
        spec.transitions
            .push(serde_json::from_value(to_task("a_b_again", Some("a"), "b", 0)).unwrap());
        assert_eq!(
            created(run(&spec, Some("a"), json!({}), &["a"], None)),
            ["b", "c"]
        );
    }

    #[test]
    fn a_branch_reaching_a_running_task_joins_it() {
        let spec = diamond();
        assert_eq!(
            created(run(&spec, Some("c"), json!({}), &["b", "c"], None)),
            ["d"]
        );
        assert_eq!(
            run(&spec, Some("b"), json!({}), &["b", "d"], None),
            Ok(Step::Tasks {
                create: vec![],
                joined: vec!["d".to_owned()]
            })
        );
    }

    #[test]
    fn a_loop_starts_a_new_instance() {
        let spec = spec(
            vec![open_form("a")],
            vec![
                to_task("start", None, "a", 0),
                with_condition(to_task("again", Some("a"), "a", 0), json!({"ok": false})),
                with_condition(to_status("done", "a", "DONE"), json!({"ok": true})),
            ],
        );
        // The completing instance is listed as active: it is not a running copy to join.
        assert_eq!(
            created(run(&spec, Some("a"), json!({"ok": false}), &["a"], None)),
            ["a"]
        );
        assert_eq!(
            run(&spec, Some("a"), json!({"ok": true}), &["a"], None),
            Ok(Step::End {
                status: "DONE".to_owned()
            })
        );
    }

    #[test]
    fn an_end_waits_for_the_other_branches() {
        let spec = spec(
            ["a", "b"].map(open_form).to_vec(),
            vec![
                to_task("start_a", None, "a", 0),
                to_task("start_b", None, "b", 0),
                to_status("a_done", "a", "DONE"),
                to_status("b_done", "b", "DONE"),
            ],
        );
        assert_eq!(
            run(&spec, Some("a"), json!({}), &["b"], None),
            Ok(Step::WaitForBranches {
                pending_end: "DONE".to_owned()
            })
        );
        assert_eq!(
            run(&spec, Some("b"), json!({}), &[], Some("DONE")),
            Ok(Step::End {
                status: "DONE".to_owned()
            })
        );
    }

    #[test]
    fn branches_must_end_with_the_same_status() {
        let spec = spec(
            ["a", "b"].map(open_form).to_vec(),
            vec![
                to_task("start_a", None, "a", 0),
                to_task("start_b", None, "b", 0),
                to_status("a_done", "a", "DONE"),
                to_status("a_also", "a", "DONE"),
                to_status("b_rejected", "b", "REJECTED"),
                to_status("b_other", "b", "OTHER"),
            ],
        );
        // Two transitions to the same status agree.
        assert_eq!(
            run(&spec, Some("a"), json!({}), &[], None),
            Ok(Step::End {
                status: "DONE".to_owned()
            })
        );
        let message = transition_error(run(&spec, Some("b"), json!({}), &[], None));
        assert!(
            message.contains("`b_other` (OTHER) and `b_rejected` (REJECTED)"),
            "{message}"
        );
        let mut one_each = spec.clone();
        one_each.transitions.retain(|t| t.key != "b_other");
        // Detected as soon as the second branch ends, even with a third still running.
        for active in [&[][..], &["c"][..]] {
            let message =
                transition_error(run(&one_each, Some("b"), json!({}), active, Some("DONE")));
            assert!(message.contains("already ended it with DONE"), "{message}");
        }
    }

    #[test]
    fn a_step_cannot_both_end_and_start_tasks() {
        let mut spec = diamond();
        spec.transitions
            .push(serde_json::from_value(to_status("b_done", "b", "COMPLETED")).unwrap());
        let message = transition_error(run(&spec, Some("b"), json!({}), &["c"], None));
        assert!(
            message.contains("`b_done` (COMPLETED) end the workflow while transitions `b_d` (d)"),
            "{message}"
        );
    }

    #[test]
    fn nothing_firing_is_an_error_not_a_stall() {
        let spec = spec(
            vec![open_form("a")],
            vec![
                with_condition(to_task("start", None, "a", 0), json!({"x": 1})),
                with_condition(to_status("done", "a", "DONE"), json!({"ok": true})),
            ],
        );
        assert_eq!(
            transition_error(run(&spec, None, json!({"x": 2}), &[], None)),
            "no transition from the ticket's submission holds"
        );
        assert_eq!(
            transition_error(run(&spec, Some("a"), json!({}), &[], None)),
            "no transition from task `a` holds"
        );
    }

    #[test]
    fn broken_transitions_are_errors() {
        let spec = spec(
            vec![open_form("a")],
            vec![
                with_condition(
                    to_task("start", None, "a", 0),
                    json!({"x": {"$regex": "."}}),
                ),
                to_task("ghost", Some("a"), "nowhere", 0),
            ],
        );
        let message = transition_error(run(&spec, None, json!({}), &[], None));
        assert!(
            message.contains("condition of transition `start`"),
            "{message}"
        );
        let message = transition_error(run(&spec, Some("a"), json!({}), &[], None));
        assert!(message.contains("`nowhere`"), "{message}");
    }

    #[test]
    fn a_task_gets_the_fields_it_reads_and_they_must_fit() {
        let spec = spec(
            vec![
                form(
                    "a",
                    json!({"type": "object", "required": ["x"],
                           "properties": {"x": {"type": "integer", "minimum": 0}, "note": {}}}),
                    json!({}),
                ),
                open_form("b"),
            ],
            vec![
                to_task("start", None, "a", 1),
                to_task("also", None, "b", 0),
            ],
        );
        match run(&spec, None, json!({"x": 2, "ok": true}), &[], None) {
            Ok(Step::Tasks { create, .. }) => {
                assert_eq!(create[0].input_data, json!({"x": 2}));
                assert_eq!(create[0].action_body, None);
                // Without an input schema a task reads everything.
                assert_eq!(create[1].input_data, json!({"x": 2, "ok": true}));
            }
            other => panic!("{other:?}"),
        }
        for bad in [json!({"x": -1}), json!({"ok": true})] {
            let error = run(&spec, None, bad, &[], None).unwrap_err();
            assert_eq!(error.error_type, WorkflowErrorType::TaskCreation);
            assert!(
                error.message.starts_with("task `a` cannot start"),
                "{error}"
            );
        }
    }

    fn action() -> TaskSpec {
        serde_json::from_value(json!({
            "key": "order", "name": "Order", "task_type": "SYNC_ACTION",
            "input_schema": {"type": "object", "properties": {"item": {}}},
            "output_schema": {"type": "object", "required": ["order_id"],
                              "properties": {"order_id": {"type": "string"}}},
            "action_url": "https://erp.example.com/orders", "timeout_seconds": 30,
            "input_transform": {"sku": "$.item", "qty": "$.amount"},
            "output_transform": {"order_id": "$.order.id", "eta": "$.order.eta"}
        }))
        .unwrap()
    }

    #[test]
    fn an_action_sends_its_transformed_input() {
        let spec = WorkflowSpec {
            tasks: vec![action()],
            ..spec(vec![], vec![to_task("start", None, "order", 0)])
        };
        let data = json!({"item": "pen", "amount": 3, "other": true});
        match run(&spec, None, data.clone(), &[], None) {
            Ok(Step::Tasks { create, .. }) => {
                assert_eq!(create[0].input_data, json!({"item": "pen"}));
                assert_eq!(create[0].action_body, Some(json!({"sku": "pen", "qty": 3})));
            }
            other => panic!("{other:?}"),
        }
        let mut plain = action();
        plain.input_transform = None;
        assert_eq!(
            action_body(&plain, &data, &Limits::default()),
            Ok(json!({"item": "pen"}))
        );
        plain.input_transform = Some(json!({"sku": "$["}));
        let problems = action_body(&plain, &data, &Limits::default()).unwrap_err();
        assert_eq!(problems[0].location, "/input_transform/sku");
    }

    #[test]
    fn an_output_must_meet_its_schema_and_every_change_is_reported() {
        let task: TaskSpec = serde_json::from_value(form(
            "a",
            json!({}),
            json!({"type": "object", "required": ["ok"],
                   "properties": {"ok": {"type": "boolean"}, "x": {"type": "integer"}}}),
        ))
        .unwrap();
        let limits = Limits::default();
        let data = json!({"note": "n", "ok": false, "x": 1});

        let problems = apply_output(&task, &data, &json!({"x": "one"}), &limits).unwrap_err();
        let mut locations: Vec<_> = problems.iter().map(|p| p.location.as_str()).collect();
        locations.sort();
        assert_eq!(locations, ["/ok", "/x"]);
        let problems = apply_output(&task, &data, &json!([true]), &limits).unwrap_err();
        assert!(problems.iter().any(|p| p.location.is_empty()));

        let merged =
            apply_output(&task, &data, &json!({"ok": true, "x": 1, "y": 2}), &limits).unwrap();
        assert_eq!(
            merged.data,
            json!({"note": "n", "ok": true, "x": 1, "y": 2})
        );
        assert_eq!(
            merged.changes,
            [
                FieldChange {
                    field: "ok".into(),
                    old: Some(json!(false)),
                    new: json!(true)
                },
                FieldChange {
                    field: "y".into(),
                    old: None,
                    new: json!(2)
                },
            ]
        );
        let fresh = apply_output(&task, &Value::Null, &json!({"ok": true}), &limits).unwrap();
        assert_eq!(fresh.data, json!({"ok": true}));
    }

    #[test]
    fn an_action_response_is_mapped_by_its_output_transform() {
        let task = action();
        let limits = Limits::default();
        let data = json!({"item": "pen"});
        let response = json!({"order": {"id": "o-1", "eta": "2024-05-01"}, "noise": 1});
        let merged = apply_action_response(&task, &data, &response, &limits).unwrap();
        assert_eq!(
            merged.data,
            json!({"eta": "2024-05-01", "item": "pen", "order_id": "o-1"})
        );
        assert_eq!(merged.changes.len(), 2);
        // A response without the id leaves `order_id` out, which the schema refuses.
        let problems =
            apply_action_response(&task, &data, &json!({"order": {}}), &limits).unwrap_err();
        assert_eq!(problems.len(), 1);

        let mut untransformed = action();
        untransformed.output_transform = None;
        let merged =
            apply_action_response(&untransformed, &data, &json!({"order_id": "o-2"}), &limits)
                .unwrap();
        assert_eq!(merged.data["order_id"], "o-2");
    }

    #[test]
    fn runtime_enums_use_the_documented_spelling() {
        fn check<T>(all: &[T], kind: &str)
        where
            T: Copy + fmt::Display + FromStr<Err = UnknownVariant> + Serialize + PartialEq,
            T: fmt::Debug,
        {
            for &variant in all {
                let name = variant.to_string();
                assert_eq!(name.parse::<T>().unwrap(), variant);
                assert_eq!(serde_json::to_value(variant).unwrap(), Value::from(name));
            }
            let error = "nope".parse::<T>().unwrap_err();
            assert_eq!(error.to_string(), format!("unknown {kind} `nope`"));
        }
        check(TaskStatus::ALL, "task status");
        check(WorkflowRunStatus::ALL, "workflow run status");
        check(WorkflowErrorType::ALL, "workflow error type");
        check(WorkflowErrorStatus::ALL, "workflow error status");
        assert_eq!(TaskStatus::InProgress.as_str(), "IN_PROGRESS");
        assert_eq!(
            serde_json::from_value::<WorkflowRunStatus>(json!("ON_HOLD")).unwrap(),
            WorkflowRunStatus::OnHold
        );
    }

    #[test]
    fn error_tasks_hold_their_branch() {
        let active: Vec<_> = TaskStatus::ALL
            .iter()
            .filter(|status| status.is_active())
            .map(|status| status.as_str())
            .collect();
        assert_eq!(active, ["OPEN", "IN_PROGRESS", "PENDING", "ERROR"]);
    }

    #[test]
    fn only_a_running_instance_without_tasks_is_stalled() {
        assert!(is_stalled(WorkflowRunStatus::InProgress, 0));
        assert!(!is_stalled(WorkflowRunStatus::InProgress, 1));
        for status in [
            WorkflowRunStatus::NotStarted,
            WorkflowRunStatus::OnHold,
            WorkflowRunStatus::Completed,
        ] {
            assert!(!is_stalled(status, 0));
        }
    }

    #[test]
    fn error_handling_only_moves_forward() {
        use WorkflowErrorStatus::*;
        let allowed: Vec<_> = WorkflowErrorStatus::ALL
            .iter()
            .flat_map(|&from| WorkflowErrorStatus::ALL.iter().map(move |&to| (from, to)))
            .filter(|(from, to)| from.can_change_to(*to))
            .collect();
        assert_eq!(
            allowed,
            [(New, Reviewed), (New, Resolved), (Reviewed, Resolved)]
        );
        assert!(Resolved.is_final() && !Reviewed.is_final());
    }

    fn forecast(spec: &WorkflowSpec, task: &str, data: Value, active: &[&str]) -> Ending {
        let active: Vec<String> = active.iter().map(|key| (*key).to_owned()).collect();
        let state = RunState {
            data: &data,
            active_tasks: &active,
            pending_end: None,
        };
        let task = spec.tasks.iter().find(|t| t.key == task).unwrap();
        ending(spec, task, &state, &Limits::default())
    }

    #[test]
    fn the_choices_that_end_the_workflow_are_told_before_the_form_is_sent() {
        let decide = form(
            "decide",
            json!({}),
            json!({"type": "object", "properties": {
                "ok": {"type": "boolean"}, "note": {"type": "string"},
                "x": {"enum": [1, 2, 3]}}}),
        );
        let spec = spec(
            vec![decide, open_form("work")],
            vec![
                to_task("start", None, "decide", 0),
                with_condition(to_status("no", "decide", "REJECTED"), json!({"ok": false})),
                with_condition(
                    to_task("yes", Some("decide"), "work", 0),
                    json!({"ok": true, "x": {"$lt": 3}}),
                ),
                with_condition(
                    to_status("big", "decide", "TOO_BIG"),
                    json!({"ok": true, "x": 3}),
                ),
                to_status("done", "work", "COMPLETED"),
            ],
        );
        let choice = |field: &str, value: Value, status: &str| EndingChoice {
            field: field.into(),
            value,
            status: status.into(),
        };
        // Each choice is tried with the other fields as they are now: 3 alone ends
        // nothing while `ok` is unanswered.
        assert_eq!(
            forecast(&spec, "decide", json!({"x": 1}), &[]),
            Ending {
                always: None,
                choices: vec![choice("ok", json!(false), "REJECTED")],
            }
        );
        assert_eq!(
            forecast(&spec, "decide", json!({"x": 3, "ok": true}), &[]).choices,
            [
                choice("ok", json!(true), "TOO_BIG"),
                choice("ok", json!(false), "REJECTED"),
                choice("x", json!(3), "TOO_BIG"),
            ]
        );
        // A form without choices that leads to an end ends the workflow whatever is sent...
        assert_eq!(
            forecast(&spec, "work", json!({}), &[]),
            Ending {
                always: Some("COMPLETED".into()),
                choices: Vec::new(),
            }
        );
        // ...unless another branch is still running: then only its branch ends.
        assert_eq!(
            forecast(&spec, "work", json!({}), &["decide"]),
            Ending::default()
        );
        assert_eq!(
            forecast(&spec, "decide", json!({"x": 1}), &["work"]).choices,
            []
        );
    }
}
