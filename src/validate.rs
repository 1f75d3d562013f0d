//! Input rules shared by REST and Socket.IO, each returning the problem as a short phrase.

use std::collections::BTreeMap;

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
        let detail = self.0.iter().map(|(f, p)| format!("{f}: {p}")).collect::<Vec<_>>().join("; ");
        Err(ApiError::Validation { detail, fields: self.0 })
    }
}

/// 3–32 of `[A-Za-z0-9_.-]`.
pub fn username(name: &str) -> Result<(), String> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if (3..=32).contains(&name.len()) && ok_chars {
        Ok(())
    } else {
        Err("must be 3 to 32 characters of letters, digits, '_', '.' or '-'".into())
    }
}

/// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn email(address: &str) -> Result<(), String> {
    let address = address.trim();
    let valid = address.len() <= 254
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && match address.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
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
    text_length(password, 8, 128)
}

/// `min..=max` characters (Unicode scalar values).
pub fn text_length(text: &str, min: usize, max: usize) -> Result<(), String> {
    let n = text.chars().count();
    if (min..=max).contains(&n) { Ok(()) } else { Err(format!("must be {min} to {max} characters long")) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
