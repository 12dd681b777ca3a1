//! Ticket search: how text is cut into words, the same way for what is indexed and for what
//! is asked, so that SQLite (FTS5) and PostgreSQL (`simple` text search) find the same tickets.
//!
//! The databases' own tokenizers disagree: FTS5 splits `north-west` and a URL at every
//! punctuation mark, PostgreSQL keeps `north-west` whole besides its parts and reads a URL as
//! a host and a path. So both are given text already cut here (lowercase letters and digits,
//! one word per token, separated by spaces) and queries made of the same tokens, which
//! neither database can read as syntax.

/// Words of a query that count; the rest is ignored.
pub const MAX_TERMS: usize = 16;
/// Tokens of one word of a query that count (a long URL is cut here).
pub const MAX_TOKENS_PER_TERM: usize = 16;

/// Characters that join the parts of one word (`e-mail`, `O'Brien`, `snake_case`): besides
/// its parts, such a word is indexed once more written without them (`email`).
fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\'' | '\u{2019}' | '_')
}

/// The tokens of one whitespace-separated word: its parts (runs of letters and digits,
/// lowercase) in order, then each run of parts joined by [`is_joiner`] characters, written
/// as one.
fn word_tokens(word: &str) -> (Vec<String>, Vec<String>) {
    let mut parts = Vec::new();
    let mut compounds = Vec::new();
    let mut part = String::new();
    let mut group: Vec<String> = Vec::new();
    fn close_group(group: &mut Vec<String>, compounds: &mut Vec<String>) {
        if group.len() > 1 {
            compounds.push(group.concat());
        }
        group.clear();
    }
    for c in word.chars() {
        if c.is_alphanumeric() {
            part.extend(c.to_lowercase());
            continue;
        }
        if !part.is_empty() {
            group.push(part.clone());
            parts.push(std::mem::take(&mut part));
        }
        if !is_joiner(c) {
            close_group(&mut group, &mut compounds);
        }
    }
    if !part.is_empty() {
        group.push(part.clone());
        parts.push(part);
    }
    close_group(&mut group, &mut compounds);
    (parts, compounds)
}

/// The indexed form of `text`: its tokens separated by spaces. Each word's parts stay next
/// to each other, so a query for `north-west` or `docs.example.com` finds them as a phrase.
/// Hyphenated words follow at the end written as one (`email` finds `e-mail`), apart from
/// the text so they make no phrase with its words (`west-north` does not find `north-west`
/// through `northwest`).
pub fn index_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut joined = Vec::new();
    for word in text.split_whitespace() {
        let (parts, compounds) = word_tokens(word);
        for token in parts {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&token);
        }
        joined.extend(compounds);
    }
    for token in joined {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&token);
    }
    out
}

/// One word of a query: its tokens, to be found next to each other, the last one as the
/// beginning of a word (`sales` finds `Salesforce`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term(Vec<String>);

impl Term {
    /// Letters and digits only, lowercase; never empty.
    pub fn tokens(&self) -> &[String] {
        &self.0
    }
}

/// A search of tickets as typed: a ticket number (`#3`, or `3` alone) and words, every one
/// of which must be found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The ticket of this number (of the caller's company) comes first.
    pub number: Option<i64>,
    /// `#3`: the ticket numbered 3 only, no words searched.
    pub reference: bool,
    pub terms: Vec<Term>,
}

impl SearchQuery {
    /// Reads what was typed. Punctuation and query syntax of either database are no more
    /// than word breaks; a query of nothing else is empty.
    pub fn parse(q: &str) -> Self {
        let q = q.trim();
        let number = |digits: &str| {
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<i64>().ok())
                .flatten()
                .filter(|n| *n > 0)
        };
        if let Some(n) = q.strip_prefix('#').and_then(|rest| number(rest.trim())) {
            return Self {
                number: Some(n),
                reference: true,
                terms: Vec::new(),
            };
        }
        Self {
            number: number(q),
            reference: false,
            terms: terms(q),
        }
    }

    /// Nothing to search for: the list is not narrowed.
    pub fn is_empty(&self) -> bool {
        self.number.is_none() && self.terms.is_empty()
    }
}

/// The words of a query as typed, with no ticket number read into it (a message search:
/// `#3` there is the word `3`).
pub fn terms(q: &str) -> Vec<Term> {
    q.split_whitespace()
        .map(|word| word_tokens(word).0)
        .filter(|tokens| !tokens.is_empty())
        .take(MAX_TERMS)
        .map(|mut tokens| {
            tokens.truncate(MAX_TOKENS_PER_TERM);
            Term(tokens)
        })
        .collect()
}

