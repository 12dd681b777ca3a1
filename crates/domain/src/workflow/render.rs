//! Pictures of a workflow for designers: Mermaid source for docs and exports, and a
//! self-contained SVG for the pages. Both render designer-written text, so every piece of it
//! is escaped for its target (Mermaid entity codes, XML entities): a task named
//! `</text><script>` must show as text, never become markup. Both accept invalid designs too,
//! so a designer can look at what they are fixing: unknown task references are left out.
//!
//! On the SVG an edge shows a short label (its condition when that is short, else the
//! transition's key) and carries the full condition as a hover title. Labels are boxes placed
//! where they hit no node and no other label, and the canvas grows to hold them: drawn at the
//! edge's midpoint, conditions of a task with many exits used to pile up on each other.

use std::fmt::Write;

use super::condition::Condition;
use super::graph::Graph;
use super::{Limits, TaskType, WorkflowSpec};

/// Visible characters of a node label; the full text is in the SVG node's tooltip.
const NODE_LABEL_CHARS: usize = 26;
const EDGE_LABEL_CHARS: usize = 40;
/// Visible characters of an SVG edge label; longer conditions show the transition key.
const SVG_EDGE_LABEL_CHARS: usize = 30;
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
    key: String,
    label: Option<String>,
}

impl Edge {
    /// The short text drawn on the SVG edge, if any.
    fn shown_label(&self) -> Option<String> {
        let label = self.label.as_deref()?;
        let short = if label.chars().count() <= SVG_EDGE_LABEL_CHARS || self.key.is_empty() {
            label
        } else {
            self.key.as_str()
        };
        Some(shown_text(short, SVG_EDGE_LABEL_CHARS))
    }

    /// The edge's hover text: its key and full condition.
    fn tooltip(&self) -> String {
        match (self.key.is_empty(), &self.label) {
            (_, None) => self.key.clone(),
            (true, Some(label)) => label.clone(),
            (false, Some(label)) => format!("{}: {label}", self.key),
        }
    }
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
            edges.push(Edge {
                from,
                to,
                key: transition.key.clone(),
                label,
            });
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
const EDGE_FONT_SIZE: f64 = 11.0;
/// Space between an edge label's text and the edge of its background box.
const LABEL_PAD_X: f64 = 4.0;
const LABEL_PAD_Y: f64 = 2.0;
/// Space kept free between a label box and any node or other label.
const LABEL_CLEARANCE: f64 = 3.0;
/// Size of the box kept clear around an arrowhead, so no label hides where an edge goes.
const ARROW_BOX: f64 = 12.0;
/// Distance between the spots tried around an edge once its own curve is crowded.
const LABEL_SEARCH_STEP: f64 = 8.0;

type Point = (f64, f64);
/// A cubic Bézier curve: start, two control points, end.
type Curve = [Point; 4];
/// Width and height of a box.
type Size = (f64, f64);

/// An axis-aligned box on the canvas: a node, or the background of an edge label.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

impl Rect {
    /// A box centred near `(x, y)`, its corner on whole pixels so the SVG stays readable.
    fn centred((x, y): Point, width: f64, height: f64) -> Self {
        Self {
            x: (x - width / 2.0).round(),
            y: (y - height / 2.0).round(),
            width,
            height,
        }
    }

    fn right(&self) -> f64 {
        self.x + self.width
    }

    fn bottom(&self) -> f64 {
        self.y + self.height
    }

    /// Whether the two boxes come closer than `gap`.
    fn crowds(&self, other: &Rect, gap: f64) -> bool {
        self.x < other.right() + gap
            && other.x < self.right() + gap
            && self.y < other.bottom() + gap
            && other.y < self.bottom() + gap
    }

    fn union(&self, other: &Rect) -> Rect {
        let (x, y) = (self.x.min(other.x), self.y.min(other.y));
        Rect {
            x,
            y,
            width: self.right().max(other.right()) - x,
            height: self.bottom().max(other.bottom()) - y,
        }
    }
}

/// Estimated advance of `text` at `font_size`: 0.6 em per ASCII character covers system-ui's
/// capitals and digits, 1 em per other character covers CJK; no font metrics in a pure crate.
fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f64>()
        * font_size
}

