//! Pictures of a workflow for designers: Mermaid source for docs and exports, and a
//! self-contained SVG for the pages. Both render designer-written text, so every piece of it
//! is escaped for its target (Mermaid entity codes, XML entities): a task named
//! `</text><script>` must show as text, never become markup. Both accept invalid designs too,
//! so a designer can look at what they are fixing: unknown task references are left out.

use std::fmt::Write;

use super::condition::Condition;
use super::graph::Graph;
use super::{Limits, TaskType, WorkflowSpec};

/// Visible characters of a node label; the full text is in the SVG node's tooltip.
const NODE_LABEL_CHARS: usize = 26;
const EDGE_LABEL_CHARS: usize = 40;
const TOOLTIP_CHARS: usize = 300;

/// Node ids: 0 is the submission, then one per task, then one per distinct end status.
struct Diagram<'a> {
    spec: &'a WorkflowSpec,
    ends: Vec<&'a str>,
    edges: Vec<Edge>,
}

struct Edge {
    from: usize,
    to: usize,
    label: Option<String>,
}

impl<'a> Diagram<'a> {
    fn new(spec: &'a WorkflowSpec, graph: &Graph<'_>) -> Self {
        let mut ends: Vec<&str> = Vec::new();
        let mut edges = Vec::new();
        let tasks = spec.tasks.len();
        for transition in &spec.transitions {
            let from = match transition.from_task.as_deref() {
                None => 0,
                Some(key) => match graph.task(key) {
                    Some(task) => task + 1,
                    None => continue,
                },
            };
            let to = if let Some(key) = transition.to_task.as_deref() {
                match graph.task(key) {
                    Some(task) => task + 1,
                    None => continue,
                }
            } else if let Some(status) = transition.to_status.as_deref() {
                let end = ends.iter().position(|&s| s == status).unwrap_or_else(|| {
                    ends.push(status);
                    ends.len() - 1
                });
                tasks + 1 + end
            } else {
                continue;
            };
            let label = transition.condition.as_ref().map(|condition| {
                Condition::parse(condition, &Limits::default())
                    .map_or_else(|_| "invalid condition".to_owned(), |c| c.describe())
            });
            edges.push(Edge { from, to, label });
        }
        Self { spec, ends, edges }
    }

    fn node_count(&self) -> usize {
        1 + self.spec.tasks.len() + self.ends.len()
    }

    /// The node's kind (for shape and colour) and its full label.
    fn node(&self, id: usize) -> (NodeKind, &str) {
        let tasks = &self.spec.tasks;
        match id {
            0 => (NodeKind::Start, "submitted"),
            id if id <= tasks.len() => {
                let task = &tasks[id - 1];
                (NodeKind::Task(task.task_type), task.name.as_str())
            }
            id => (
                NodeKind::End,
                self.ends.get(id - 1 - tasks.len()).copied().unwrap_or(""),
            ),
        }
    }
}

#[derive(Clone, Copy)]
enum NodeKind {
    Start,
    Task(TaskType),
    End,
}

impl NodeKind {
    fn class(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Task(TaskType::Form) => "form",
            Self::Task(TaskType::SyncAction) => "sync",
            Self::Task(TaskType::AsyncAction) => "async",
            Self::End => "finish",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            Self::Start => "#e5e7eb",
            Self::Task(TaskType::Form) => "#dbeafe",
            Self::Task(TaskType::SyncAction) => "#dcfce7",
            Self::Task(TaskType::AsyncAction) => "#fef3c7",
            Self::End => "#374151",
        }
    }
}

