//! Tokenizer for volfile text.
//!
//! Follows the flex scanner in glusterfs `libglusterfs/src/graph.l`:
//! - the only separators are space, tab, CR and LF;
//! - a token that starts with `#` is a comment running to the end of the line (a `#` inside a
//!   word is part of the word);
//! - the keywords `volume`, `type`, `end-volume`, `subvolumes` (also `subvolumeS`) and `option`
//!   are recognised only as complete unquoted words, lower case;
//! - `"..."` is a quoted word in which `\x` stands for `x`; a quoted word is never a keyword;
//! - any other run of characters other than separators, `"` and `\` is a word.
//!
//! Deliberate differences, all of which are errors here instead of silent surprises: a newline
//! inside a quoted word (flex drops it), a backslash outside quotes (flex echoes it to stdout and
//! skips it), and backticks (glusterfs's `preprocess()` in `graph.y` runs the text between
//! backticks as a shell command; we never do).

use crate::VolfileError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Volume,
    Type,
    EndVolume,
    Subvolumes,
    Option,
    Word(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// 1-based line on which the token starts.
    pub(crate) line: usize,
}

fn syntax(line: usize, message: impl Into<String>) -> VolfileError {
    VolfileError::Syntax {
        line,
        message: message.into(),
    }
}

/// Characters that end an unquoted word (graph.l: `[^ \t\r\n\"\\]+`).
pub(crate) fn is_word_end(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '"' | '\\')
}

pub(crate) fn keyword(word: &str) -> Option<Tok> {
    match word {
        "volume" => Some(Tok::Volume),
        "type" => Some(Tok::Type),
        "end-volume" => Some(Tok::EndVolume),
        "subvolumes" | "subvolumeS" => Some(Tok::Subvolumes),
        "option" => Some(Tok::Option),
        _ => None,
    }
}

pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, VolfileError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;

    while let Some(&c) = chars.peek() {
        match c {
            '\n' => {
                line += 1;
                chars.next();
            }
            ' ' | '\t' | '\r' => {
                chars.next();
            }
            '#' => {
                // Comment to end of line; the newline itself is left for the loop to count.
                while let Some(&c) = chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            '"' => {
                let start = line;
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        None => return Err(syntax(start, "unterminated quoted string")),
                        Some('"') => break,
                        Some('\n') => return Err(syntax(start, "newline inside quoted string")),
                        Some('`') => {
                            return Err(syntax(
                                start,
                                "backtick command substitution is not supported",
                            ))
                        }
                        Some('\\') => match chars.next() {
                            None => return Err(syntax(start, "unterminated quoted string")),
                            Some('\n') => {
                                return Err(syntax(start, "newline inside quoted string"))
                            }
                            Some(c) => word.push(c),
                        },
                        Some(c) => word.push(c),
                    }
                }
                out.push(Token {
                    tok: Tok::Word(word),
                    line: start,
                });
            }
            '\\' => return Err(syntax(line, "backslash outside a quoted string")),
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if is_word_end(c) {
                        break;
                    }
                    if c == '`' {
                        return Err(syntax(
                            line,
                            "backtick command substitution is not supported",
                        ));
                    }
                    word.push(c);
                    chars.next();
                }
                let tok = keyword(&word).unwrap_or(Tok::Word(word));
                out.push(Token { tok, line });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn w(s: &str) -> Tok {
        Tok::Word(s.to_string())
    }

    #[test]
    fn keywords_only_as_whole_unquoted_words() {
        assert_eq!(
            toks("volume volumes \"volume\" Volume end-volume subvolumes subvolumeS subvolume"),
            vec![
                Tok::Volume,
                w("volumes"),
                w("volume"),
                w("Volume"),
                Tok::EndVolume,
                Tok::Subvolumes,
                Tok::Subvolumes,
                w("subvolume"),
            ]
        );
    }

    #[test]
    fn comments_start_only_at_token_start() {
        assert_eq!(toks("a#b # comment volume\n#x\nc"), vec![w("a#b"), w("c")]);
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(
            toks(r#"option k "a b \"c\" \\ d""#),
            vec![Tok::Option, w("k"), w(r#"a b "c" \ d"#)]
        );
        // A quote ends an unquoted word.
        assert_eq!(toks(r#"ab"c d"e"#), vec![w("ab"), w("c d"), w("e")]);
        assert_eq!(toks(r#""""#), vec![w("")]);
    }

    #[test]
    fn line_numbers() {
        let t = tokenize("volume a\n\n  type x\r\n\"multi\" # c\nend-volume").unwrap();
        let lines: Vec<usize> = t.iter().map(|t| t.line).collect();
        assert_eq!(lines, vec![1, 1, 3, 3, 4, 5]);
    }

    #[test]
    fn lexical_errors() {
        for (src, line) in [
            ("a\n\"open", 2),
            ("\"a\nb\"", 1),
            ("a \\ b", 1),
            ("x\n`rm -rf /`", 2),
            ("\"a`b\"", 1),
            ("\"a\\", 1),
        ] {
            match tokenize(src) {
                Err(VolfileError::Syntax { line: l, .. }) => assert_eq!(l, line, "{src:?}"),
                other => panic!("{src:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn escaped_backtick_in_quotes_is_literal() {
        assert_eq!(toks("\"a\\`b\""), vec![w("a`b")]);
    }
}
