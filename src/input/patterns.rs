//! The rules of [`super::validate`] that a length cannot state, as JSON Schema `pattern`s for the
//! OpenAPI document: what a request must look like, said where clients and tools read it.
//!
//! A pattern is read by ECMA-262 engines (browsers, most JSON Schema validators), by Python's
//! `re` (schemathesis generates requests from it) and by Rust's `regex` (the `jsonschema`
//! crate), so each one keeps to what the three read alike: character classes of `\uXXXX`
//! ranges (no `\s` or `\p{..}`, which mean something different in each), groups, bounded
//! repetitions, anchors. Each class is built from a table of ranges that a unit test holds to
//! the Rust predicate the server uses (`char::is_whitespace`, `char::is_control`,
//! [`super::validate::is_hidden_control`], ...), character by character over the Basic
//! Multilingual Plane. Characters beyond it cannot be written in a class all three engines
//! read the same way, so the tables stop at U+FFFF: the one consequence is that a name made
//! only of invisible characters from the supplementary planes (tags U+E0000–E007F, variation
//! selectors U+E0100–E01EF) matches the "something visible" pattern but is refused.

use super::units::MAX_DURATION_SECS;
use super::validate::{MAX_EMAIL_LOCAL_CHARS, MAX_EMOJI_CHARS, MAX_USERNAME_CHARS, MIN_USERNAME_CHARS};

/// Inclusive ranges of characters.
type Ranges = &'static [(char, char)];

/// What `str::trim` removes: `char::is_whitespace` (Unicode's White_Space).
pub const WHITESPACE: Ranges = &[
    ('\u{0009}', '\u{000D}'),
    ('\u{0020}', '\u{0020}'),
    ('\u{0085}', '\u{0085}'),
    ('\u{00A0}', '\u{00A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

/// `char::is_control`: the C0 and C1 controls and DEL.
pub const CONTROL: Ranges = &[('\u{0000}', '\u{001F}'), ('\u{007F}', '\u{009F}')];

/// [`super::validate::is_hidden_control`] beyond [`CONTROL`]: bidi controls, the line and
/// paragraph separators, the byte order mark.
pub const HIDDEN: Ranges = &[
    ('\u{061C}', '\u{061C}'),
    ('\u{200E}', '\u{200F}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2066}', '\u{2069}'),
    ('\u{FEFF}', '\u{FEFF}'),
];

/// Characters that draw nothing (`validate::draws_nothing`) beyond [`WHITESPACE`], in the
/// Basic Multilingual Plane.
pub const INVISIBLE: Ranges = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200D}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FFA0}', '\u{FFA0}'),
];

/// The inside of a character class (`[...]` without its brackets) holding `sets`.
fn class(sets: &[Ranges]) -> String {
    let mut out = String::new();
    // Letters, digits and `@ . _` as themselves (each means itself in a class everywhere), the
    // rest as `\uXXXX`.
    let one = |c: char| {
        if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_') {
            c.to_string()
        } else {
            format!("\\u{:04X}", u32::from(c))
        }
    };
    for (low, high) in sets.iter().flat_map(|set| set.iter()) {
        out.push_str(&one(*low));
        if high > low {
            out.push('-');
            out.push_str(&one(*high));
        }
    }
    out
}

/// Any character, in every engine (ECMA's `.` stops at line ends, Python's at `\n` only).
const ANY: &str = r"[\s\S]";

/// A username: 3–32 of `[A-Za-z0-9_.-]` ([`super::validate::username`]).
pub fn username() -> String {
    format!("^[A-Za-z0-9_.-]{{{MIN_USERNAME_CHARS},{MAX_USERNAME_CHARS}}}$")
}

/// An email address ([`super::validate::email`]): blanks around it, then 1–64 characters
/// before the one `@` and a dotted domain, neither with blanks or control characters. The
/// schema's `maxLength` bounds the whole.
pub fn email() -> String {
    let blank = class(&[WHITESPACE]);
    let part = class(&[&[('@', '@')], WHITESPACE, CONTROL]);
    let label = class(&[&[('@', '@'), ('.', '.')], WHITESPACE, CONTROL]);
    format!("^[{blank}]*[^{part}]{{1,{MAX_EMAIL_LOCAL_CHARS}}}@[^{label}]+(?:\\.[^{label}]+)+[{blank}]*$")
}

