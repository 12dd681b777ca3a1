//! Input and output transforms of action tasks: a JSON object mapping each key of the result
//! to an RFC 9535 JSONPath over the source document (`{"total": "$.order.amount"}`).
//!
//! [`Transform::apply`] builds an object with, for each key, by the number of nodes the path
//! selects: one → that value; several → an array of them in document order; none → the key is
//! left out, so the target's schema (`required`) decides whether that is an error and "absent"
//! stays distinguishable from an explicit `null`. A wildcard path that happens to select one
//! node therefore yields the value itself; designers who always want an array should wrap it
//! downstream or select the array (`$.items`) instead of its members (`$.items[*]`).

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use super::Limits;
use super::problem::{Problem, pointer};

/// A parsed transform; keys keep their JSON object order.
#[derive(Clone, Debug, PartialEq)]
pub struct Transform {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    key: String,
    source: String,
    path: JsonPath,
}

impl Transform {
    /// Parses a transform object, reporting every problem at `/<key>`.
    pub fn parse(map: &Value, limits: &Limits) -> Result<Self, Vec<Problem>> {
        let Some(map) = map.as_object() else {
            return Err(vec![Problem::new(
                "",
                "must be an object mapping keys to JSONPath expressions",
            )]);
        };
        if map.len() > limits.max_transform_entries {
            return Err(vec![Problem::new(
                "",
                format!("has more than {} entries", limits.max_transform_entries),
            )]);
        }
        let mut problems = Vec::new();
        let mut entries = Vec::with_capacity(map.len());
        for (key, source) in map {
            let at = pointer("", key);
            if key.is_empty() || key.chars().count() > limits.max_name_len {
                problems.push(Problem::new(
                    &at,
                    format!("key must have 1 to {} characters", limits.max_name_len),
                ));
            }
            match parse_path(source, limits) {
                Ok((path, source)) => entries.push(Entry {
                    key: key.clone(),
                    source,
                    path,
                }),
                Err(message) => problems.push(Problem::new(at, message)),
            }
        }
        if problems.is_empty() {
            Ok(Self { entries })
        } else {
            Err(problems)
        }
    }

    /// Builds the result object from `data`; see the module docs for the shape.
    pub fn apply(&self, data: &Value) -> Value {
        let mut out = Map::new();
        for entry in &self.entries {
            let mut nodes = entry.path.query(data).all();
            let value = match nodes.len() {
                0 => continue,
                1 => nodes.swap_remove(0).clone(),
                _ => Value::Array(nodes.into_iter().cloned().collect()),
            };
            out.insert(entry.key.clone(), value);
        }
        Value::Object(out)
    }

    /// The JSON this transform was parsed from.
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.entries
                .iter()
                .map(|entry| (entry.key.clone(), Value::String(entry.source.clone())))
                .collect(),
        )
    }

    /// The keys of the result object.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.key.as_str())
    }
}

fn parse_path(source: &Value, limits: &Limits) -> Result<(JsonPath, String), String> {
    let Some(source) = source.as_str() else {
        return Err("must be a JSONPath expression string such as \"$.amount\"".to_owned());
    };
    if source.chars().count() > limits.max_jsonpath_len {
        return Err(format!(
            "JSONPath is longer than {} characters",
            limits.max_jsonpath_len
        ));
    }
    if nesting_depth(source) > limits.max_jsonpath_depth {
        return Err(format!(
            "JSONPath nests brackets and parentheses more than {} levels deep",
            limits.max_jsonpath_depth
        ));
    }
    if ends_inside_unicode_escape(source) {
        return Err("is not a valid JSONPath (RFC 9535): unfinished \\u escape".to_owned());
    }
    // Backstop for other inputs that may reach the same panic: a designer's typo must be a
    // located problem, not a crashed request.
    match std::panic::catch_unwind(|| JsonPath::parse(source)) {
        Ok(Ok(path)) => Ok((path, source.to_owned())),
        Ok(Err(error)) => Err(format!("is not a valid JSONPath (RFC 9535): {error}")),
        Err(_) => Err("is not a valid JSONPath (RFC 9535)".to_owned()),
    }
}