/// Mermaid flowchart source: tasks shaped by type (form: box, sync action: subroutine,
/// async action: parallelogram), end statuses as stadiums, edges labelled with conditions.
pub fn to_mermaid(spec: &WorkflowSpec) -> String {
    let graph = Graph::new(spec);
    let diagram = Diagram::new(spec, &graph);
    let mut out = String::from("flowchart TD\n");
    for id in 0..diagram.node_count() {
        let (kind, label) = diagram.node(id);
        let label = mermaid_text(label, NODE_LABEL_CHARS);
        let (open, close) = match kind {
            NodeKind::Start => ("((\"", "\"))"),
            NodeKind::Task(TaskType::Form) => ("[\"", "\"]"),
            NodeKind::Task(TaskType::SyncAction) => ("[[\"", "\"]]"),
            NodeKind::Task(TaskType::AsyncAction) => ("[/\"", "\"/]"),
            NodeKind::End => ("([\"", "\"])"),
        };
        let _ = writeln!(out, "    n{id}{open}{label}{close}:::{}", kind.class());
    }
    for edge in &diagram.edges {
        match &edge.label {
            Some(label) => {
                let label = mermaid_text(label, EDGE_LABEL_CHARS);
                let _ = writeln!(out, "    n{} -->|\"{label}\"| n{}", edge.from, edge.to);
            }
            None => {
                let _ = writeln!(out, "    n{} --> n{}", edge.from, edge.to);
            }
        }
    }
    for kind in [
        NodeKind::Start,
        NodeKind::Task(TaskType::Form),
        NodeKind::Task(TaskType::SyncAction),
        NodeKind::Task(TaskType::AsyncAction),
    ] {
        let _ = writeln!(out, "    classDef {} fill:{}", kind.class(), kind.fill());
    }
    out.push_str("    classDef finish fill:#374151,color:#ffffff\n");
    out
}

/// Text inside a quoted Mermaid label: Mermaid decodes `#name;` entity codes, so every
/// character that could end the label or start markup becomes one.
fn mermaid_text(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for c in clip(text, max_chars).chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const NODE_WIDTH: f64 = 200.0;
const NODE_HEIGHT: f64 = 44.0;
const GAP_X: f64 = 40.0;
const GAP_Y: f64 = 70.0;
const MARGIN: f64 = 20.0;
/// How far edges that go back up (loops) bulge to the right.
const LOOP_BULGE: f64 = 70.0;

/// How far one ticket got through its workflow, for drawing it on the graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Keys of tasks that were completed at least once.
    pub done: Vec<String>,
    /// Keys of tasks that are running now (open, held, waiting or failed).
    pub active: Vec<String>,
    /// The end status the workflow reached, once it has ended.
    pub ended: Option<String>,
}

/// How a node is drawn on a ticket's graph.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reached {
    Untouched,
    Done,
    Active,
}

impl Reached {
    fn class(self) -> &'static str {
        match self {
            Self::Untouched => "",
            Self::Done => " done",
            Self::Active => " active",
        }
    }

    fn stroke(self) -> (&'static str, f64) {
        match self {
            Self::Untouched => ("#9ca3af", 1.0),
            Self::Done => ("#1a7f37", 3.0),
            Self::Active => ("#7a3ea8", 4.0),
        }
    }

    fn tooltip(self) -> &'static str {
        match self {
            Self::Untouched => "",
            Self::Done => " — done",
            Self::Active => " — in progress",
        }
    }
}

/// A self-contained SVG: layers from the submission down (breadth-first), unreachable tasks
/// in a layer of their own, end statuses at the bottom.
pub fn to_svg(spec: &WorkflowSpec) -> String {
    draw_svg(spec, None)
}

/// [`to_svg`] with one ticket's progress marked: done tasks and the reached end outlined
/// green, running tasks purple (classes `done` and `active` on their nodes).
pub fn to_svg_progress(spec: &WorkflowSpec, progress: &Progress) -> String {
    draw_svg(spec, Some(progress))
}