/// The background box an edge label of this text needs: the text's advance, 0.8 em of ascent
/// and 0.25 em of descent, plus padding.
fn label_size(text: &str) -> Size {
    (
        (text_width(text, EDGE_FONT_SIZE) + 2.0 * LABEL_PAD_X).ceil(),
        (1.05 * EDGE_FONT_SIZE + 2.0 * LABEL_PAD_Y).ceil(),
    )
}

/// The point at `t` of a cubic Bézier curve.
fn bezier([p0, p1, p2, p3]: &Curve, t: f64) -> Point {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * p0.0 + b * p1.0 + c * p2.0 + d * p3.0,
        a * p0.1 + b * p1.1 + c * p2.1 + d * p3.1,
    )
}

/// Boxes for the labels, in order, each clear of the obstacles (nodes, arrowheads) and of the
/// labels placed before it.
/// A label goes on its edge's curve or just beside it when there is room, nearest the middle
/// first; otherwise on the nearest free spot around the curve's middle, searched ring by ring.
fn place_labels(labels: &[Option<(Size, Curve)>], obstacles: &[Rect]) -> Vec<Option<Rect>> {
    let mut taken = obstacles.to_vec();
    labels
        .iter()
        .map(|label| {
            let &((width, height), curve) = label.as_ref()?;
            let spot = free_spot(&curve, width, height, &taken);
            taken.push(spot);
            Some(spot)
        })
        .collect()
}

fn free_spot(curve: &Curve, width: f64, height: f64, taken: &[Rect]) -> Rect {
    let is_free = |spot: &Rect| taken.iter().all(|t| !spot.crowds(t, LABEL_CLEARANCE));
    let beside = width / 2.0 + 2.0 * LABEL_CLEARANCE;
    for t in [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8] {
        let (x, y) = bezier(curve, t);
        for dx in [0.0, beside, -beside] {
            let spot = Rect::centred((x + dx, y), width, height);
            if is_free(&spot) {
                return spot;
            }
        }
    }

    let middle = bezier(curve, 0.5);
    let here = Rect::centred(middle, width, height);
    let crowded = taken.iter().fold(here, |all, t| all.union(t));
    // Beyond this many rings every spot is outside all that is taken, so the search ends.
    let reach = (crowded.width + crowded.height + width + height) / LABEL_SEARCH_STEP;
    let rings = reach.ceil() as i64 + 1;
    for ring in 1..=rings {
        let mut spots: Vec<Point> = (-ring..=ring)
            .flat_map(|i| [(i, -ring), (i, ring), (-ring, i), (ring, i)])
            .map(|(i, j)| {
                (
                    middle.0 + i as f64 * LABEL_SEARCH_STEP,
                    middle.1 + j as f64 * LABEL_SEARCH_STEP,
                )
            })
            .collect();
        let distance = |(x, y): &Point| (x - middle.0).hypot(y - middle.1);
        spots.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
        if let Some(spot) = spots
            .into_iter()
            .map(|spot| Rect::centred(spot, width, height))
            .find(|spot| is_free(spot))
        {
            return spot;
        }
    }
    Rect {
        y: (crowded.bottom() + 2.0 * LABEL_CLEARANCE).ceil(),
        ..here
    }
}

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
    let nodes: Vec<Rect> = centre
        .iter()
        .map(|&at| Rect::centred(at, NODE_WIDTH, NODE_HEIGHT))
        .collect();

    let curves: Vec<Curve> = diagram
        .edges
        .iter()
        .map(|edge| {
            let (x1, y1) = centre[edge.from];
            let (x2, y2) = centre[edge.to];
            if layer_of(edge.to) > layer_of(edge.from) {
                let (top, bottom) = (y1 + NODE_HEIGHT / 2.0, y2 - NODE_HEIGHT / 2.0);
                let bend = (bottom - top) / 2.0;
                [
                    (x1, top),
                    (x1, top + bend),
                    (x2, bottom - bend),
                    (x2, bottom),
                ]
            } else {
                let (right1, right2) = (x1 + NODE_WIDTH / 2.0, x2 + NODE_WIDTH / 2.0);
                let bulge = right1.max(right2) + LOOP_BULGE;
                [(right1, y1), (bulge, y1), (bulge, y2), (right2, y2)]
            }
        })
        .collect();
    let shown: Vec<Option<String>> = diagram.edges.iter().map(Edge::shown_label).collect();
    let wanted: Vec<_> = shown
        .iter()
        .zip(&curves)
        .map(|(text, &curve)| Some((label_size(text.as_deref()?), curve)))
        .collect();
    let arrowheads = curves
        .iter()
        .map(|[.., end]| Rect::centred(*end, ARROW_BOX, ARROW_BOX));
    let obstacles: Vec<Rect> = nodes.iter().copied().chain(arrowheads).collect();
    let labels = place_labels(&wanted, &obstacles);

    let canvas = labels.iter().flatten().fold(
        Rect {
            x: 0.0,
            y: 0.0,
            width,
            height,
        },
        |canvas, label| {
            canvas.union(&Rect {
                x: label.x - MARGIN,
                y: label.y - MARGIN,
                width: label.width + 2.0 * MARGIN,
                height: label.height + 2.0 * MARGIN,
            })
        },
    );

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="{} {} {} {}" role="img" font-family="system-ui, sans-serif" font-size="13"><title>{}</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#6b7280"/></marker></defs>"##,
        canvas.width,
        canvas.height,
        canvas.x,
        canvas.y,
        canvas.width,
        canvas.height,
        xml_text(&spec.title, TOOLTIP_CHARS)
    );
    // Labels come after every edge so no line is drawn across one, and carry the edge's title
    // too so hovering either shows the full condition.
    let tooltips: Vec<String> = diagram
        .edges
        .iter()
        .map(|edge| xml_text(&edge.tooltip(), TOOLTIP_CHARS))
        .collect();
    for (curve, tooltip) in curves.iter().zip(&tooltips) {
        let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = curve;
        let _ = write!(
            out,
            r##"<g class="edge"><title>{tooltip}</title><path d="M{x0} {y0}C{x1} {y1} {x2} {y2} {x3} {y3}" fill="none" stroke="#6b7280" stroke-width="1.5" marker-end="url(#arrow)"/></g>"##
        );
    }
    for ((label, text), tooltip) in labels.iter().zip(&shown).zip(&tooltips) {
        let (Some(label), Some(text)) = (label, text) else {
            continue;
        };
        let _ = write!(
            out,
            r##"<g class="edge-label"><title>{tooltip}</title><rect class="edge-label-bg" x="{}" y="{}" width="{}" height="{}" rx="3" fill="#ffffff" fill-opacity="0.9"/><text x="{}" y="{}" text-anchor="middle" font-size="{EDGE_FONT_SIZE}" fill="#374151">{}</text></g>"##,
            label.x,
            label.y,
            label.width,
            label.height,
            label.x + label.width / 2.0,
            label.y + LABEL_PAD_Y + 0.8 * EDGE_FONT_SIZE,
            xml_escape(text),
        );
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
            nodes[id].x,
            nodes[id].y,
            kind.fill(),
            y + 4.5,
            xml_text(label, NODE_LABEL_CHARS),
        );
    }
    out.push_str("</svg>");
    out
}

