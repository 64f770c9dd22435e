//! Lists of cases: the known failures (`compat-tests/known-failures.txt`) and the pending cases
//! (`compat-tests/pending.txt`), in one format.
//!
//! One case name (or a pattern with `*` wildcards) per line, each with a reason: a trailing
//! `# reason`, or the comment lines directly above a group of entries. Blank lines end a group.
//! The known failures only shrink: a listed case that passes fails the run (see `report`).

use std::fmt;

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) pattern: String,
    pub(crate) reason: String,
    pub(crate) line: usize,
}

/// A malformed list; the message says which line and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    line: usize,
    message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed list.
#[derive(Debug, Default)]
pub(crate) struct CaseList {
    entries: Vec<Entry>,
}

impl CaseList {
    pub(crate) fn parse(text: &str) -> Result<Self, ParseError> {
        let mut entries: Vec<Entry> = Vec::new();
        // The comment block above the current group of entries, if any.
        let mut block: Option<String> = None;
        let mut previous_was_comment = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                block = None;
                previous_was_comment = false;
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix('#') {
                let comment = comment.trim();
                match (&mut block, previous_was_comment) {
                    (Some(text), true) if !comment.is_empty() => {
                        text.push(' ');
                        text.push_str(comment);
                    }
                    (Some(_), true) => {}
                    _ => block = Some(comment.to_string()),
                }
                previous_was_comment = true;
                continue;
            }
            previous_was_comment = false;
            let (pattern, inline) = match trimmed.split_once('#') {
                Some((pattern, reason)) => (pattern.trim(), Some(reason.trim())),
                None => (trimmed, None),
            };
            if pattern.contains(char::is_whitespace) {
                return Err(ParseError {
                    line,
                    message: format!("{pattern:?}: one case name per line"),
                });
            }
            let reason = match inline.filter(|r| !r.is_empty()) {
                Some(reason) => reason.to_string(),
                None => match block.as_deref().filter(|r| !r.is_empty()) {
                    Some(reason) => reason.to_string(),
                    None => {
                        return Err(ParseError {
                            line,
                            message: format!(
                                "{pattern}: give the reason it fails, as `# reason` after the \
                                 name or as a comment line above it"
                            ),
                        })
                    }
                },
            };
            if let Some(earlier) = entries.iter().find(|e| e.pattern == pattern) {
                return Err(ParseError {
                    line,
                    message: format!("{pattern} is listed already on line {}", earlier.line),
                });
            }
            entries.push(Entry {
                pattern: pattern.to_string(),
                reason,
                line,
            });
        }
        Ok(Self { entries })
    }

    /// The first entry that matches the case `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| glob_match(&e.pattern, name))
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Matches `name` against `pattern`, where `*` stands for any run of characters (`/` included).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: an exact match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_block_reasons() {
        let list = CaseList::parse(
            "# header comment, not a reason for anything below the blank line\n\
             \n\
             c/a/musl/microvm   # inline reason\n\
             # block reason,\n\
             # continued\n\
             c/b/*\n\
             busybox/sh\n\
             \n\
             busybox/env # own reason\n",
        )
        .unwrap();
        let reasons: Vec<(&str, &str)> = list
            .entries()
            .iter()
            .map(|e| (e.pattern.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("c/a/musl/microvm", "inline reason"),
                ("c/b/*", "block reason, continued"),
                ("busybox/sh", "block reason, continued"),
                ("busybox/env", "own reason"),
            ]
        );
        assert_eq!(list.entries()[1].line, 6);
    }

    #[test]
    fn a_reason_is_required() {
        let err = CaseList::parse("# reason\nc/a\n\nc/b\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.to_string().contains("give the reason"));
        assert!(CaseList::parse("c/a #\n").is_err());
    }

    #[test]
    fn duplicates_and_junk_are_rejected() {
        let err = CaseList::parse("a # x\na # y\n").unwrap_err();
        assert!(
            err.to_string().contains("listed already on line 1"),
            "{err}"
        );
        assert!(CaseList::parse("a b # x\n").is_err());
    }

    #[test]
    fn empty_list() {
        assert!(CaseList::parse("").unwrap().entries().is_empty());
        assert!(CaseList::parse("# only\n# comments\n")
            .unwrap()
            .entries()
            .is_empty());
    }

    #[test]
    fn globs() {
        assert!(glob_match("c/hello/musl/q35", "c/hello/musl/q35"));
        assert!(!glob_match("c/hello/musl/q35", "c/hello/musl/q35x"));
        assert!(!glob_match("c/hello", "c/hello/musl/q35"));
        assert!(glob_match("c/hello/*", "c/hello/musl/q35"));
        assert!(glob_match("*/q35", "c/hello/musl/q35"));
        assert!(glob_match("c/*/musl/*", "c/efault/musl/microvm"));
        assert!(!glob_match("c/*/musl/*", "c/efault/glibc/microvm"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*a", "aa"));
        assert!(!glob_match("a*a", "a"));
    }

    #[test]
    fn lookup_finds_the_first_match() {
        let list = CaseList::parse("c/x/* # one\nc/* # two\n").unwrap();
        assert_eq!(list.lookup("c/x/musl").unwrap().reason, "one");
        assert_eq!(list.lookup("c/y").unwrap().reason, "two");
        assert!(list.lookup("busybox/true").is_none());
    }
}
