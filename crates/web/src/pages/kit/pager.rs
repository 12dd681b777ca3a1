//! Paging through a list: "21–40 of 134", previous and next. Lists page by cursor (stable
//! while tickets come in); the way back is the trail of cursors that led here, carried in
//! the address (`trail`), so "previous" needs no backward query and works on every list.

/// Separates the cursors of a trail; cursors are URL-safe base64 or uuids, never this.
const SEP: char = '.';
/// Stands for the first page, which has no cursor.
const FIRST: &str = "0";

/// A list's address with its parameters, leaving out the empty ones (a filter not set).
pub fn address(path: &str, params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        if !value.is_empty() {
            query.append_pair(key, value);
        }
    }
    format!("{path}?{}", query.finish())
}

/// What a list holds, in the singular and the plural ("1 ticket", "2 tickets").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noun {
    pub one: &'static str,
    pub many: &'static str,
}

pub const TICKETS: Noun = Noun {
    one: "ticket",
    many: "tickets",
};
pub const TASKS: Noun = Noun {
    one: "task",
    many: "tasks",
};
pub const ERRORS: Noun = Noun {
    one: "error",
    many: "errors",
};
pub const WORKFLOWS: Noun = Noun {
    one: "workflow",
    many: "workflows",
};
pub const COMPANIES: Noun = Noun {
    one: "company",
    many: "companies",
};
pub const TOKENS: Noun = Noun {
    one: "token",
    many: "tokens",
};
pub const PEOPLE: Noun = Noun {
    one: "person",
    many: "people",
};

/// The pager of one page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pager {
    /// 1-based position of the page's first row; 0 for an empty list.
    pub from: i64,
    pub to: i64,
    pub total: i64,
    pub noun: Noun,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// Where this page is: its cursor and the trail of cursors before it.
#[derive(Clone, Debug, Default)]
pub struct Place {
    cursor: String,
    trail: Vec<String>,
}

impl Place {
    /// Reads `cursor` and `trail` as the list's address carries them. A trail that does not
    /// parse is dropped: the worst case is a "previous" that leads to the first page.
    pub fn new(cursor: &str, trail: &str) -> Self {
        let trail = trail
            .split(SEP)
            .filter(|c| !c.is_empty() && c.len() <= 512)
            .take(1_000)
            .map(str::to_owned)
            .collect::<Vec<_>>();
        Self {
            cursor: cursor.to_owned(),
            trail: if cursor.is_empty() { Vec::new() } else { trail },
        }
    }

    pub fn cursor(&self) -> Option<&str> {
        Some(self.cursor.as_str()).filter(|c| !c.is_empty())
    }

    /// The pager for a page of `rows` rows of `size` at most, `next` being the cursor after
    /// it; `href(cursor, trail)` writes the list's address.
    pub fn pager(
        &self,
        rows: usize,
        size: u32,
        total: i64,
        noun: Noun,
        next: Option<&str>,
        href: impl Fn(&str, &str) -> String,
    ) -> Pager {
        let before = self.trail.len() as i64 * i64::from(size);
        let prev = (!self.cursor.is_empty()).then(|| {
            let (last, rest) = self
                .trail
                .split_last()
                .map_or((FIRST, &[][..]), |(l, r)| (l.as_str(), r));
            let cursor = if last == FIRST { "" } else { last };
            href(cursor, &rest.join(&SEP.to_string()))
        });
        // A full last page has a cursor after it but nothing there: the total says so.
        let next = next
            .filter(|_| before + (rows as i64) < total)
            .map(|cursor| {
                let mut trail = self.trail.clone();
                trail.push(if self.cursor.is_empty() {
                    FIRST.to_owned()
                } else {
                    self.cursor.clone()
                });
                href(cursor, &trail.join(&SEP.to_string()))
            });
        Pager {
            from: if rows == 0 { 0 } else { before + 1 },
            to: before + rows as i64,
            total: total.max(before + rows as i64),
            noun,
            prev,
            next,
        }
    }
}

impl Pager {
    /// The noun for the list's total ("1 ticket", "No tickets").
    pub fn counted(&self) -> &'static str {
        if self.total == 1 {
            self.noun.one
        } else {
            self.noun.many
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn href(cursor: &str, trail: &str) -> String {
        format!("?cursor={cursor}&trail={trail}")
    }

    #[test]
    fn walks_forward_and_back_again() {
        let first = Place::new("", "");
        let p1 = first.pager(20, 20, 45, TICKETS, Some("c2"), href);
        assert_eq!((p1.from, p1.to, p1.total), (1, 20, 45));
        assert_eq!(p1.prev, None);
        assert_eq!(p1.next.as_deref(), Some("?cursor=c2&trail=0"));

        let second = Place::new("c2", "0");
        let p2 = second.pager(20, 20, 45, TICKETS, Some("c3"), href);
        assert_eq!((p2.from, p2.to), (21, 40));
        assert_eq!(p2.prev.as_deref(), Some("?cursor=&trail="));
        assert_eq!(p2.next.as_deref(), Some("?cursor=c3&trail=0.c2"));

        let third = Place::new("c3", "0.c2");
        let p3 = third.pager(5, 20, 45, TICKETS, None, href);
        assert_eq!((p3.from, p3.to), (41, 45));
        assert_eq!(p3.prev.as_deref(), Some("?cursor=c2&trail=0"));
        assert_eq!(p3.next, None);
    }

    #[test]
    fn an_empty_list_counts_nothing() {
        let pager = Place::new("", "").pager(0, 20, 0, TICKETS, None, href);
        assert_eq!((pager.from, pager.to, pager.total), (0, 0, 0));
        assert_eq!((pager.prev, pager.next), (None, None));
        assert_eq!(
            Place::new("", "")
                .pager(0, 20, 0, TICKETS, None, href)
                .counted(),
            "tickets"
        );
    }

    #[test]
    fn a_full_last_page_leads_nowhere() {
        let last = Place::new("c2", "0").pager(20, 20, 40, TICKETS, Some("c3"), href);
        assert_eq!(last.next, None);
        let before = Place::new("", "").pager(20, 20, 40, TICKETS, Some("c2"), href);
        assert!(before.next.is_some());
    }

    #[test]
    fn one_is_counted_in_the_singular() {
        let one = Place::new("", "").pager(1, 20, 1, TICKETS, None, href);
        assert_eq!(one.counted(), "ticket");
        let two = Place::new("", "").pager(2, 20, 2, TICKETS, None, href);
        assert_eq!(two.counted(), "tickets");
    }

    #[test]
    fn a_trail_without_a_cursor_is_the_first_page() {
        let pager = Place::new("", "0.c2").pager(20, 20, 100, TICKETS, Some("c2"), href);
        assert_eq!(pager.from, 1);
        assert_eq!(pager.prev, None);
    }
}
