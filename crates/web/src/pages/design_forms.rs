//! The designer's field-by-field forms: one form shape per kind of design object, filled
//! from a stored spec for editing and read back into the JSON body the API takes, so the
//! pages and the API go through the same `app::design` checks. Schemas, conditions and
//! transforms stay JSON text (they are JSON documents); everything else is a plain input.
//! A refused form is filled again from what was posted ([`FormValues::typed`]), with each
//! complaint next to its input.

use serde::Deserialize;
use serde_json::{Map, Value};

use app::design::Kind;
use domain::workflow::order::InOrder;

use crate::pages::kit::form::{FieldErrors, Refusal};

/// One option of a select or one check box.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What a form shows: the stored values as text, or a new object's defaults.
#[derive(Default)]
pub struct FormValues {
    pub key: String,
    pub name: String,
    pub title: String,
    /// A ticket type's summary line template.
    pub summary: String,
    pub description: String,
    pub task_type: String,
    /// The strategies, one `completer_of:<key>` per task of the workflow; the selected one
    /// is the stored assignment (see [`assignment_value`]).
    pub assignments: Vec<Choice>,
    pub action_url: String,
    pub timeout_seconds: String,
    pub input_schema: String,
    pub output_schema: String,
    pub input_transform: String,
    pub output_transform: String,
    pub from_tasks: Vec<Choice>,
    pub to_tasks: Vec<Choice>,
    pub to_status: String,
    pub condition: String,
    pub priority: String,
    pub fields: String,
    /// `label | description | uri`, one link per line.
    pub ext_ref: String,
    pub roles: Vec<Choice>,
    /// The form's DOM id (`add-task`), which prefixes the ids of its messages.
    pub id: &'static str,
    /// Why the form was refused, by input.
    pub errors: FieldErrors,
}

pub const TASK_TYPES: [&str; 3] = ["FORM", "SYNC_ACTION", "ASYNC_ACTION"];
/// The strategies that name no task, with how the designer's select describes them.
/// A select of the workflow's tasks (a transition's ends), `none` first; `tasks` are
/// `(id, key, name)`.
fn task_choices(tasks: &[(String, String, String)], selected: &str, none: &str) -> Vec<Choice> {
    std::iter::once(("", none))
        .chain(
            tasks
                .iter()
                .map(|(id, _, name)| (id.as_str(), name.as_str())),
        )
        .map(|(value, label)| Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: value == selected,
        })
        .collect()
}

