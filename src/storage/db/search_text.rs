//! What a search box's text means: every word a prefix, a `"quoted phrase"` a phrase.
//!
//! The text is never handed to FTS5 as a query. Each word and each phrase becomes an FTS5 string
//! (in double quotes, any quote inside doubled), so operators (`AND`, `NEAR(`, `-`, `^`, `:`, `*`,
//! parentheses) are only words to look for, and the query is always well-formed. A quote without
//! its pair counts as a space. Pieces with no letter or digit are dropped: they could match
//! nothing (FTS5's tokenizer keeps only letters and digits). Control characters separate words like
//! spaces. Words and phrases are ANDed.

/// The FTS5 query for `text`; `None` when nothing in it can match (only punctuation).
pub fn fts_query(text: &str) -> Option<String> {
    let quotes: Vec<usize> = text.match_indices('"').map(|(at, _)| at).collect();
    // Quotes pair up in order; an odd one out is a space.
    let paired = quotes.len() - quotes.len() % 2;
    let mut terms: Vec<String> = Vec::new();
    let mut words = |piece: &str| {
        let piece = piece.replace('"', " ");
        terms.extend(piece.split(separator).filter(|w| searchable(w)).map(|w| format!("{}*", quoted(w))));
    };
    let mut from = 0;
    let mut phrases = Vec::new();
    for pair in quotes[..paired].chunks(2) {
        let (open, close) = (pair[0], pair[1]);
        words(&text[from..open]);
        let phrase = text[open + 1..close].split(separator).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        if searchable(&phrase) {
            phrases.push(quoted(&phrase));
        }
        from = close + 1;
    }
    words(&text[from..]);
    terms.extend(phrases);
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Spaces and control characters (a NUL included) separate words.
fn separator(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// Whether FTS5 would find a token in `piece`: it has a letter or a digit.
fn searchable(piece: &str) -> bool {
    piece.chars().any(char::is_alphanumeric)
}

/// `piece` as an FTS5 string.
fn quoted(piece: &str) -> String {
    format!("\"{}\"", piece.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_prefixes_and_phrases_are_phrases() {
        assert_eq!(fts_query("crème brûlée").as_deref(), Some(r#""crème"* "brûlée"*"#));
        assert_eq!(fts_query(r#"see "the big plan" now"#).as_deref(), Some(r#""see"* "now"* "the big plan""#));
        assert_eq!(fts_query("  spaced \t out\0x").as_deref(), Some(r#""spaced"* "out"* "x"*"#));
    }

    #[test]
    fn syntax_is_taken_literally() {
        assert_eq!(fts_query("a AND b").as_deref(), Some(r#""a"* "AND"* "b"*"#));
        assert_eq!(fts_query("NEAR(x y)").as_deref(), Some(r#""NEAR(x"* "y)"*"#));
        assert_eq!(fts_query(r#"unbalanced "quote"#).as_deref(), Some(r#""unbalanced"* "quote"*"#));
        assert_eq!(fts_query(r#"'; DROP TABLE messages; --"#).as_deref(), Some(r#""DROP"* "TABLE"* "messages;"*"#));
        for nothing in ["\"", "*", "-", ":", "^", "(", ")", "\"\"", "\" \"", "  ", "-- ; '"] {
            assert_eq!(fts_query(nothing), None, "{nothing:?}");
        }
    }
}
