//! Quoting outside input in messages: a message never carries more than [`QUOTE_LIMIT`]
//! characters of what a user or a file gave, however long that was.

/// The most characters of outside input that a message quotes.
pub const QUOTE_LIMIT: usize = 80;

/// `input` as a string literal (`"1g.5gb"`), cut to [`QUOTE_LIMIT`] characters where longer
/// (`"aaaa…"… (100000000 bytes)`).
///
/// ```
/// use gpupart_profiles::text::quote;
/// assert_eq!(quote("1g.5gb"), "\"1g.5gb\"");
/// assert!(quote(&"x".repeat(1_000_000)).len() < 120);
/// ```
#[must_use]
pub fn quote(input: &str) -> String {
    match input.char_indices().nth(QUOTE_LIMIT) {
        None => format!("{input:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &input[..cut], input.len()),
    }
}

/// `input` cut to [`QUOTE_LIMIT`] characters, for an error that keeps what it was given.
#[must_use]
pub fn cut(input: &str) -> String {
    input.chars().take(QUOTE_LIMIT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_on_a_character_boundary() {
        let s = "é".repeat(200);
        let q = quote(&s);
        assert!(q.starts_with('"') && q.ends_with("(400 bytes)"));
        assert_eq!(q.chars().filter(|&c| c == 'é').count(), QUOTE_LIMIT);
    }
}
