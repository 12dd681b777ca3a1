//! Question templates (issue 17): a text an agent sends into a conversation, with the JSON
//! Schema of the structured answer the requester gives through a form. Company admins keep
//! their company's; the platform's global ones come from `ticketflower load-templates`.

use chrono::{DateTime, Utc};
use domain::auth::Actor;
use domain::{CompanyId, ValidationErrors};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{App, AppError, Result};

/// The placeholders a template's text may hold, filled from the conversation.
pub const PLACEHOLDERS: [&str; 3] = ["subject", "reference", "requester.name"];

/// A template as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub id: Uuid,
    /// `true` for the platform's templates, which every company may use.
    pub global: bool,
    pub title: String,
    /// The text sent, with `{{subject}}`, `{{reference}}` and `{{requester.name}}`.
    pub text: String,
    /// JSON Schema (2020-12) of the answer: an object whose properties are the form's fields.
    pub schema: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::templates::Template> for TemplateView {
    fn from(t: store::templates::Template) -> Self {
        Self {
            id: t.id,
            global: t.company_id.is_none(),
            title: t.title,
            text: t.text,
            schema: t.schema,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// The templates the actor's company may use (company members).
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<TemplateView>> {
    let company = crate::access::company_of(actor)?;
    Ok(store::templates::list(app.db(), company)
        .await?
        .into_iter()
        .map(TemplateView::from)
        .collect())
}

pub async fn get(app: &App, actor: &Actor, id: Uuid) -> Result<TemplateView> {
    let company = crate::access::company_of(actor)?;
    Ok(store::templates::get(app.db(), company, id).await?.into())
}

/// Loads a template for a company's use, or says which field names an unknown one.
pub(crate) async fn usable(
    app: &App,
    company: CompanyId,
    id: Uuid,
) -> Result<store::templates::Template> {
    match store::templates::get(app.db(), company, id).await {
        Err(store::StoreError::NotFound) => {
            Err(ValidationErrors::single("template_id", "no such template").into())
        }
        other => Ok(other?),
    }
}

/// What a new template holds.
pub struct NewTemplate {
    pub title: String,
    pub text: String,
    pub schema: Value,
}

/// Checks a template: a title, a text whose placeholders are known, and a schema of an
/// object with properties that compiles.
fn check(app: &App, new: &NewTemplate) -> Result<()> {
    let mut errors = ValidationErrors::new();
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        errors.add("title", "must hold 1 to 200 characters");
    }
    if new.text.trim().is_empty() || new.text.chars().count() > 5_000 {
        errors.add("text", "must hold 1 to 5000 characters");
    }
    for placeholder in placeholders(&new.text) {
        if !PLACEHOLDERS.contains(&placeholder.as_str()) {
            errors.add(
                "text",
                format!(
                    "{{{{{placeholder}}}}} is not a placeholder; use {{{{subject}}}}, {{{{reference}}}} or {{{{requester.name}}}}"
                ),
            );
        }
    }
    let object = new.schema.get("type") == Some(&json!("object"))
        && new.schema.get("properties").is_some_and(Value::is_object);
    if !object {
        errors.add("schema", "must be an object schema with properties");
    } else if let Err(problems) =
        domain::workflow::CompiledSchema::compile(&new.schema, &crate::design::limits(app))
    {
        for problem in problems {
            errors.add(format!("schema{}", problem.location), problem.message);
        }
    }
    errors.into_result()?;
    Ok(())
}

/// The names between `{{` and `}}` in a text.
fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        found.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    found
}

/// A template's text with the conversation's values in place of its placeholders; the
/// result is plain text, escaped wherever it is shown like any message.
pub(crate) fn render(text: &str, subject: &str, reference: &str, requester: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match after[..end].trim() {
            "subject" => out.push_str(subject),
            "reference" => out.push_str(reference),
            "requester.name" => out.push_str(requester),
            other => {
                out.push_str("{{");
                out.push_str(other);
                out.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Creates a template: a company admin's for their company, platform staff's (outside any
/// company) for every company.
pub async fn create(app: &App, actor: &Actor, new: NewTemplate) -> Result<TemplateView> {
    let company = if crate::access::is_staff(actor) {
        None
    } else {
        Some(crate::access::require_admin(actor)?)
    };
    check(app, &new)?;
    let mut tx = app.db().begin().await?;
    let created = store::templates::insert(
        &mut tx,
        company,
        new.title.trim(),
        new.text.trim(),
        &new.schema,
    )
    .await?;
    app.commit(tx).await?;
    Ok(created.into())
}

/// Deletes one of the company's templates (admins); the messages that used it keep their
/// text and answers.
pub async fn delete(app: &App, actor: &Actor, id: Uuid) -> Result<()> {
    let company = crate::access::require_admin(actor)?;
    let mut tx = app.db().begin().await?;
    if !store::templates::delete(&mut tx, company, id).await? {
        return Err(AppError::NotFound);
    }
    app.commit(tx).await?;
    Ok(())
}

/// The answer as text, one line per field in the schema's order, labelled by the fields'
/// titles: what a reader of the transcript (or a client that ignores `answers`) sees.
pub(crate) fn summary(title: &str, schema: &Value, answers: &Value) -> String {
    let mut lines = vec![format!("Answered \"{title}\":")];
    let properties = schema.get("properties").and_then(Value::as_object);
    let order = domain::workflow::order::field_order(schema);
    for key in order {
        let Some(value) = answers.get(key) else {
            continue;
        };
        let label = properties
            .and_then(|p| p.get(key))
            .and_then(|p| p.get("title"))
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_owned();
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(true) => "yes".into(),
            Value::Bool(false) => "no".into(),
            other => other.to_string(),
        };
        lines.push(format!("{label}: {text}"));
    }
    lines.join("\n")
}

/// The ten templates the chat service shipped, for `ticketflower load-templates`.
pub fn defaults() -> Vec<NewTemplate> {
    let choice =
        |title: &str, options: &[&str]| json!({"type": "string", "title": title, "enum": options});
    let text =
        |title: &str| json!({"type": "string", "title": title, "minLength": 1, "maxLength": 2000});
    let date = |title: &str| json!({"type": "string", "title": title, "format": "date"});
    let percent =
        |title: &str| json!({"type": "number", "title": title, "minimum": 0, "maximum": 100});
    let object = |properties: Value, required: &[&str]| json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false});
    let template = |title: &str, text: &str, schema: Value| NewTemplate {
        title: title.into(),
        text: text.into(),
        schema,
    };
    vec![
        template(
            "Anomaly Behavior Report",
            "Hello {{requester.name}}, please describe the anomalous behaviour you observed ({{reference}}).",
            object(
                json!({"what": text("What did you observe?"), "first_seen": date("First seen"), "severity": choice("Severity", &["low", "medium", "high", "critical"])}),
                &["what", "severity"],
            ),
        ),
        template(
            "Log Upload Request",
            "To investigate {{reference}}, please tell us which logs you can share and for which period.",
            object(
                json!({"system": text("System or host"), "from": date("From"), "to": date("To"), "notes": text("Notes")}),
                &["system", "from", "to"],
            ),
        ),
        template(
            "CVE Patch Status",
            "Please report the patch status of the vulnerability concerned by {{reference}}.",
            object(
                json!({"cve": {"type": "string", "title": "CVE id", "pattern": "^CVE-[0-9]{4}-[0-9]{4,}$"}, "status": choice("Status", &["not_started", "in_progress", "patched", "not_affected"]), "eta": date("Expected on")}),
                &["cve", "status"],
            ),
        ),
        template(
            "Action Confirmation",
            "{{requester.name}}, please confirm that we may proceed with the action discussed in \"{{subject}}\".",
            object(
                json!({"confirmed": {"type": "boolean", "title": "I confirm"}, "comment": text("Comment")}),
                &["confirmed"],
            ),
        ),
        template(
            "SLA Escalation Request",
            "Tell us why {{reference}} needs to be escalated and what it affects.",
            object(
                json!({"reason": text("Reason"), "impact": choice("Business impact", &["low", "medium", "high", "critical"])}),
                &["reason", "impact"],
            ),
        ),
        template(
            "Resource Usage Report",
            "Please report the resource usage of the system concerned by {{reference}}.",
            object(
                json!({"cpu": percent("CPU (%)"), "memory": percent("Memory (%)"), "disk": percent("Disk (%)")}),
                &["cpu", "memory", "disk"],
            ),
        ),
        template(
            "Service Degradation Report",
            "Please describe the service degradation you are experiencing ({{reference}}).",
            object(
                json!({"service": text("Service"), "since": date("Since"), "users_affected": {"type": "integer", "title": "Users affected", "minimum": 0}}),
                &["service", "since"],
            ),
        ),
        template(
            "IOC Hunting Request",
            "Please give us the indicator of compromise to hunt for ({{reference}}).",
            object(
                json!({"indicator": text("Indicator"), "kind": choice("Kind", &["ip", "domain", "url", "hash", "email"]), "seen_internally": {"type": "boolean", "title": "Seen inside the network"}}),
                &["indicator", "kind"],
            ),
        ),
        template(
            "Access Permission Request",
            "{{requester.name}}, which access do you need, and why?",
            object(
                json!({"resource": text("Resource"), "access": choice("Access", &["read", "write", "admin"]), "justification": text("Justification"), "until": date("Needed until")}),
                &["resource", "access", "justification"],
            ),
        ),
        template(
            "User Experience Summary",
            "Thank you, {{requester.name}}. How was your experience with \"{{subject}}\"?",
            object(
                json!({"rating": {"type": "integer", "title": "Rating (1 to 5)", "minimum": 1, "maximum": 5}, "summary": text("What could we do better?")}),
                &["rating"],
            ),
        ),
    ]
}

/// Loads the default templates as global ones, skipping those already there (by title);
/// how many were added.
pub async fn load_defaults(app: &App) -> Result<usize> {
    let mut added = 0;
    for template in defaults() {
        if store::templates::global_by_title(app.db(), &template.title)
            .await?
            .is_some()
        {
            continue;
        }
        check(app, &template)?;
        let mut tx = app.db().begin().await?;
        store::templates::insert(
            &mut tx,
            None,
            &template.title,
            &template.text,
            &template.schema,
        )
        .await?;
        app.commit(tx).await?;
        added += 1;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_left_alone() {
        assert_eq!(
            render(
                "Hi {{requester.name}}, about {{ subject }} ({{x}})",
                "Printer",
                "",
                "Rita"
            ),
            "Hi Rita, about Printer ({{x}})"
        );
        assert_eq!(placeholders("a {{b}} c {{ d.e }}"), ["b", "d.e"]);
    }
}