/// The assignment select: the fixed strategies, then "whoever completed" each task of the
/// workflow; `tasks` are `(id, key, name)`.
fn assignment_choices(tasks: &[(String, String, String)], selected: &str) -> Vec<Choice> {
    ASSIGNMENTS
        .iter()
        .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
        .chain(tasks.iter().map(|(_, key, name)| {
            (
                format!("completer_of:{key}"),
                format!("completer_of: whoever completed “{name}”"),
            )
        }))
        .map(|(value, label)| Choice {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

pub const ASSIGNMENTS: [(&str, &str); 4] = [
    ("claim", "claim: eligible workers take it from a queue"),
    (
        "auto_shortest_queue",
        "auto_shortest_queue: the eligible worker with the fewest tasks",
    ),
    ("manual", "manual: a ticket admin assigns it"),
    (
        "requester",
        "requester: the person who asked (the ticket's requester)",
    ),
];

/// A task's assignment as the select's value: `{completer_of: k}` is `completer_of:k`.
pub fn assignment_value(spec: &Value) -> String {
    match spec.get("assignment") {
        Some(Value::Object(map)) => map
            .get("completer_of")
            .and_then(Value::as_str)
            .map(|key| format!("completer_of:{key}"))
            .unwrap_or_default(),
        _ => text(spec, "assignment"),
    }
}

fn text(spec: &Value, field: &str) -> String {
    match spec.get(field) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

impl FormValues {
    /// The form of a stored object. `tasks` are the workflow's tasks as (id, key, name), and
    /// `roles` the company's role names.
    pub fn of(spec: &Value, tasks: &[(String, String, String)], roles: &[String]) -> Self {
        let granted: Vec<&str> = spec
            .get("company_role_access")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ext_ref = spec
            .get("ext_ref")
            .and_then(Value::as_array)
            .map(|links| {
                links
                    .iter()
                    .map(|l| {
                        format!(
                            "{} | {} | {}",
                            text(l, "label"),
                            text(l, "desc"),
                            text(l, "uri")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let assignments = assignment_choices(tasks, &assignment_value(spec));
        Self {
            key: text(spec, "key"),
            name: text(spec, "name"),
            title: text(spec, "title"),
            summary: text(spec, "summary"),
            description: text(spec, "description"),
            task_type: text(spec, "task_type"),
            assignments,
            action_url: text(spec, "action_url"),
            timeout_seconds: text(spec, "timeout_seconds"),
            input_schema: text(spec, "input_schema"),
            output_schema: text(spec, "output_schema"),
            input_transform: text(spec, "input_transform"),
            output_transform: text(spec, "output_transform"),
            from_tasks: task_choices(
                tasks,
                &text(spec, "from_task"),
                "— the ticket is submitted —",
            ),
            to_tasks: task_choices(
                tasks,
                &text(spec, "to_task"),
                "— none: end with the status —",
            ),
            to_status: text(spec, "to_status"),
            condition: text(spec, "condition"),
            priority: text(spec, "priority"),
            fields: text(spec, "fields"),
            ext_ref,
            roles: roles
                .iter()
                .map(|r| Choice {
                    value: r.clone(),
                    label: r.clone(),
                    selected: granted.contains(&r.as_str()),
                })
                .collect(),
            id: "",
            errors: FieldErrors::default(),
        }
    }

    /// A refused form as it was posted, with why.
    pub fn typed(
        form: &ObjectForm,
        tasks: &[(String, String, String)],
        roles: &[String],
        errors: FieldErrors,
    ) -> Self {
        let typed = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            key: typed(&form.key),
            name: typed(&form.name),
            title: typed(&form.title),
            summary: typed(&form.summary),
            description: typed(&form.description),
            task_type: typed(&form.task_type),
            assignments: assignment_choices(tasks, &typed(&form.assignment)),
            action_url: typed(&form.action_url),
            timeout_seconds: typed(&form.timeout_seconds),
            input_schema: typed(&form.input_schema),
            output_schema: typed(&form.output_schema),
            input_transform: typed(&form.input_transform),
            output_transform: typed(&form.output_transform),
            from_tasks: task_choices(
                tasks,
                &typed(&form.from_task),
                "— the ticket is submitted —",
            ),
            to_tasks: task_choices(
                tasks,
                &typed(&form.to_task),
                "— none: end with the status —",
            ),
            to_status: typed(&form.to_status),
            condition: typed(&form.condition),
            priority: typed(&form.priority),
            fields: typed(&form.fields),
            ext_ref: typed(&form.ext_ref),
            roles: roles
                .iter()
                .map(|r| Choice {
                    value: r.clone(),
                    label: r.clone(),
                    selected: form.company_role_access.contains(r),
                })
                .collect(),
            id: "",
            errors,
        }
    }

    /// Names the form, for the ids of its messages.
    pub fn in_form(mut self, id: &'static str) -> Self {
        self.id = id;
        self
    }

    /// The attributes tying an input to its message, if it has one.
    pub fn aria(&self, field: &str) -> String {
        self.errors.aria(field, &format!("{}-{field}", self.id))
    }

    /// A new object's form, with the defaults a designer most often wants.
    pub fn new_object(kind: Kind, tasks: &[(String, String, String)], roles: &[String]) -> Self {
        let spec = match kind {
            Kind::Task => serde_json::json!({
                "task_type": "FORM",
                "assignment": "claim",
                "output_schema": {"type": "object", "properties": {}},
            }),
            Kind::Transition => serde_json::json!({ "to_status": "COMPLETED", "priority": 0 }),
            Kind::TicketType | Kind::Workflow => {
                serde_json::json!({ "fields": {"type": "object", "properties": {}} })
            }
        };
        Self::of(&spec, tasks, roles)
    }
}

/// A submitted design form; which members matter depends on the kind.
#[derive(Deserialize, Default, Clone)]
pub struct ObjectForm {
    key: Option<String>,
    name: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    task_type: Option<String>,
    assignment: Option<String>,
    action_url: Option<String>,
    timeout_seconds: Option<String>,
    input_schema: Option<String>,
    output_schema: Option<String>,
    input_transform: Option<String>,
    output_transform: Option<String>,
    from_task: Option<String>,
    to_task: Option<String>,
    to_status: Option<String>,
    condition: Option<String>,
    priority: Option<String>,
    fields: Option<String>,
    ext_ref: Option<String>,
    #[serde(default)]
    company_role_access: Vec<String>,
}

/// Reads the form into the JSON body of a create or a full update. Empty optional inputs
/// become `null` (absent on create, removed on update). A new object's empty key is left
/// out so one is made from its name.
/// Text the page cannot read (JSON, a number, a link line) refuses the form at that input.
pub fn body_of(kind: Kind, form: ObjectForm, creating: bool) -> Result<Value, Refusal> {
    let mut body = Map::new();
    let mut put = |name: &str, value: Value| {
        body.insert(name.to_owned(), value);
    };
    let plain = |v: Option<String>| -> Value {
        match v.map(|s| s.trim().to_owned()) {
            Some(s) if !s.is_empty() => Value::String(s),
            _ => Value::Null,
        }
    };
    let roles = Value::from(form.company_role_access.clone());
    if kind != Kind::Workflow {
        match plain(form.key) {
            Value::Null if creating => {}
            key => put("key", key),
        }
    }
    match kind {
        Kind::Workflow => {
            put("title", Value::String(form.title.unwrap_or_default()));
            put("description", plain(form.description));
            put("fields", json_input("fields", form.fields)?);
            put(
                "ext_ref",
                links(form.ext_ref.as_deref().unwrap_or_default())?,
            );
        }
        Kind::Task => {
            put("name", Value::String(form.name.unwrap_or_default()));
            put("description", plain(form.description));
            put("task_type", plain(form.task_type));
            put(
                "assignment",
                match plain(form.assignment) {
                    Value::String(v) => match v.strip_prefix("completer_of:") {
                        Some(key) => serde_json::json!({ "completer_of": key }),
                        None => Value::String(v),
                    },
                    other => other,
                },
            );
            put("action_url", plain(form.action_url));
            put(
                "timeout_seconds",
                number("timeout_seconds", form.timeout_seconds)?,
            );
            put(
                "input_schema",
                json_input("input_schema", form.input_schema)?,
            );
            put(
                "output_schema",
                json_input("output_schema", form.output_schema)?,
            );
            put(
                "input_transform",
                json_input("input_transform", form.input_transform)?,
            );
            put(
                "output_transform",
                json_input("output_transform", form.output_transform)?,
            );
            put("company_role_access", roles);
        }
        Kind::Transition => {
            put("from_task", plain(form.from_task));
            put("to_task", plain(form.to_task));
            put("to_status", plain(form.to_status));
            put("condition", json_input("condition", form.condition)?);
            put(
                "priority",
                match number("priority", form.priority)? {
                    Value::Null => Value::from(0),
                    n => n,
                },
            );
        }
        Kind::TicketType => {
            put("title", Value::String(form.title.unwrap_or_default()));
            put("summary", Value::String(form.summary.unwrap_or_default()));
            put("description", plain(form.description));
            put("fields", json_input("fields", form.fields)?);
            put("company_role_access", roles);
        }
    }
    // The description is a plain string in every spec: empty, not absent.
    if body.get("description") == Some(&Value::Null) {
        body.insert("description".into(), Value::String(String::new()));
    }
    Ok(Value::Object(body))
}

fn json_input(field: &str, text: Option<String>) -> Result<Value, Refusal> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(Value::Null),
        Some(text) => serde_json::from_str(text)
            .map(InOrder::into_inner)
            .map_err(|e| {
                Refusal::invalid(
                    field,
                    &format!("is not JSON that can be read: {}", json_mistake(&e)),
                )
            }),
    }
}

/// Where a JSON text goes wrong, in words: "line 2, column 5: expected `,` or `}`".
fn json_mistake(error: &serde_json::Error) -> String {
    let what = error.to_string();
    let what = what.split(" at line ").next().unwrap_or(&what).to_owned();
    format!("line {}, column {}: {what}", error.line(), error.column())
}

fn number(field: &str, text: Option<String>) -> Result<Value, Refusal> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(Value::Null),
        Some(text) => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| Refusal::invalid(field, "must be a whole number")),
    }
}

/// `label | description | uri` lines into ext_ref entries; the description may be left
/// out (`label | uri`).
fn links(text: &str) -> Result<Value, Refusal> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let (label, desc, uri) = match parts.as_slice() {
            [label, uri] => (*label, "", *uri),
            [label, desc, uri] => (*label, *desc, *uri),
            _ => {
                return Err(Refusal::invalid(
                    "ext_ref",
                    &format!("line {}: write `label | description | uri`", n + 1),
                ));
            }
        };
        out.push(serde_json::json!({ "label": label, "desc": desc, "uri": uri }));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> ObjectForm {
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            let value = if *k == "company_role_access" {
                json!([v])
            } else {
                json!(v)
            };
            map.insert((*k).to_owned(), value);
        }
        serde_json::from_value(Value::Object(map)).unwrap()
    }

    #[test]
    fn a_task_form_reads_into_the_api_body_and_back() {
        let spec = json!({
            "key": "review", "name": "Review", "description": "", "task_type": "FORM",
            "assignment": "claim", "output_schema": {"type": "object"},
            "company_role_access": ["reviewers"],
        });
        let roles = ["reviewers".to_owned(), "legal".to_owned()];
        let values = FormValues::of(&spec, &[], &roles);
        assert_eq!(values.key, "review");
        assert!(values.roles[0].selected && !values.roles[1].selected);
        let body = body_of(
            Kind::Task,
            form(&[
                ("key", &values.key),
                ("name", &values.name),
                ("task_type", &values.task_type),
                ("assignment", "claim"),
                ("output_schema", &values.output_schema),
                ("company_role_access", "reviewers"),
                ("timeout_seconds", ""),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(body["output_schema"], json!({"type": "object"}));
        assert_eq!(body["company_role_access"], json!(["reviewers"]));
        assert_eq!(body["timeout_seconds"], Value::Null);
        assert_eq!(body["key"], json!("review"));
    }

    #[test]
    fn a_completer_of_assignment_reads_both_ways() {
        let tasks = [(
            "id-1".to_owned(),
            "review".to_owned(),
            "Review it".to_owned(),
        )];
        let spec = json!({"key": "edit", "assignment": {"completer_of": "review"}});
        let values = FormValues::of(&spec, &tasks, &[]);
        let chosen: Vec<&str> = values
            .assignments
            .iter()
            .filter(|c| c.selected)
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(chosen, ["completer_of:review"]);
        assert!(values.assignments.iter().any(|c| c.value == "requester"));
        let body = body_of(
            Kind::Task,
            form(&[("name", "Edit"), ("assignment", chosen[0])]),
            true,
        )
        .unwrap();
        assert_eq!(body["assignment"], json!({"completer_of": "review"}));
        let body = body_of(
            Kind::Task,
            form(&[("name", "Edit"), ("assignment", "requester")]),
            true,
        )
        .unwrap();
        assert_eq!(body["assignment"], json!("requester"));
    }

    #[test]
    fn bad_json_and_numbers_name_the_input() {
        let bad = body_of(Kind::Task, form(&[("output_schema", "{oops")]), true).unwrap_err();
        assert_eq!(
            bad.errors.get("output_schema"),
            "Is not JSON that can be read: line 1, column 2: key must be a string."
        );
        let bad = body_of(Kind::Transition, form(&[("priority", "high")]), true).unwrap_err();
        assert_eq!(bad.errors.get("priority"), "Must be a whole number.");
        let bad = body_of(Kind::Workflow, form(&[("ext_ref", "\njust a label")]), true);
        assert_eq!(
            bad.unwrap_err().errors.get("ext_ref"),
            "Line 2: write `label | description | uri`."
        );
    }

    #[test]
    fn a_refused_form_is_shown_as_typed() {
        let posted = form(&[
            ("name", "Check"),
            ("output_schema", "{oops"),
            ("company_role_access", "legal"),
            ("assignment", "completer_of:first"),
        ]);
        let roles = ["reviewers".to_owned(), "legal".to_owned()];
        let tasks = [("t1".to_owned(), "first".to_owned(), "First".to_owned())];
        let errors = FieldErrors::single("output_schema", "cannot be read");
        let values = FormValues::typed(&posted, &tasks, &roles, errors).in_form("add-task");
        assert_eq!(values.output_schema, "{oops");
        let chosen: Vec<&str> = values
            .assignments
            .iter()
            .filter(|c| c.selected)
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(chosen, ["completer_of:first"]);
        assert_eq!(values.name, "Check");
        assert!(!values.roles[0].selected && values.roles[1].selected);
        assert_eq!(
            values.aria("output_schema"),
            r#" aria-invalid="true" aria-describedby="add-task-output_schema-error""#
        );
        assert_eq!(values.aria("name"), "");
    }

    #[test]
    fn links_read_with_or_without_a_description() {
        let value =
            links("Policy | The rules | https://x.io/p\nRunbook | https://x.io/r\n").unwrap();
        assert_eq!(value[0]["desc"], "The rules");
        assert_eq!(value[1]["uri"], "https://x.io/r");
        assert!(links("just a label").is_err());
    }

    #[test]
    fn a_new_objects_empty_key_is_left_to_the_name() {
        let body = body_of(
            Kind::TicketType,
            form(&[
                ("title", "Laptop"),
                ("summary", "{{model}} for {{requester}}"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(body["summary"], "{{model}} for {{requester}}");
        assert!(body.get("key").is_none());
        assert_eq!(body["title"], "Laptop");
    }
}
