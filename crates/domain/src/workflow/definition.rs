//! A workflow design snapshot as plain data. Its JSON form is the import/export format and the
//! document that [`super::Problem`] locations point into. Schemas, transforms and conditions
//! stay raw JSON here so that a broken one is reported as a located problem by validation
//! instead of failing the whole snapshot at deserialisation. Tasks refer to each other by
//! string keys; the app layer maps database ids to keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a workflow definition is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowStatus {
    /// Being designed; no ticket can start it.
    Draft,
    /// Published: new tickets start it.
    Active,
    /// Running instances finish, but no new ticket starts it.
    Deprecated,
    /// Kept for history only.
    Archived,
}

impl WorkflowStatus {
    pub const ALL: [WorkflowStatus; 4] =
        [Self::Draft, Self::Active, Self::Deprecated, Self::Archived];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Active => "ACTIVE",
            Self::Deprecated => "DEPRECATED",
            Self::Archived => "ARCHIVED",
        }
    }

    /// Whether a definition may move from `self` to `next`. DRAFT → ACTIVE is publishing, which
    /// the caller allows only when [`super::validate_workflow`] finds no problem. Nothing goes
    /// back: running instances pin the version they started on.
    pub fn can_change_to(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Draft, Self::Active)
                | (Self::Active, Self::Deprecated)
                | (Self::Active, Self::Archived)
                | (Self::Deprecated, Self::Archived)
        )
    }

    /// `next` if the change is allowed.
    pub fn change_to(self, next: Self) -> Result<Self, StatusChangeError> {
        if self.can_change_to(next) {
            Ok(next)
        } else {
            Err(StatusChangeError {
                from: self,
                to: next,
            })
        }
    }

    /// Only an active workflow accepts new tickets.
    pub fn starts_new_instances(self) -> bool {
        self == Self::Active
    }
}

impl fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not a workflow status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workflow status `{0}`")]
pub struct UnknownWorkflowStatus(pub String);

impl FromStr for WorkflowStatus {
    type Err = UnknownWorkflowStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownWorkflowStatus(s.to_owned()))
    }
}

/// A status change the life cycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} workflow cannot become {to}")]
pub struct StatusChangeError {
    pub from: WorkflowStatus,
    pub to: WorkflowStatus,
}

/// Who or what completes a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskType {
    /// A person fills in a form.
    Form,
    /// The engine calls `action_url` and the response completes the task.
    SyncAction,
    /// The engine calls `action_url`; a later callback completes the task.
    AsyncAction,
}

impl TaskType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "FORM",
            Self::SyncAction => "SYNC_ACTION",
            Self::AsyncAction => "ASYNC_ACTION",
        }
    }

    /// Actions are run by the engine over HTTP.
    pub fn is_action(self) -> bool {
        matches!(self, Self::SyncAction | Self::AsyncAction)
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskType {
    type Err = super::UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Form, Self::SyncAction, Self::AsyncAction]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| super::UnknownVariant {
                kind: "task type",
                value: s.to_owned(),
            })
    }
}

/// How a new form task finds its worker.
///
/// Written as a plain name (`claim`, `auto_shortest_queue`, `manual`, `requester`), or as
/// `{completer_of: <task key>}` for the person who completed an earlier task of the ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStrategy {
    /// The eligible worker with the fewest open tasks gets it.
    AutoShortestQueue,
    /// Eligible workers see it in a queue and take it.
    #[default]
    Claim,
    /// A ticket admin assigns it.
    Manual,
    /// The ticket's requester gets it, worker or not; nobody else may claim it.
    Requester,
    /// Whoever completed the named task of the same ticket (its latest round) gets it.
    CompleterOf(String),
}

impl AssignmentStrategy {
    /// Strategies that name one person rather than a pool of workers.
    pub fn is_personal(&self) -> bool {
        matches!(self, Self::Requester | Self::CompleterOf(_))
    }
}

impl fmt::Display for AssignmentStrategy {
    /// The short form events and pages use: `claim`, `requester`, `completer_of:review`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AutoShortestQueue => f.write_str("auto_shortest_queue"),
            Self::Claim => f.write_str("claim"),
            Self::Manual => f.write_str("manual"),
            Self::Requester => f.write_str("requester"),
            Self::CompleterOf(key) => write!(f, "completer_of:{key}"),
        }
    }
}

