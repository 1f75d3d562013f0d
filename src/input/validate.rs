//! Input rules shared by REST and Socket.IO, each returning the problem as a short phrase.
//!
//! Every bound counts characters (Unicode scalar values) as the client sent them, except where
//! the SPEC says "after trimming" (a message's content, a search): a JSON Schema's `maxLength`
//! counts the same way, so the OpenAPI document can state each bound exactly
//! ([`super::patterns`] has the rules a length cannot state).

use std::collections::BTreeMap;

/// A username: 3–32 of `[A-Za-z0-9_.-]`.
pub const MIN_USERNAME_CHARS: usize = 3;
pub const MAX_USERNAME_CHARS: usize = 32;
/// A password: 8–128 characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;
/// An email address as sent (RFC 5321's 254 for the whole path), and its part before the `@`.
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_EMAIL_LOCAL_CHARS: usize = 64;
/// The optional `full_name` of a signup.
pub const MAX_FULL_NAME_CHARS: usize = 200;
/// A message's content, after trimming (SPEC §3).
pub const MAX_CONTENT_CHARS: usize = 4000;
/// A person's display name, after trimming.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// A message search's text, after trimming.
pub const MAX_SEARCH_CHARS: usize = 200;
pub const MAX_EMOJI_CHARS: usize = 32;
pub const MAX_ROOM_NAME_CHARS: usize = 100;
pub const MAX_TOPIC_CHARS: usize = 250;

use crate::error::ApiError;

/// Collects field problems into one 422.
#[derive(Default)]
pub struct Fields(BTreeMap<String, String>);

impl Fields {
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| problem.into());
    }

    pub fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(problem) = result {
            self.add(field, problem);
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let detail = self.0.iter().map(|(f, p)| sentence(f, p)).collect::<Vec<_>>().join(" ");
        Err(ApiError::Validation { detail, fields: self.0 })
    }
}

/// A field's problem as a sentence people can read: `password` + `is required` → "Password is
/// required."; a nested field (`members[2]`, `keys.auth`) keeps its path.
fn sentence(field: &str, problem: &str) -> String {
    let name = field.replace('_', " ");
    let mut chars = name.chars();
    let name = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => "The request".to_string(),
    };
    let problem = problem.trim_end_matches('.');
    format!("{name} {problem}.")
}

/// 3–32 of `[A-Za-z0-9_.-]`.
pub fn username(name: &str) -> Result<(), String> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if (MIN_USERNAME_CHARS..=MAX_USERNAME_CHARS).contains(&name.len()) && ok_chars {
        Ok(())
    } else {
        Err("must be 3 to 32 characters of letters, digits, '_', '.' or '-'".into())
    }
}

/// Longest outgoing webhook URL a bot may have.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2000;

/// An outgoing webhook's URL, as an administrator types it: `http://` or `https://` (loopback
/// and LAN hosts included, SPEC §3: a bot on the same Pi is the usual case), something after it
/// up to the first `/`, `?` or `#`, and no blank or control character. Whether the host answers
/// is found out when it is called.
pub fn webhook_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return Err("must start with http:// or https://".into()) };
    if url.chars().count() > MAX_WEBHOOK_URL_CHARS {
        return Err(format!("must be at most {MAX_WEBHOOK_URL_CHARS} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain blanks or control characters".into());
    }
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return Err("must name a host".into());
    }
    // A bracket in the host is an IPv6 address, and must be one (`http://[` is not a URL).
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.contains(['[', ']']) {
        let literal = host.strip_prefix('[').and_then(|h| h.split_once(']'));
        let valid = literal.is_some_and(|(ip, port)| {
            ip.parse::<std::net::Ipv6Addr>().is_ok()
                && (port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok()))
        });
        if !valid {
            return Err("must name a host: a bracketed host must be an IPv6 address".into());
        }
    }
    Ok(())
}

