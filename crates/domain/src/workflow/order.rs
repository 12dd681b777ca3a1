//! Forms list their fields in the order the designer wrote them. A parsed JSON object has no
//! order (`serde_json::Value` keeps a sorted map) and PostgreSQL's `jsonb` would drop it
//! anyway, so a design is read once in document order ([`InOrder`]) and each field of every
//! `properties` object is stamped with its position (`x-order`), which survives storage,
//! export and import. A `properties` object whose fields already carry an `x-order` is left
//! as the designer gave it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The keyword that holds a field's position among its siblings.
pub const ORDER: &str = "x-order";

/// A design document (JSON or YAML) whose schemas' fields carry their written order.
#[derive(Clone, Debug, PartialEq)]
pub struct InOrder(pub Value);

impl InOrder {
    pub fn into_inner(self) -> Value {
        self.0
    }
}

impl<'de> Deserialize<'de> for InOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Node::deserialize(deserializer).map(|node| Self(node.into_value()))
    }
}

/// The names of a schema's `properties` in the order a form shows them: by `x-order`, then
/// (for designs saved before fields were stamped) the `required` ones in their listed order,
/// then the rest by name.
pub fn field_order(schema: &Value) -> Vec<&str> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<(u64, usize, &str)> = props
        .iter()
        .map(|(name, def)| {
            let stamped = def.get(ORDER).and_then(Value::as_u64).unwrap_or(u64::MAX);
            let listed = required
                .iter()
                .position(|r| r == name)
                .unwrap_or(usize::MAX);
            (stamped, listed, name.as_str())
        })
        .collect();
    names.sort();
    names.into_iter().map(|(_, _, name)| name).collect()
}

/// A parsed value that still knows the order of its objects' keys.
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Leaf(Value),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(value) => value,
            Node::Array(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Object(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(key, node)| {
                        let value = match node {
                            Node::Object(fields) if key == "properties" => stamped(fields),
                            other => other.into_value(),
                        };
                        (key, value)
                    })
                    .collect(),
            ),
        }
    }
}

/// A `properties` object whose fields each know their position.
fn stamped(fields: Vec<(String, Node)>) -> Value {
    let given = fields.iter().any(|(_, field)| match field {
        Node::Object(keywords) => keywords.iter().any(|(k, _)| k == ORDER),
        _ => false,
    });
    let mut map = Map::new();
    for (position, (name, field)) in fields.into_iter().enumerate() {
        let mut value = field.into_value();
        if let (false, Value::Object(keywords)) = (given, &mut value) {
            keywords.insert(ORDER.to_owned(), Value::from(position));
        }
        map.insert(name, value);
    }
    Value::Object(map)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Leaf(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Leaf(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Leaf(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Leaf(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Leaf(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Leaf(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Leaf(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Leaf(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            // A repeated key keeps its last value, in its first place, as `Value` would.
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        Ok(Node::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_stamped_in_written_order_at_every_depth() {
        let text = r#"{"schema": {"type": "object", "required": ["zeta"], "properties": {
            "zeta": {"type": "string"}, "alpha": {"type": "object", "properties": {
                "b": {"type": "integer"}, "a": {"type": "integer"}}}, "mid": true}}}"#;
        let InOrder(doc) = serde_json::from_str(text).unwrap();
        let schema = &doc["schema"];
        assert_eq!(field_order(schema), ["zeta", "alpha", "mid"]);
        assert_eq!(field_order(&schema["properties"]["alpha"]), ["b", "a"]);
        // A boolean schema has nowhere to hold a position and sorts last.
        assert_eq!(schema["properties"]["mid"], json!(true));
    }

    #[test]
    fn yaml_keeps_its_order_too() {
        let text = "properties:\n  system: {type: string}\n  reason: {type: string}\n  access: {type: boolean}\n";
        let InOrder(schema) = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(field_order(&schema), ["system", "reason", "access"]);
    }

    #[test]
    fn a_designers_own_order_is_kept() {
        let text = r#"{"properties": {"a": {"x-order": 2}, "b": {"x-order": 1}, "c": {}}}"#;
        let InOrder(schema) = serde_json::from_str(text).unwrap();
        assert_eq!(field_order(&schema), ["b", "a", "c"]);
        assert_eq!(schema["properties"]["c"].get(ORDER), None);
    }

    #[test]
    fn unstamped_designs_list_required_fields_first_then_by_name() {
        let schema =
            json!({"required": ["z", "m"], "properties": {"a": {}, "m": {}, "z": {}, "b": {}}});
        assert_eq!(field_order(&schema), ["z", "m", "a", "b"]);
    }

    #[test]
    fn the_value_is_the_same_as_a_plain_parse_but_for_the_stamps() {
        let text = r#"{"n": [1, -2, 2.5, null, "s", {"k": false}], "properties": 3}"#;
        let InOrder(doc) = serde_json::from_str(text).unwrap();
        assert_eq!(doc, serde_json::from_str::<Value>(text).unwrap());
    }
}