/// A link from a workflow to something outside TicketFlower (a policy, a runbook).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtRef {
    pub label: String,
    #[serde(default)]
    pub desc: String,
    pub uri: String,
}

/// One task definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Unique within the workflow; transitions refer to the task by it.
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub task_type: TaskType,
    /// JSON Schema 2020-12 of the data the task reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    pub input_schema: Option<Value>,
    /// JSON Schema 2020-12 of the data the task produces; required for forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Value>))]
    pub output_schema: Option<Value>,
    /// Actions only: the http(s) URL the engine calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_url: Option<String>,
    /// Actions only: request body key → JSONPath over the workflow data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub input_transform: Option<Value>,
    /// Actions only: output key → JSONPath over the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub output_transform: Option<Value>,
    /// Actions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Company role names allowed to work the task; empty = anyone in the company.
    #[serde(default)]
    pub company_role_access: Vec<String>,
    #[serde(default)]
    pub assignment: AssignmentStrategy,
}

/// An edge of the workflow graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    /// Unique within the workflow.
    pub key: String,
    /// `None`: fired by the ticket's submission.
    #[serde(default)]
    pub from_task: Option<String>,
    /// Exactly one of `to_task` and `to_status` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_task: Option<String>,
    /// Ends the workflow with this upper-case status, e.g. `COMPLETED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_status: Option<String>,
    /// A condition over the workflow data (`{field: value}`, `$and`, `$or`, operators such as
    /// `$gt`); absent = always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub condition: Option<Value>,
    /// Orders the transitions leaving the same task.
    #[serde(default)]
    pub priority: i32,
}

/// A workflow definition's design (its status and version live with the stored row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSpec {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub ext_ref: Vec<ExtRef>,
    /// JSON Schema 2020-12 of the workflow data.
    pub fields: Value,
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub transitions: Vec<TransitionSpec>,
}

/// A ticket type that starts a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TicketTypeSpec {
    pub key: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The summary line of each ticket, which tells it from the others of its type:
    /// `{{field}}` placeholders over the fields below and `{{requester}}` (e.g.
    /// `{{system}} access for {{requester}}`). Empty: the ticket is called by this type's title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// JSON Schema 2020-12 of what the submitter enters; each field fills the workflow field
    /// of the same name.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub fields: Value,
    /// Company role names allowed to submit; empty = any user of the company.
    #[serde(default)]
    pub company_role_access: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_life_cycle_only_moves_forward() {
        use WorkflowStatus::*;
        let allowed: Vec<_> = WorkflowStatus::ALL
            .into_iter()
            .flat_map(|from| WorkflowStatus::ALL.map(|to| (from, to)))
            .filter(|(from, to)| from.can_change_to(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Draft, Active),
                (Active, Deprecated),
                (Active, Archived),
                (Deprecated, Archived)
            ]
        );
        assert_eq!(
            Archived.change_to(Active),
            Err(StatusChangeError {
                from: Archived,
                to: Active
            })
        );
        assert!(Active.starts_new_instances() && !Deprecated.starts_new_instances());
    }

    #[test]
    fn enums_use_the_documented_spelling() {
        for status in WorkflowStatus::ALL {
            assert_eq!(status.as_str().parse::<WorkflowStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                Value::from(status.as_str())
            );
        }
        assert_eq!(
            serde_json::to_value(TaskType::AsyncAction).unwrap(),
            "ASYNC_ACTION"
        );
        assert_eq!(
            serde_json::to_value(AssignmentStrategy::AutoShortestQueue).unwrap(),
            "auto_shortest_queue"
        );
        assert_eq!(
            serde_json::to_value(AssignmentStrategy::Requester).unwrap(),
            "requester"
        );
        let completer = AssignmentStrategy::CompleterOf("review".into());
        assert_eq!(
            serde_json::to_value(&completer).unwrap(),
            serde_json::json!({"completer_of": "review"})
        );
        assert_eq!(
            serde_json::from_value::<AssignmentStrategy>(
                serde_json::json!({"completer_of": "review"})
            )
            .unwrap(),
            completer
        );
        assert_eq!(completer.to_string(), "completer_of:review");
        assert!(completer.is_personal() && !AssignmentStrategy::Claim.is_personal());
    }
}