fn draw_svg(spec: &WorkflowSpec, progress: Option<&Progress>) -> String {
    let graph = Graph::new(spec);
    let diagram = Diagram::new(spec, &graph);

    let task_layers = graph.layers();
    let deepest = task_layers.iter().flatten().copied().max().unwrap_or(0);
    let unreachable_layer = deepest + 1;
    let end_layer = unreachable_layer + usize::from(task_layers.iter().any(Option::is_none));
    let layer_of = |id: usize| match id {
        0 => 0,
        id if id <= spec.tasks.len() => task_layers[id - 1].unwrap_or(unreachable_layer),
        _ => end_layer,
    };

    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); end_layer + 1];
    for id in 0..diagram.node_count() {
        rows[layer_of(id)].push(id);
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let width = 2.0 * MARGIN + widest * NODE_WIDTH + (widest - 1.0) * GAP_X + LOOP_BULGE;
    let height = 2.0 * MARGIN + rows.len() as f64 * (NODE_HEIGHT + GAP_Y) - GAP_Y;
    let mut centre = vec![(0.0, 0.0); diagram.node_count()];
    for (layer, row) in rows.iter().enumerate() {
        let row_width = row.len() as f64 * (NODE_WIDTH + GAP_X) - GAP_X;
        let left = (width - LOOP_BULGE - row_width) / 2.0;
        for (slot, &id) in row.iter().enumerate() {
            centre[id] = (
                left + slot as f64 * (NODE_WIDTH + GAP_X) + NODE_WIDTH / 2.0,
                MARGIN + layer as f64 * (NODE_HEIGHT + GAP_Y) + NODE_HEIGHT / 2.0,
            );
        }
    }

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" font-family="system-ui, sans-serif" font-size="13"><title>{}</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#6b7280"/></marker></defs>"##,
        xml_text(&spec.title, TOOLTIP_CHARS)
    );
    for edge in &diagram.edges {
        let (x1, y1) = centre[edge.from];
        let (x2, y2) = centre[edge.to];
        let (path, label_at) = if layer_of(edge.to) > layer_of(edge.from) {
            let (top, bottom) = (y1 + NODE_HEIGHT / 2.0, y2 - NODE_HEIGHT / 2.0);
            let bend = (bottom - top) / 2.0;
            (
                format!(
                    "M{x1} {top}C{x1} {} {x2} {} {x2} {bottom}",
                    top + bend,
                    bottom - bend
                ),
                ((x1 + x2) / 2.0, (top + bottom) / 2.0),
            )
        } else {
            let (right1, right2) = (x1 + NODE_WIDTH / 2.0, x2 + NODE_WIDTH / 2.0);
            let bulge = right1.max(right2) + LOOP_BULGE;
            (
                format!("M{right1} {y1}C{bulge} {y1} {bulge} {y2} {right2} {y2}"),
                (bulge - LOOP_BULGE / 4.0, (y1 + y2) / 2.0),
            )
        };
        let _ = write!(
            out,
            r##"<path d="{path}" fill="none" stroke="#6b7280" stroke-width="1.5" marker-end="url(#arrow)"/>"##
        );
        if let Some(label) = &edge.label {
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#374151" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                label_at.0,
                label_at.1,
                xml_text(label, EDGE_LABEL_CHARS)
            );
        }
    }
    for (id, &(x, y)) in centre.iter().enumerate() {
        let (kind, label) = diagram.node(id);
        let reached = match (progress, kind) {
            (None, _) => Reached::Untouched,
            (Some(_), NodeKind::Start) => Reached::Done,
            (Some(p), NodeKind::Task(_)) => {
                let key = &spec.tasks[id - 1].key;
                if p.active.contains(key) {
                    Reached::Active
                } else if p.done.contains(key) {
                    Reached::Done
                } else {
                    Reached::Untouched
                }
            }
            (Some(p), NodeKind::End) if p.ended.as_deref() == Some(label) => Reached::Done,
            (Some(_), NodeKind::End) => Reached::Untouched,
        };
        let (stroke, stroke_width) = reached.stroke();
        let radius = match kind {
            NodeKind::Start | NodeKind::End => NODE_HEIGHT / 2.0,
            NodeKind::Task(_) => 8.0,
        };
        let colour = if matches!(kind, NodeKind::End) {
            "#ffffff"
        } else {
            "#111827"
        };
        let tooltip = match kind {
            NodeKind::Task(task_type) => format!("{label} ({task_type})"),
            _ => label.to_owned(),
        };
        let _ = write!(
            out,
            r##"<g class="{}{}"><title>{}{}</title><rect x="{}" y="{}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="{radius}" fill="{}" stroke="{stroke}" stroke-width="{stroke_width}"/><text x="{x}" y="{}" text-anchor="middle" fill="{colour}">{}</text></g>"##,
            kind.class(),
            reached.class(),
            xml_text(&tooltip, TOOLTIP_CHARS),
            reached.tooltip(),
            x - NODE_WIDTH / 2.0,
            y - NODE_HEIGHT / 2.0,
            kind.fill(),
            y + 4.5,
            xml_text(label, NODE_LABEL_CHARS),
        );
    }
    out.push_str("</svg>");
    out
}

