//! A ticket's summary line: what tells one ticket from another of the same type, written by
//! the designer as a template over the ticket's fields (`{{system}} access for
//! {{requester}}`) and filled in when the ticket is submitted.

use serde_json::Value;

/// The longest summary kept; longer ones end with an ellipsis.
pub const MAX_SUMMARY_CHARS: usize = 200;

/// The name a template uses for the person who submitted the ticket.
pub const REQUESTER: &str = "requester";

/// The placeholders of a template, in order (`{{ name }}`, spaces allowed), or the text of
/// the first one that is not closed.
pub fn placeholders(template: &str) -> Result<Vec<&str>, &str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(&rest[start..]);
        };
        names.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Fills `template` from `data` (top-level fields) and the requester's name. A field that
/// is missing or empty leaves nothing; text is kept to one line. An empty result (or an
/// empty template) gives `fallback`, the ticket type's title.
pub fn render(template: &str, data: &Value, requester: &str, fallback: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        if name == REQUESTER {
            out.push_str(requester);
        } else if let Some(value) = data.get(name) {
            out.push_str(&as_text(value));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let line = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return fallback.to_owned();
    }
    if line.chars().count() > MAX_SUMMARY_CHARS {
        let cut: String = line.chars().take(MAX_SUMMARY_CHARS - 1).collect();
        return format!("{}…", cut.trim_end());
    }
    line
}

fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(as_text).collect::<Vec<_>>().join(", "),
        // An object has no one-line form that would help anyone tell tickets apart.
        Value::Object(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_fields_and_the_requester() {
        let data = json!({"system": "Salesforce", "urgent": true, "seats": 3});
        assert_eq!(
            render(
                "{{system}} access for {{ requester }}",
                &data,
                "Ann Lee",
                "Access"
            ),
            "Salesforce access for Ann Lee"
        );
        assert_eq!(
            render("{{seats}} seats, urgent: {{urgent}}", &data, "", "x"),
            "3 seats, urgent: yes"
        );
    }

    #[test]
    fn missing_fields_leave_nothing_and_an_empty_line_is_the_type_title() {
        let data = json!({"note": "two\nlines"});
        assert_eq!(
            render("{{system}} – {{note}}", &data, "", "Access"),
            "– two lines"
        );
        assert_eq!(
            render("{{system}}", &data, "", "Access request"),
            "Access request"
        );
        assert_eq!(render("", &data, "", "Access request"), "Access request");
    }

    #[test]
    fn long_lines_are_cut() {
        let data = json!({"t": "x".repeat(500)});
        let line = render("{{t}}", &data, "", "");
        assert_eq!(line.chars().count(), MAX_SUMMARY_CHARS);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn lists_placeholders_and_finds_an_unclosed_one() {
        assert_eq!(placeholders("{{a}} and {{ b }}"), Ok(vec!["a", "b"]));
        assert_eq!(placeholders("{{a}} and {{b"), Err("{{b"));
        assert_eq!(placeholders("plain"), Ok(vec![]));
    }
}