/// The deepest nesting of `[` and `(` outside string literals. Unbalanced input counts too:
/// the parser's backtracking is exponential in it either way (found by the `transform` fuzz
/// target: 24 unclosed `[?@.q` filters took minutes).
fn nesting_depth(path: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote = None;
    let mut escaped = false;
    for c in path.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ']' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

/// serde_json_path 0.7.2 panics (a streaming nom parser reports `Incomplete`) when the input
/// ends inside a `\u` escape, e.g. `$['\u` or `$['\uD800\uD`. Found by the `transform` fuzz
/// target. No valid path ends that way, so such input is refused before the parser sees it.
fn ends_inside_unicode_escape(path: &str) -> bool {
    let without_hex = path.trim_end_matches(|c: char| c.is_ascii_hexdigit());
    path.len() - without_hex.len() < 4 && without_hex.ends_with("\\u")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn transform(value: Value) -> Transform {
        Transform::parse(&value, &Limits::default()).unwrap()
    }

    #[test]
    fn applies_by_node_count() {
        let t = transform(json!({
            "total": "$.order.amount",
            "skus": "$.order.items[*].sku",
            "first": "$.order.items[0].sku",
            "nothing": "$.order.missing",
        }));
        let data = json!({"order": {"amount": 12.5, "items": [{"sku": "a"}, {"sku": "b"}]}});
        assert_eq!(
            t.apply(&data),
            json!({"total": 12.5, "skus": ["a", "b"], "first": "a"})
        );
        assert_eq!(t.apply(&json!("not an object")), json!({}));
        assert_eq!(
            t.keys().collect::<Vec<_>>(),
            ["first", "nothing", "skus", "total"]
        );
    }

    #[test]
    fn round_trips() {
        let value = json!({"a": "$.x", "b": "$['y z'][?@.n > 1]"});
        assert_eq!(transform(value.clone()).to_value(), value);
    }

    #[test]
    fn reports_every_bad_entry_by_key() {
        let long = format!("$.{}", "a".repeat(300));
        let problems = Transform::parse(
            &json!({"ok": "$.a", "bad/key": "$[", "num": 3, "long": long, "": "$"}),
            &Limits::default(),
        )
        .unwrap_err();
        let mut locations: Vec<_> = problems.iter().map(|p| p.location.as_str()).collect();
        locations.sort();
        assert_eq!(locations, ["/", "/bad~1key", "/long", "/num"]);
        assert!(Transform::parse(&json!(["$.a"]), &Limits::default()).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        assert_eq!(nesting_depth("$.a[?count(@.b[?@.c == 1]) > 0]"), 3);
        assert_eq!(nesting_depth("$['[[[[[(((']"), 1);
        assert_eq!(nesting_depth(r"$['\'[[[[']"), 1);
        let limits = Limits::default();
        assert!(
            Transform::parse(&json!({"k": "$.a[?count(@.b[?@.c == 1]) > 0]"}), &limits).is_ok()
        );
        let hostile = format!("${}", "[?@.q".repeat(24));
        let problems = Transform::parse(&json!({ "k": hostile }), &limits).unwrap_err();
        assert_eq!(problems[0].location, "/k");
    }

    #[test]
    fn unfinished_unicode_escapes_are_errors_not_panics() {
        for path in [
            r"$['\u",
            r#"$["\u"#,
            r"$['\uD",
            r"$['\uD800\u",
            r"$['\uD800\uD",
            r"$[?@ == '\u",
            r#"$["'a',*]['$.osk\\\u"#,
        ] {
            let problems = Transform::parse(&json!({ "k": path }), &Limits::default()).unwrap_err();
            assert_eq!(problems[0].location, "/k", "{path}");
            assert!(ends_inside_unicode_escape(path), "{path}");
        }
        assert!(Transform::parse(&json!({"k": r"$['\u00e9']"}), &Limits::default()).is_ok());
    }
}