/// Clipped text safe inside an XML element or attribute value.
fn xml_text(text: &str, max_chars: usize) -> String {
    xml_escape(&shown_text(text, max_chars))
}

/// The characters a reader will see of `text`, clipped: white space becomes a space, and
/// characters XML 1.0 forbids even as references (most control characters, U+FFFE, U+FFFF)
/// become U+FFFD.
fn shown_text(text: &str, max_chars: usize) -> String {
    clip(text, max_chars)
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// `text` with XML's markup characters as entities.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
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
        let mut spec = spec("</text><script>alert('x')</script>\u{0}&");
        spec.transitions[3].key = "<no>".into();
        let svg = to_svg(&spec);
        assert!(!svg.contains("<script"));
        assert!(!svg.contains('\u{0}'));
        assert!(svg.contains(
            "&lt;/text&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\u{FFFD}&amp; (FORM)"
        ));
        assert!(svg.contains("<title>Purchase &lt;approval&gt;</title>"));
        assert!(svg.contains("note = &quot;&lt;b&gt;\\&quot;x\\&quot;&lt;/b&gt;&quot;"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("<title>&lt;no&gt;: note = &quot;"));
        assert_eq!(svg.matches("<g class=\"edge\">").count(), 5);
        assert_eq!(svg.matches("<g class=\"edge-label\">").count(), 2);
        assert_eq!(svg.matches("<g class=").count(), 6 + 5 + 2);
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

    /// An axis-aligned box read back from the drawing.
    #[derive(Clone, Copy, Debug)]
    struct Area {
        x: f64,
        y: f64,
        width: f64,
        height: f64,
    }

    impl Area {
        fn overlaps(&self, other: &Area) -> bool {
            self.x < other.x + other.width
                && other.x < self.x + self.width
                && self.y < other.y + other.height
                && other.y < self.y + self.height
        }

        fn contains(&self, other: &Area) -> bool {
            other.x >= self.x
                && other.y >= self.y
                && other.x + other.width <= self.x + self.width
                && other.y + other.height <= self.y + self.height
        }
    }

    fn number(node: roxmltree::Node<'_, '_>, name: &str) -> f64 {
        node.attribute(name)
            .unwrap_or_else(|| panic!("{name} on {node:?}"))
            .parse()
            .unwrap()
    }

    fn rect_area(rect: roxmltree::Node<'_, '_>) -> Area {
        Area {
            x: number(rect, "x"),
            y: number(rect, "y"),
            width: number(rect, "width"),
            height: number(rect, "height"),
        }
    }

    /// The box a line of text needs: 0.6 em per ASCII character and 1 em per other one (wide
    /// enough for system-ui's capitals and CJK), from 0.8 em above the baseline to 0.25 em below.
    fn text_area(text: roxmltree::Node<'_, '_>) -> Area {
        let size = text
            .attribute("font-size")
            .map_or(13.0, |s| s.parse().unwrap());
        let content = text.text().unwrap_or("");
        let width: f64 = content
            .chars()
            .map(|c| if c.is_ascii() { 0.6 } else { 1.0 } * size)
            .sum();
        let x = number(text, "x");
        let left = match text.attribute("text-anchor") {
            Some("middle") => x - width / 2.0,
            Some("end") => x - width,
            _ => x,
        };
        Area {
            x: left,
            y: number(text, "y") - 0.8 * size,
            width,
            height: 1.05 * size,
        }
    }

    const NODE_CLASSES: [&str; 5] = ["start", "form", "sync", "async", "finish"];

    fn is_node_group(node: roxmltree::Node<'_, '_>) -> bool {
        node.has_tag_name("g")
            && node
                .attribute("class")
                .and_then(|c| c.split_whitespace().next())
                .is_some_and(|c| NODE_CLASSES.contains(&c))
    }

    /// What is wrong with `svg`'s edge labels: a label box overlapping another label or a node,
    /// or a label or node outside the viewBox. An edge label is any text outside a node;
    /// its box is its drawn background when it has one (which must hold the text), else the
    /// text's own estimated box.
    fn label_problems(name: &str, svg: &str) -> Vec<String> {
        let document = roxmltree::Document::parse(svg).unwrap();
        let root = document.root_element();
        let view: Vec<f64> = root
            .attribute("viewBox")
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let view = Area {
            x: view[0],
            y: view[1],
            width: view[2],
            height: view[3],
        };
        let nodes: Vec<(String, Area)> = document
            .descendants()
            .filter(|n| is_node_group(*n))
            .map(|g| {
                let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
                let title = g.children().find(|c| c.has_tag_name("title")).unwrap();
                (title.text().unwrap_or("").to_owned(), rect_area(rect))
            })
            .collect();
        let labels: Vec<(String, Area)> = document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter(|t| !t.parent().is_some_and(is_node_group))
            .map(|text| {
                let own = text_area(text);
                let content = text.text().unwrap_or("").to_owned();
                let background = text
                    .prev_sibling_element()
                    .filter(|r| r.attribute("class") == Some("edge-label-bg"));
                match background {
                    Some(rect) => {
                        let area = rect_area(rect);
                        assert!(
                            area.contains(&own),
                            "{name}: text {content:?} {own:?} overflows its background {area:?}"
                        );
                        (content, area)
                    }
                    None => (content, own),
                }
            })
            .collect();
        assert!(!labels.is_empty(), "{name}: no edge labels in\n{svg}");
        let mut problems = Vec::new();
        for (i, (text, area)) in labels.iter().enumerate() {
            if !view.contains(area) {
                problems.push(format!(
                    "label {text:?} {area:?} outside the viewBox {view:?}"
                ));
            }
            for (other, other_area) in &labels[i + 1..] {
                if area.overlaps(other_area) {
                    problems.push(format!("label {text:?} overlaps label {other:?}"));
                }
            }
            for (node, node_area) in &nodes {
                if area.overlaps(node_area) {
                    problems.push(format!("label {text:?} overlaps node {node:?}"));
                }
            }
        }
        for (node, area) in &nodes {
            if !view.contains(area) {
                problems.push(format!(
                    "node {node:?} {area:?} outside the viewBox {view:?}"
                ));
            }
        }
        problems
            .into_iter()
            .map(|problem| format!("{name}: {problem}"))
            .collect()
    }

    fn example(yaml: &str) -> WorkflowSpec {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    /// One task fanning out to five places under long conditions, two of them looping back.
    fn dense() -> WorkflowSpec {
        serde_json::from_value(json!({
            "title": "Dense",
            "fields": {},
            "tasks": [
                {"key": "triage", "name": "Triage the incoming request", "task_type": "FORM"},
                {"key": "fix", "name": "Fix", "task_type": "FORM"},
                {"key": "escalate", "name": "Escalate to the vendor", "task_type": "ASYNC_ACTION"},
                {"key": "notify", "name": "Notify", "task_type": "SYNC_ACTION"},
            ],
            "transitions": [
                {"key": "start", "to_task": "triage"},
                {"key": "simple_fix", "from_task": "triage", "to_task": "fix",
                 "condition": {"category": "software", "severity": {"$lte": 2},
                               "customer.tier": {"$in": ["gold", "platinum"]}}},
                {"key": "vendor_problem", "from_task": "triage", "to_task": "escalate",
                 "condition": {"$or": [{"category": "hardware"},
                                       {"vendor_ticket": {"$exists": true}}]}},
                {"key": "tell_the_customer", "from_task": "triage", "to_task": "notify",
                 "condition": {"needs_information": true, "channel": {"$ne": "phone"}}},
                {"key": "duplicate_of_another", "from_task": "triage", "to_status": "DUPLICATE",
                 "condition": {"duplicate_of": {"$exists": true}}},
                {"key": "not_our_business", "from_task": "triage", "to_status": "REJECTED",
                 "condition": {"category": {"$nin": ["software", "hardware", "network"]}}},
                {"key": "fixed", "from_task": "fix", "to_status": "RESOLVED",
                 "condition": {"verified_by_customer": true}},
                {"key": "fix_failed", "from_task": "fix", "to_task": "triage",
                 "condition": {"verified_by_customer": false, "attempts": {"$lt": 3}}},
                {"key": "vendor_back", "from_task": "escalate", "to_task": "triage",
                 "condition": {"vendor_status": "answered"}},
                {"key": "told", "from_task": "notify", "to_task": "triage"},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn edge_labels_overlap_nothing_and_stay_in_view() {
        let designs = [
            (
                "document review",
                example(include_str!(
                    "../../../../examples/bundles/document-review.yaml"
                )),
            ),
            (
                "IT access request",
                example(include_str!(
                    "../../../../examples/bundles/it-access-request.yaml"
                )),
            ),
            ("dense", dense()),
            ("purchase", spec("Review")),
        ];
        let mut problems = Vec::new();
        for (name, design) in &designs {
            problems.extend(label_problems(name, &to_svg(design)));
            let progress = Progress {
                done: design.tasks.iter().map(|t| t.key.clone()).collect(),
                active: Vec::new(),
                ended: None,
            };
            let progress_name = format!("{name} (progress)");
            problems.extend(label_problems(
                &progress_name,
                &to_svg_progress(design, &progress),
            ));
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn long_conditions_show_the_key_and_keep_the_full_text_on_hover() {
        let svg = to_svg(&dense());
        let document = roxmltree::Document::parse(&svg).unwrap();
        let label = document
            .descendants()
            .filter(|n| n.attribute("class") == Some("edge-label"))
            .find(|g| g.descendants().any(|t| t.text() == Some("simple_fix")))
            .unwrap();
        let title = label.children().find(|c| c.has_tag_name("title")).unwrap();
        assert_eq!(
            title.text(),
            Some(
                "simple_fix: category = \"software\" and customer.tier in [\"gold\",\"platinum\"] \
                 and severity <= 2"
            )
        );
        assert!(svg.contains(">duplicate_of exists</text>"));
    }

    #[test]
    fn clips_long_labels() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