/// A piece of a [`snippet`]: text as written, and whether a term of the query found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    pub text: String,
    pub hit: bool,
}

/// A run of letters and digits in a text: where it is (bytes), lowercase, and whether a
/// joiner links it to the next run (`e-mail`).
struct Run {
    start: usize,
    end: usize,
    lower: String,
    joined_to_next: bool,
}

fn runs(text: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut current: Option<Run> = None;
    for (at, c) in text.char_indices() {
        if c.is_alphanumeric() {
            let run = current.get_or_insert_with(|| Run {
                start: at,
                end: at,
                lower: String::new(),
                joined_to_next: false,
            });
            run.lower.extend(c.to_lowercase());
            run.end = at + c.len_utf8();
        } else {
            runs.extend(current.take());
        }
    }
    runs.extend(current);
    // Joined: exactly one joiner between two runs (`north-west`, not `north - west`).
    for i in 1..runs.len() {
        let mut between = text[runs[i - 1].end..runs[i].start].chars();
        runs[i - 1].joined_to_next =
            matches!((between.next(), between.next()), (Some(c), None) if is_joiner(c));
    }
    runs
}

/// Where the query's terms occur in `text`, as byte ranges, found the way the index finds
/// them: a term's tokens in consecutive runs, the last one as a prefix, or a one-token term
/// as the prefix of a hyphenated word written as one (`email` in `e-mail`).
fn hits(text: &str, terms: &[Term]) -> Vec<(usize, usize)> {
    let runs = runs(text);
    let mut found = Vec::new();
    for term in terms {
        let tokens = term.tokens();
        let Some((last, whole)) = tokens.split_last() else {
            continue;
        };
        for i in 0..runs.len() {
            let Some(window) = runs.get(i..i + tokens.len()) else {
                break;
            };
            let matches = window[..whole.len()]
                .iter()
                .zip(whole)
                .all(|(run, token)| run.lower == *token)
                && window[whole.len()].lower.starts_with(last.as_str());
            if matches {
                found.push((window[0].start, window[whole.len()].end));
                continue;
            }
            if tokens.len() == 1 && (i == 0 || !runs[i - 1].joined_to_next) {
                let mut end = i;
                let mut joined = runs[i].lower.clone();
                while runs[end].joined_to_next && end + 1 < runs.len() {
                    end += 1;
                    joined.push_str(&runs[end].lower);
                }
                if end > i && joined.starts_with(last.as_str()) {
                    found.push((runs[i].start, runs[end].end));
                }
            }
        }
    }
    found.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in found {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// About `width` characters of `text` around the first place the query's terms occur (its
/// beginning when they occur nowhere), cut at word boundaries, in fragments that say which
/// parts the terms found. Whitespace runs read as one space. The fragments are plain text:
/// whoever shows them escapes them.
pub fn snippet(text: &str, terms: &[Term], width: usize) -> Vec<Fragment> {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let marks = hits(&flat, terms);
    let chars: Vec<(usize, char)> = flat.char_indices().collect();
    let char_at = |byte: usize| chars.partition_point(|(at, _)| *at < byte);
    let first = marks.first().map_or(0, |(start, _)| char_at(*start));
    let mut from = first.saturating_sub(width / 3);
    let mut to = (from + width).min(chars.len());
    if to == chars.len() {
        from = to.saturating_sub(width);
    }
    // Whole words only: move in to the nearest space.
    if from > 0
        && let Some(space) = chars[from..first].iter().position(|(_, c)| *c == ' ')
    {
        from += space + 1;
    }
    if to < chars.len()
        && let Some(space) = chars[from..to].iter().rposition(|(_, c)| *c == ' ')
        && from + space > first
    {
        to = from + space;
    }
    let byte = |index: usize| chars.get(index).map_or(flat.len(), |(at, _)| *at);
    let (start, end) = (byte(from), byte(to));
    let mut fragments = Vec::new();
    let mut push = |text: &str, hit: bool| {
        if !text.is_empty() {
            fragments.push(Fragment {
                text: text.to_owned(),
                hit,
            });
        }
    };
    if from > 0 {
        push("…", false);
    }
    let mut at = start;
    for (hit_start, hit_end) in marks {
        let (hit_start, hit_end) = (hit_start.max(at), hit_end.min(end));
        if hit_start >= hit_end {
            continue;
        }
        push(&flat[at..hit_start], false);
        push(&flat[hit_start..hit_end], true);
        at = hit_end;
    }
    push(&flat[at..end], false);
    if end < flat.len() {
        push("…", false);
    }
    fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(q: &str) -> Vec<Vec<String>> {
        SearchQuery::parse(q)
            .terms
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    #[test]
    fn hyphenated_words_keep_their_parts_and_are_indexed_joined() {
        assert_eq!(
            index_words("E-mail outage in north-west office"),
            "e mail outage in north west office email northwest"
        );
        assert_eq!(tokens("north-west"), [vec!["north", "west"]]);
        assert_eq!(
            index_words("O’Brien's snake_case"),
            "o brien s snake case obriens snakecase"
        );
    }

    #[test]
    fn urls_are_cut_at_punctuation_in_order() {
        assert_eq!(
            index_words("see https://docs.example.com/plan-2026."),
            "see https docs example com plan 2026 plan2026"
        );
        assert_eq!(
            tokens("https://docs.example.com/plan-2026"),
            [vec!["https", "docs", "example", "com", "plan", "2026"]]
        );
        assert_eq!(tokens("docs.example.com"), [vec!["docs", "example", "com"]]);
    }

    #[test]
    fn numbers_are_references_or_words() {
        let hash = SearchQuery::parse(" #3 ");
        assert_eq!((hash.number, hash.reference), (Some(3), true));
        assert!(hash.terms.is_empty());
        let bare = SearchQuery::parse("3");
        assert_eq!((bare.number, bare.reference), (Some(3), false));
        assert_eq!(tokens("3"), [vec!["3"]]);
        for q in ["#0", "#3a", "3 4", "99999999999999999999", "#-3"] {
            assert_eq!(SearchQuery::parse(q).number, None, "{q}");
        }
    }

    fn marked(text: &str, q: &str, width: usize) -> String {
        snippet(text, &terms(q), width)
            .into_iter()
            .map(|f| {
                if f.hit {
                    format!("[{}]", f.text)
                } else {
                    f.text
                }
            })
            .collect()
    }

    #[test]
    fn a_snippet_marks_what_the_index_would_find() {
        assert_eq!(
            marked(
                "The E-mail outage in the north-west office",
                "email west",
                80
            ),
            "The [E-mail] outage in the north-[west] office"
        );
        assert_eq!(
            marked("Salesforce seats; force", "sales north-west", 80),
            "[Salesforce] seats; force"
        );
        assert_eq!(
            marked("see https://docs.example.com/x", "docs.example", 80),
            "see https://[docs.example].com/x"
        );
        assert_eq!(marked("nothing here", "absent", 80), "nothing here");
        assert_eq!(marked("Grüße aus Köln", "KÖLN", 80), "Grüße aus [Köln]");
        assert_eq!(terms("#3"), terms("3"));
    }

    #[test]
    fn a_snippet_is_cut_around_the_first_hit_at_word_boundaries() {
        let long = format!("{} needle {}", "hay ".repeat(50), "straw ".repeat(50));
        let cut = marked(&long, "needle", 40);
        assert!(cut.starts_with("…hay "), "{cut}");
        assert!(cut.ends_with(" straw…"), "{cut}");
        assert!(cut.contains("[needle]"), "{cut}");
        assert!(cut.chars().count() <= 44, "{cut}");
        let start = marked(&format!("needle {}", "x ".repeat(100)), "needle", 20);
        assert!(start.starts_with("[needle] x"), "{start}");
        assert!(start.ends_with('…'), "{start}");
        let lines = marked("one\n\n  two\tthree", "two", 80);
        assert_eq!(lines, "one [two] three");
    }

    #[test]
    fn syntax_and_punctuation_are_word_breaks() {
        for q in [
            "",
            "   ",
            "\"",
            "*",
            ":",
            "'",
            "&",
            "|",
            "!",
            "#",
            "-- ' ; \" *:",
        ] {
            assert!(SearchQuery::parse(q).is_empty(), "{q:?}");
        }
        assert_eq!(
            tokens("\"NEAR(a b)\" AND x:* 'y' & z | !w"),
            [
                vec!["near", "a"],
                vec!["b"],
                vec!["and"],
                vec!["x"],
                vec!["y"],
                vec!["z"],
                vec!["w"]
            ]
        );
        let long = "w ".repeat(100);
        assert_eq!(SearchQuery::parse(&long).terms.len(), MAX_TERMS);
    }
}