/// Text with something in it besides blanks (a login, which is trimmed).
pub fn not_blank() -> String {
    format!("[^{}]", class(&[WHITESPACE]))
}

/// Text with a character that shows ([`super::validate::display_name`]): neither blank, nor a
/// hidden control, nor one of the characters that draw nothing.
pub fn visible() -> String {
    format!("[^{}]", class(&[WHITESPACE, CONTROL, HIDDEN, INVISIBLE]))
}

/// Text whose trimmed length (`str::trim`) is `min..=max` characters, for `min` 0 or 1 and
/// `max` at least 2: blanks, then a non-blank character, up to `max - 2` of any, a non-blank
/// one, then blanks.
pub fn trimmed_length(min: usize, max: usize) -> String {
    let blank = class(&[WHITESPACE]);
    let core = format!("[^{blank}](?:{ANY}{{0,{}}}[^{blank}])?", max.saturating_sub(2));
    if min == 0 { format!("^[{blank}]*(?:{core})?[{blank}]*$") } else { format!("^[{blank}]*{core}[{blank}]*$") }
}

/// A reaction (`usecase::chat::check_emoji`): 1–32 characters, none blank or a control.
pub fn emoji() -> String {
    format!("^[^{}]{{1,{MAX_EMOJI_CHARS}}}$", class(&[WHITESPACE, CONTROL]))
}

/// A duration string as [`super::units::parse_duration`] reads it, from one second to
/// [`MAX_DURATION_SECS`]: digits (leading zeros allowed), then a unit (`ms`, `s`, `sec`, `m`,
/// `min`, `h`, `d`; none means seconds), blanks around and between them.
pub fn duration() -> String {
    let blank = format!("[{}]*", class(&[WHITESPACE]));
    let max = MAX_DURATION_SECS;
    let units = [
        (number_range(1000, max * 1000), "ms"),
        (number_range(1, max / 60), "(?:m|min)"),
        (number_range(1, max / 3600), "h"),
        (number_range(1, max / 86400), "d"),
    ];
    let mut branches = vec![format!("(?:{})(?:{blank}(?:s|sec))?", number_range(1, max))];
    branches.extend(units.iter().map(|(number, unit)| format!("(?:{number}){blank}{unit}")));
    format!("^{blank}0*(?:{}){blank}$", branches.join("|"))
}

/// The decimal numbers from `low` to `high` (`1 <= low <= high`), without leading zeros, as an
/// alternation of digit classes: each length of number in its own branches.
fn number_range(low: u64, high: u64) -> String {
    let mut branches = Vec::new();
    let mut start = low;
    while start <= high {
        let digits = start.to_string().len();
        let last_of_length = 10u64.checked_pow(digits as u32).map_or(u64::MAX, |p| p - 1);
        let end = high.min(last_of_length);
        same_length(start.to_string().as_bytes(), end.to_string().as_bytes(), &mut String::new(), &mut branches);
        match end.checked_add(1) {
            Some(next) => start = next,
            None => break,
        }
    }
    branches.join("|")
}

