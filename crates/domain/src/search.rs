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
        let terms = q
            .split_whitespace()
            .map(|word| word_tokens(word).0)
            .filter(|tokens| !tokens.is_empty())
            .take(MAX_TERMS)
            .map(|mut tokens| {
                tokens.truncate(MAX_TOKENS_PER_TERM);
                Term(tokens)
            })
            .collect();
        Self {
            number: number(q),
            reference: false,
            terms,
        }
    }

    /// Nothing to search for: the list is not narrowed.
    pub fn is_empty(&self) -> bool {
        self.number.is_none() && self.terms.is_empty()
    }
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
