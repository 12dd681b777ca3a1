//! Template filters of our own; a page module that uses one brings `filters` into scope
//! (`use crate::pages::kit::filters;`), where askama looks for them.

use std::fmt::Display;

/// A status as people say it: `IN_PROGRESS` reads "In progress", `COMPLETED` "Done",
/// `blocked` "Blocked". Badges keep the status itself as their class, for the colours.
#[askama::filter_fn]
pub fn words(status: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(app::runtime::tickets::status_words(&status.to_string()))
}

/// A person's text as HTML: everything escaped, and web addresses and e-mail addresses
/// made links. Only `http(s)` and `mailto` links are made (never `javascript:`), opened in a
/// new tab that cannot reach back into this page, marked as user content for crawlers.
#[askama::filter_fn]
pub fn linked(
    text: impl Display,
    _: &dyn askama::Values,
) -> askama::Result<askama::filters::Safe<String>> {
    Ok(askama::filters::Safe(linked_html(&text.to_string())))
}

fn escaped(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|safe| safe.to_string())
        .unwrap_or_default()
}

pub fn linked_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 16);
    for span in linkify::LinkFinder::new().spans(text) {
        let part = span.as_str();
        let href = match span.kind() {
            Some(linkify::LinkKind::Url)
                if part.starts_with("https://") || part.starts_with("http://") =>
            {
                Some(part.to_owned())
            }
            Some(linkify::LinkKind::Email) => Some(format!("mailto:{part}")),
            _ => None,
        };
        match href {
            Some(href) => {
                html.push_str(&format!(
                    "<a href=\"{}\" rel=\"noopener noreferrer nofollow ugc\" target=\"_blank\">{}</a>",
                    escaped(&href),
                    escaped(part)
                ));
            }
            None => html.push_str(&escaped(part)),
        }
    }
    html
}

#[cfg(test)]
mod tests {
    use super::linked_html;

    #[test]
    fn links_are_made_and_everything_else_is_escaped() {
        let html = linked_html("see https://example.com/a?b=1&c=2 (or mail a@b.io)");
        assert!(html.starts_with("see <a href=\"https://example.com/a?b=1&#38;c=2\" rel=\"noopener noreferrer nofollow ugc\" target=\"_blank\">https://example.com/a?b=1&#38;c=2</a> (or mail <a href=\"mailto:a@b.io\""), "{html}");
        assert!(html.ends_with(">a@b.io</a>)"), "{html}");
        assert_eq!(
            linked_html("<script>alert(1)</script> javascript:alert(1)"),
            "&#60;script&#62;alert(1)&#60;/script&#62; javascript:alert(1)"
        );
        let quoted = linked_html("https://x.org/\"onmouseover=\"a");
        assert!(!quoted.contains("\"onmouseover"), "{quoted}");
    }
}
