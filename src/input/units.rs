//! Values with units, as people write them in flags and requests: durations (`30s`, `7d`),
//! sizes (`10MiB`). One parser each, shared by the command line (`config`) and the request
//! decoders (an invite's `expires_in`), with errors that are one sentence.

use std::time::Duration;

/// The longest duration any flag or request may give: 100 years. Longer ones overflow the clocks
/// they are added to (`Instant::now() + d` panics; a token's `iat + ttl` wraps), so they are
/// refused where they are parsed (found by the property tests, `tests/it/fuzz_props.rs`).
pub const MAX_DURATION_SECS: u64 = 100 * 365 * 86400;

/// `30s`, `15m`, `15min`, `24h`, `7d`, `500ms`; a bare number is seconds; at most 100 years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration; use e.g. 30s, 15m, 24h or 7d"))?;
    let too_long = || format!("`{text}` is too long; the longest is 100 years (36500d)");
    let seconds = match unit.trim() {
        "ms" if n <= MAX_DURATION_SECS * 1000 => return Ok(Duration::from_millis(n)),
        "ms" => return Err(too_long()),
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!("`{text}` has an unknown unit; use ms, s, m, h or d"));
        }
    };
    n.checked_mul(seconds).filter(|s| *s <= MAX_DURATION_SECS).map(Duration::from_secs).ok_or_else(too_long)
}

/// A duration that must not be zero (a timeout of nothing would refuse everything).
pub fn parse_nonzero_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Ok(duration)
}

/// `1048576`, `512KiB`, `10MiB`, `1GiB`, `10MB` (decimal), `10M` (binary).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size; use e.g. 10MiB, 512KiB or 1048576"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!("`{text}` has an unknown unit; use B, KiB, MiB or GiB"));
        }
    };
    n.checked_mul(factor).ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("15min"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("lots").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert_eq!(parse_duration("36500d"), Ok(Duration::from_secs(MAX_DURATION_SECS)));
        assert!(parse_duration("36501d").is_err());
        assert!(parse_duration("213503982334601d").is_err(), "would overflow Instant::now() + d");
        assert!(parse_duration("18446744073709551615ms").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("42"), Ok(42));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
