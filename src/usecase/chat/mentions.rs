//! `@username` in message content: which room members a message names.
//!
//! A mention is `@` at the start of the content or after a character that cannot be part of a
//! username (so `bob@example.com` names nobody), followed by a username (`[A-Za-z0-9_.-]`, the
//! signup rule). Names match the room's members case-insensitively; someone who is not a member
//! is not mentioned. Punctuation right after a name (`@bob.`, `@bob-`) is tried with and without,
//! since usernames may contain `.` and `-` too.

use rusqlite::Connection;

use crate::storage::db::{DbError, rooms};

/// Distinct names looked up per message at most: content is at most 4,000 characters, and each
/// name costs an index lookup on the single writer.
const MAX_NAMES: usize = 50;
const MIN_NAME: usize = 3;
const MAX_NAME: usize = 32;

fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The names written as `@name` in `content`, in order of first appearance, each once (any
/// case), without the `@`.
pub fn names(content: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in content.char_indices() {
        let starts_mention = c == '@' && !previous.is_some_and(|p| username_char(p) || p == '@');
        previous = Some(c);
        if !starts_mention {
            continue;
        }
        let rest = &content[at + 1..];
        let end = rest.find(|c: char| !username_char(c)).unwrap_or(rest.len());
        let name = &rest[..end];
        if name.len() >= MIN_NAME && !found.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            found.push(name);
            if found.len() == MAX_NAMES {
                break;
            }
        }
    }
    found
}

/// The ids of the members of `room_id` that `content` names, in order of appearance, each once.
pub fn resolve(conn: &Connection, room_id: i64, content: &str) -> Result<Vec<i64>, DbError> {
    let mut ids = Vec::new();
    for name in names(content) {
        // `@bob.` names bob unless someone is called `bob.`: the longest name that is a member.
        let mut candidate = name;
        while candidate.len() >= MIN_NAME {
            if candidate.len() <= MAX_NAME
                && let Some(id) = rooms::member_named(conn, room_id, candidate)?
            {
                if !ids.contains(&id) {
                    ids.push(id);
                }
                break;
            }
            match candidate.strip_suffix(['.', '-', '_']) {
                Some(shorter) => candidate = shorter,
                None => break,
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_content() {
        assert_eq!(names("@alice hi @Bob, and @alice again"), ["alice", "Bob"]);
        assert_eq!(names("mail bob@example.com or @@carol"), Vec::<&str>::new());
        assert_eq!(names("(@dave) @eve. @ab @tomasz.lewandowski!"), ["dave", "eve.", "tomasz.lewandowski"]);
        assert_eq!(names("@ALICE @alice"), ["ALICE"]);
        assert_eq!(names("é@frank ünd @grace"), ["frank", "grace"]);
    }
}