/// A plausible address: at most 254 characters as sent, blanks around it ignored, then one
/// `@`, a local part of 1–64 characters, a dotted domain, no blanks or control characters.
pub fn email(address: &str) -> Result<(), String> {
    let length = address.chars().count();
    let address = address.trim();
    let valid = length <= MAX_EMAIL_CHARS
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && match address.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.chars().count() <= MAX_EMAIL_LOCAL_CHARS
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if valid { Ok(()) } else { Err("must be a valid email address".into()) }
}

/// 8–128 characters.
pub fn password(password: &str) -> Result<(), String> {
    text_length(password, MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS)
}

/// `min..=max` characters (Unicode scalar values).
pub fn text_length(text: &str, min: usize, max: usize) -> Result<(), String> {
    let n = text.chars().count();
    if (min..=max).contains(&n) { Ok(()) } else { Err(format!("must be {min} to {max} characters long")) }
}

/// Characters that change how a name is shown rather than being part of it: C0 and C1 controls
/// and DEL, the bidirectional controls (U+202A–U+202E embeddings and overrides, U+2066–U+2069
/// isolates, U+200E/U+200F marks, U+061C the Arabic letter mark: `invoice\u{202E}fdp.exe`
/// shows as `invoiceexe.pdf`), the line and paragraph separators U+2028/U+2029, and U+FEFF.
/// Joiners (U+200C/U+200D) stay: emoji sequences and some scripts need them.
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Characters that draw nothing by themselves: blanks, and the zero-width and filler characters
/// a name made to look empty uses (zero-width space and joiners, word joiner and invisible
/// operators, the Mongolian vowel separator, the Hangul fillers, the braille blank, soft hyphen,
/// combining grapheme joiner, variation selectors and tags).
fn draws_nothing(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// A name as people will see it: without [`is_hidden_control`] characters (a right-to-left
/// override would reorder what is around it; NUL and BEL are nobody's name), trimmed.
pub fn clean_text(text: &str) -> String {
    text.chars().filter(|c| !is_hidden_control(*c)).collect::<String>().trim().to_string()
}

/// A room's (or a person's) display name: `1..=max` characters as sent, something in it
/// visible (a name of zero-width characters only would show as a gap), stored cleaned
/// ([`clean_text`]). The length is the one sent, not the cleaned one, so that it is the
/// `maxLength` of the OpenAPI document, which cannot count what a cleaning would leave.
pub fn display_name(text: &str, max: usize) -> Result<String, String> {
    text_length(text, 1, max)?;
    let clean = clean_text(text);
    if clean.chars().all(draws_nothing) {
        return Err("must contain something visible".into());
    }
    Ok(clean)
}

/// A person's display name: at most `max` characters after trimming (the bound the OpenAPI
/// pattern states), stored cleaned like names; nothing visible means none.
pub fn person_name(text: &str, max: usize) -> Result<Option<String>, String> {
    if text.trim().chars().count() > max {
        return Err(format!("must be at most {max} characters after trimming"));
    }
    let clean = clean_text(text);
    Ok((!clean.chars().all(draws_nothing)).then_some(clean))
}

/// A room's topic: at most `max` characters as sent (see [`display_name`]), stored cleaned like
/// names; nothing visible means none.
pub fn topic(text: &str, max: usize) -> Result<Option<String>, String> {
    text_length(text, 0, max)?;
    let clean = clean_text(text);
    Ok((!clean.chars().all(draws_nothing)).then_some(clean))
}

/// `text` with case folded for comparison in every script: lower case, plus the foldings that
/// lower-casing alone misses (final sigma, sharp s, long s, the Kelvin and Ångström signs
/// lower-case already), so "STRASSE" finds "Straße" and "ΟΔΟΣ" finds "οδος".
pub fn fold_case(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ς' => folded.push('σ'),
            'ß' => folded.push_str("ss"),
            'ſ' => folded.push('s'),
            c => folded.push(c),
        }
    }
    folded
}