/// Branches for the numbers from `low` to `high`, both `prefix` followed by digit strings of
/// the same length.
fn same_length(low: &[u8], high: &[u8], prefix: &mut String, out: &mut Vec<String>) {
    let rest = low.len() - 1;
    let digit_class = |from: u8, to: u8| {
        if from == to { (from as char).to_string() } else { format!("[{}-{}]", from as char, to as char) }
    };
    let any_digits = |n: usize| match n {
        0 => String::new(),
        1 => "[0-9]".to_string(),
        n => format!("[0-9]{{{n}}}"),
    };
    if low[1..].iter().all(|d| *d == b'0') && high[1..].iter().all(|d| *d == b'9') {
        out.push(format!("{prefix}{}{}", digit_class(low[0], high[0]), any_digits(rest)));
        return;
    }
    if low[0] == high[0] {
        let length = prefix.len();
        prefix.push(low[0] as char);
        same_length(&low[1..], &high[1..], prefix, out);
        prefix.truncate(length);
        return;
    }
    let nines = vec![b'9'; rest];
    let zeros = vec![b'0'; rest];
    let length = prefix.len();
    prefix.push(low[0] as char);
    same_length(&low[1..], &nines, prefix, out);
    prefix.truncate(length);
    if high[0] - low[0] > 1 {
        out.push(format!("{prefix}{}{}", digit_class(low[0] + 1, high[0] - 1), any_digits(rest)));
    }
    prefix.push(high[0] as char);
    same_length(&zeros, &high[1..], prefix, out);
    prefix.truncate(length);
}

/// A webhook URL ([`super::validate::webhook_url`]): `http://` or `https://`, a host part, and no
/// blank or control character anywhere.
pub fn webhook_url() -> String {
    let bad = class(&[WHITESPACE, CONTROL]);
    let host_bad = class(&[WHITESPACE, CONTROL, &[('/', '/'), ('?', '?'), ('#', '#')]]);
    format!("^https?://[^{host_bad}][^{bad}]*$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::validate::is_hidden_control;

    fn contains(sets: &[Ranges], c: char) -> bool {
        sets.iter().flat_map(|set| set.iter()).any(|(low, high)| (*low..=*high).contains(&c))
    }

    /// The tables are the server's predicates, over the whole Basic Multilingual Plane.
    #[test]
    fn the_classes_are_the_servers_predicates() {
        for c in (0u32..=0xFFFF).filter_map(char::from_u32) {
            assert_eq!(contains(&[WHITESPACE], c), c.is_whitespace(), "{:04X} whitespace", u32::from(c));
            assert_eq!(contains(&[CONTROL], c), c.is_control(), "{:04X} control", u32::from(c));
            assert_eq!(contains(&[CONTROL, HIDDEN], c), is_hidden_control(c), "{:04X} hidden", u32::from(c));
            let shows = crate::input::validate::display_name(&c.to_string(), 1).is_ok();
            assert_eq!(!contains(&[WHITESPACE, CONTROL, HIDDEN, INVISIBLE], c), shows, "{:04X} visible", u32::from(c));
        }
    }

    /// Every number of a range, and only those, is spelled by its branches (checked without a
    /// regex engine: each branch is a sequence of digits and digit classes).
    #[test]
    fn number_ranges_are_exact() {
        fn matches(branch: &str, number: &str) -> bool {
            let mut digits = number.bytes();
            let mut rest = branch;
            while !rest.is_empty() {
                let (from, to, repeat, tail) = if let Some(class) = rest.strip_prefix('[') {
                    let bytes = class.as_bytes();
                    let (from, to) = (bytes[0], bytes[2]);
                    let tail = &class[4..];
                    match tail.strip_prefix('{') {
                        Some(counted) => {
                            let end = counted.find('}').expect("a closing brace");
                            (from, to, counted[..end].parse().expect("a count"), &counted[end + 1..])
                        }
                        None => (from, to, 1, tail),
                    }
                } else {
                    let b = rest.as_bytes()[0];
                    (b, b, 1, &rest[1..])
                };
                for _ in 0..repeat {
                    match digits.next() {
                        Some(d) if (from..=to).contains(&d) => {}
                        _ => return false,
                    }
                }
                rest = tail;
            }
            digits.next().is_none()
        }
        for (low, high) in [(1, 9), (1, 10), (7, 7), (1, 36500), (1000, 3_153_600_000_000), (3, 1234), (19, 91)] {
            let pattern = number_range(low, high);
            let probes = (0..2000u64).chain([low - 1, low, low + 1, high - 1, high, high + 1, high * 10 + 5]);
            for n in probes {
                let spelled = pattern.split('|').any(|branch| matches(branch, &n.to_string()));
                assert_eq!(spelled, (low..=high).contains(&n), "{n} in {low}..={high}: {pattern}");
            }
        }
    }
}