/// Text safe inside an XML element or attribute value. Characters XML 1.0 forbids even as
/// references (most control characters, U+FFFE, U+FFFF) become U+FFFD.
fn xml_text(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for c in clip(text, max_chars).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max_chars` characters, ending in an ellipsis when cut.
fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(name: &str) -> WorkflowSpec {
        serde_json::from_value(json!({
            "title": "Purchase <approval>",
            "fields": {},
            "tasks": [
                {"key": "review", "name": name, "task_type": "FORM"},
                {"key": "order", "name": "Order", "task_type": "SYNC_ACTION"},
                {"key": "wait", "name": "Wait", "task_type": "ASYNC_ACTION"},
            ],
            "transitions": [
                {"key": "s", "to_task": "review"},
                {"key": "big", "from_task": "review", "to_task": "order",
                 "condition": {"amount": {"$gt": 1000}}},
                {"key": "rework", "from_task": "order", "to_task": "review"},
                {"key": "no", "from_task": "review", "to_status": "REJECTED",
                 "condition": {"note": "<b>\"x\"</b>"}},
                {"key": "done", "from_task": "order", "to_status": "COMPLETED"},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn mermaid_has_shapes_labels_and_ends() {
        let mermaid = to_mermaid(&spec("Review"));
        for expected in [
            "n0((\"submitted\")):::start",
            "n1[\"Review\"]:::form",
            "n2[[\"Order\"]]:::sync",
            "n3[/\"Wait\"/]:::async",
            "n4([\"REJECTED\"]):::finish",
            "n1 -->|\"amount #gt; 1000\"| n2",
            "n2 --> n1",
            "n1 -->|\"note = #quot;#lt;b#gt;\\#quot;x\\#quot;#lt;/b#gt;#quot;\"| n4",
        ] {
            assert!(mermaid.contains(expected), "{expected} in\n{mermaid}");
        }
    }

    #[test]
    fn mermaid_labels_cannot_break_out() {
        let mermaid = to_mermaid(&spec("a\"] --> evil[\"<img src=x onerror=alert(1)>`|#"));
        assert!(!mermaid.contains("<img"));
        assert!(!mermaid.contains("\"] -->"));
        assert!(mermaid.contains("n1[\"a#quot;] --#gt; evil[#quot;#lt;img src=x …\"]"));
    }

    #[test]
    fn svg_escapes_every_user_text() {
        let svg = to_svg(&spec("</text><script>alert('x')</script>\u{0}&"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains('\u{0}'));
        assert!(svg.contains(
            "&lt;/text&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\u{FFFD}&amp; (FORM)"
        ));
        assert!(svg.contains("<title>Purchase &lt;approval&gt;</title>"));
        assert!(svg.contains("note = &quot;&lt;b&gt;\\&quot;x\\&quot;&lt;/b&gt;&quot;"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<g class=").count(), 6);
        assert_eq!(svg.matches("marker-end=").count(), 5);
    }

    #[test]
    fn svg_marks_a_tickets_progress() {
        let spec = spec("Review");
        let plain = to_svg(&spec);
        assert!(!plain.contains(" done\"") && !plain.contains(" active\""));
        let progress = Progress {
            done: vec!["review".into(), "order".into()],
            active: vec!["order".into()],
            ended: None,
        };
        let svg = to_svg_progress(&spec, &progress);
        assert!(svg.contains("<g class=\"start done\"><title>submitted — done</title>"));
        assert!(svg.contains("<g class=\"form done\"><title>Review (FORM) — done</title>"));
        // Running again after a loop: active wins over done.
        assert!(
            svg.contains(
                "<g class=\"sync active\"><title>Order (SYNC_ACTION) — in progress</title>"
            )
        );
        assert!(svg.contains("<g class=\"async\"><title>Wait (ASYNC_ACTION)</title>"));
        assert!(svg.contains("<g class=\"finish\"><title>REJECTED</title>"));

        let ended = Progress {
            done: vec!["review".into()],
            active: Vec::new(),
            ended: Some("REJECTED".into()),
        };
        let svg = to_svg_progress(&spec, &ended);
        assert!(svg.contains("<g class=\"finish done\"><title>REJECTED — done</title>"));
        assert!(svg.contains("<g class=\"finish\"><title>COMPLETED</title>"));
    }

    #[test]
    fn clips_long_labels() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