/// The client's filename as metadata: its last path component (`/` and `\` both separate),
/// without control characters ([`is_hidden_control`]) or surrounding blanks, at most 255 bytes
/// (cut on a character boundary); `file` when nothing is left.
pub fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !is_hidden_control(*c)).collect();
    let mut cleaned = cleaned.trim();
    if cleaned.len() > 255 {
        let mut end = 255;
        while !cleaned.is_char_boundary(end) {
            end -= 1;
        }
        cleaned = cleaned[..end].trim_end();
    }
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." { "file".to_string() } else { cleaned.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_hidden_controls_and_must_show_something() {
        assert_eq!(display_name("  team\u{202E}txt.exe ", 100).as_deref(), Ok("teamtxt.exe"));
        assert_eq!(display_name("a\0b\u{7}c", 100).as_deref(), Ok("abc"));
        assert!(display_name("\u{200B}\u{200C}\u{2060}", 100).is_err());
        assert!(display_name("\u{202E}", 100).is_err());
        assert!(display_name(" \u{3164} ", 100).is_err());
        assert_eq!(display_name("👩\u{200D}👩\u{200D}👧", 100).as_deref(), Ok("👩\u{200D}👩\u{200D}👧"));
        assert_eq!(display_name("مرحبا", 100).as_deref(), Ok("مرحبا"));
        assert!(display_name(&"x".repeat(101), 100).is_err());
    }

    #[test]
    fn case_folds_in_every_script() {
        assert_eq!(fold_case("STRASSE"), fold_case("Straße"));
        assert!(fold_case("Οδός Σ").contains(&fold_case("ΟΔΌΣ")));
        assert_eq!(fold_case("ПРИВЕТ"), "привет");
        assert!(fold_case("Ärzte-Treff").contains(&fold_case("ärzte")));
    }

    #[test]
    fn topics_clear_when_empty() {
        assert_eq!(topic("", 250), Ok(None));
        assert_eq!(topic(" \u{200B} ", 250), Ok(None));
        assert_eq!(topic(" Saturday 10:00 \u{202E}", 250), Ok(Some("Saturday 10:00".into())));
        assert!(topic(&"x".repeat(251), 250).is_err());
    }

    #[test]
    fn usernames() {
        assert!(username("ab").is_err());
        assert!(username("abc").is_ok());
        assert!(username("a.b-c_9").is_ok());
        assert!(username("has space").is_err());
        assert!(username("émile").is_err());
        assert!(username(&"x".repeat(33)).is_err());
    }

    #[test]
    fn emails() {
        assert!(email("a@b.co").is_ok());
        assert!(email("A@B.CO").is_ok());
        assert!(email("nope").is_err());
        assert!(email("a@b").is_err());
        assert!(email("a@@b.co").is_err());
        assert!(email("a b@c.de").is_err());
    }

    #[test]
    fn filenames_are_sanitized() {
        assert_eq!(clean_filename("../../etc/passwd.txt"), "passwd.txt");
        assert_eq!(clean_filename("..\\..\\x.txt"), "x.txt");
        assert_eq!(clean_filename("a\u{0}b\nc\u{7f}.txt"), "abc.txt");
        assert_eq!(clean_filename("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        let every_bidi =
            "a\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}b";
        assert_eq!(clean_filename(every_bidi), "ab");
        assert_eq!(clean_filename("x\u{85}\u{9f}\u{2028}\u{2029}\u{feff}y.txt"), "xy.txt");
        assert_eq!(clean_filename("👩\u{200D}💻.png"), "👩\u{200D}💻.png");
        assert_eq!(clean_filename("\u{202E}"), "file");
        assert_eq!(clean_filename(""), "file");
        assert_eq!(clean_filename("dir/"), "file");
        assert_eq!(clean_filename("x/.."), "file");
        let long = "é".repeat(200);
        let cut = clean_filename(&long);
        assert!(cut.len() <= 255 && cut.chars().all(|c| c == 'é'), "{}", cut.len());
    }
}
