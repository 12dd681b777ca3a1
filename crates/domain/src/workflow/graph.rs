//! The workflow as a graph over task indices, shared by validation (what is reachable, what can
//! end, what can precede a task) and rendering (layers). Built from any spec, valid or not:
//! transitions naming unknown tasks are left out, and a duplicated key means its first task.

use std::collections::{HashMap, VecDeque};

use super::WorkflowSpec;

pub(crate) struct Graph<'a> {
    index: HashMap<&'a str, usize>,
    successors: Vec<Vec<usize>>,
    predecessors: Vec<Vec<usize>>,
    /// Tasks entered by a start transition.
    starts: Vec<usize>,
    /// Tasks with a transition to an end status.
    ends: Vec<bool>,
}

impl<'a> Graph<'a> {
    pub(crate) fn new(spec: &'a WorkflowSpec) -> Self {
        let count = spec.tasks.len();
        let mut index = HashMap::with_capacity(count);
        for (i, task) in spec.tasks.iter().enumerate() {
            index.entry(task.key.as_str()).or_insert(i);
        }
        let mut graph = Self {
            index,
            successors: vec![Vec::new(); count],
            predecessors: vec![Vec::new(); count],
            starts: Vec::new(),
            ends: vec![false; count],
        };
        for transition in &spec.transitions {
            let from = match transition.from_task.as_deref() {
                None => None,
                Some(key) => match graph.task(key) {
                    Some(from) => Some(from),
                    None => continue,
                },
            };
            let to = transition
                .to_task
                .as_deref()
                .and_then(|key| graph.task(key));
            match (from, to) {
                (None, Some(to)) => graph.starts.push(to),
                (Some(from), Some(to)) => {
                    graph.successors[from].push(to);
                    graph.predecessors[to].push(from);
                }
                (Some(from), None) if transition.to_status.is_some() => graph.ends[from] = true,
                _ => {}
            }
        }
        graph
    }

    /// The index of the task with this key.
    pub(crate) fn task(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Per task: whether some path from the ticket's submission reaches it.
    pub(crate) fn reachable_from_start(&self) -> Vec<bool> {
        flood(&self.starts, &self.successors)
    }

    /// Per task: whether some path from it reaches an end status.
    pub(crate) fn can_end(&self) -> Vec<bool> {
        let seeds: Vec<_> = (0..self.ends.len()).filter(|&i| self.ends[i]).collect();
        flood(&seeds, &self.predecessors)
    }

    /// Per task: whether it can run before `task` (itself too, when `task` is on a cycle).
    pub(crate) fn ancestors(&self, task: usize) -> Vec<bool> {
        let seeds = self.predecessors.get(task).map_or(&[][..], Vec::as_slice);
        flood(seeds, &self.predecessors)
    }

    /// Per task: the fewest transitions from the submission to it (start tasks are 1).
    pub(crate) fn layers(&self) -> Vec<Option<usize>> {
        let mut layer = vec![None; self.successors.len()];
        let mut queue = VecDeque::new();
        for &start in &self.starts {
            if layer[start].is_none() {
                layer[start] = Some(1);
                queue.push_back((start, 1));
            }
        }
        while let Some((task, depth)) = queue.pop_front() {
            for &next in &self.successors[task] {
                if layer[next].is_none() {
                    layer[next] = Some(depth + 1);
                    queue.push_back((next, depth + 1));
                }
            }
        }
        layer
    }
}

/// Marks every node reachable from `seeds` (seeds included) along `edges`.
fn flood(seeds: &[usize], edges: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut stack = seeds.to_vec();
    while let Some(node) = stack.pop() {
        if !std::mem::replace(&mut seen[node], true) {
            stack.extend(&edges[node]);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> WorkflowSpec {
        let tasks = ["a", "b", "c", "orphan"]
            .map(|key| json!({"key": key, "name": key, "task_type": "FORM"}));
        serde_json::from_value(json!({
            "title": "t", "fields": {},
            "tasks": tasks,
            "transitions": [
                {"key": "s", "to_task": "a"},
                {"key": "ab", "from_task": "a", "to_task": "b"},
                {"key": "ba", "from_task": "b", "to_task": "a"},
                {"key": "bc", "from_task": "b", "to_task": "c"},
                {"key": "end", "from_task": "a", "to_status": "DONE"},
                {"key": "dangling", "from_task": "nope", "to_task": "c"},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn reachability_ends_and_ancestors() {
        let spec = spec();
        let graph = Graph::new(&spec);
        assert_eq!(graph.reachable_from_start(), [true, true, true, false]);
        assert_eq!(graph.can_end(), [true, true, false, false]);
        assert_eq!(graph.ancestors(0), [true, true, false, false]);
        assert_eq!(graph.ancestors(2), [true, true, false, false]);
        assert_eq!(graph.layers(), [Some(1), Some(2), Some(3), None]);
    }
}
