//! The translator graph: parsing, validation and volfile output.
//!
//! Grammar (glusterfs `libglusterfs/src/graph.y`):
//!
//! ```text
//! volfile  := volume+
//! volume   := "volume" WORD stmt* "end-volume"
//! stmt     := "type" WORD | "option" WORD WORD | "subvolumes" WORD+
//! ```
//!
//! with at most one `type` and one `subvolumes` line per volume. glusterfs additionally wants
//! `type` first and at least one other line; we accept the statements in any order. Semantics
//! follow `graph.y` too: a volume name may be defined only once, a subvolume must be defined
//! *before* the volume that uses it (so the graph is acyclic by construction), a volume may not
//! list itself, every volume needs a type, and a repeated option key replaces the earlier value.
//! The top of the graph is the last volume defined (`graph.y` prepends each new volume to
//! `graph->first`, which is the top).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::lex::{is_word_end, keyword, tokenize, Tok, Token};
use crate::{Options, ValidationError, ValidationKind, VolfileError};

/// One `volume ... end-volume` block: a translator instance.
///
/// Equality ignores the source positions (`line`, `subvolumes_line`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Xlator {
    pub name: String,
    /// The translator type, e.g. `cluster/replicate`.
    #[serde(rename = "type")]
    pub xlator_type: String,
    pub options: Options,
    /// Names of the child translators, in order.
    pub subvolumes: Vec<String>,
    /// Line of the `volume NAME` header (1-based; 0 when not parsed from text).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: usize,
    /// Line of the `subvolumes` statement (0 when absent or not parsed from text).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subvolumes_line: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl PartialEq for Xlator {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.xlator_type == other.xlator_type
            && self.options == other.options
            && self.subvolumes == other.subvolumes
    }
}

impl Eq for Xlator {}

impl Xlator {
    pub fn new(name: impl Into<String>, xlator_type: impl Into<String>) -> Self {
        Xlator {
            name: name.into(),
            xlator_type: xlator_type.into(),
            ..Default::default()
        }
    }

    /// Builder: add an option (replacing an earlier value of the same key).
    pub fn with_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(key, value);
        self
    }

    /// Builder: append a subvolume.
    pub fn with_subvolume(mut self, name: impl Into<String>) -> Self {
        self.subvolumes.push(name.into());
        self
    }
}

/// A validated translator graph: volumes in definition order, children defined before parents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawGraph")]
pub struct Graph {
    /// Name of the top translator (the last one defined).
    top: String,
    volumes: Vec<Xlator>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct RawGraph {
    volumes: Vec<Xlator>,
}

impl TryFrom<RawGraph> for Graph {
    type Error = VolfileError;
    fn try_from(raw: RawGraph) -> Result<Self, VolfileError> {
        Graph::new(raw.volumes)
    }
}

impl Graph {
    /// Build a graph from volumes in definition order, checking everything [`Graph::validate`]
    /// checks.
    pub fn new(volumes: Vec<Xlator>) -> Result<Self, VolfileError> {
        let errors = Self::validate(&volumes);
        if !errors.is_empty() {
            return Err(VolfileError::Invalid(errors));
        }
        let top = match volumes.last() {
            Some(x) => x.name.clone(),
            None => return Err(VolfileError::Empty),
        };
        let index = volumes
            .iter()
            .enumerate()
            .map(|(i, x)| (x.name.clone(), i))
            .collect();
        Ok(Graph {
            top,
            volumes,
            index,
        })
    }

    /// Parse volfile text (e.g. the `spec` of a GETSPEC reply or
    /// `/var/lib/glusterd/vols/VOL/trusted-VOL.tcp-fuse.vol`).
    pub fn parse(text: &str) -> Result<Self, VolfileError> {
        let tokens = tokenize(text)?;
        let volumes = parse_tokens(tokens)?;
        Self::new(volumes)
    }

    /// Parse volfile bytes. Trailing NUL bytes (a C string terminator) are ignored; other
    /// non-UTF-8 input is a syntax error on the line where it occurs.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, VolfileError> {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        let bytes = bytes.get(..end).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::parse(s),
            Err(e) => {
                let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
                let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
                Err(VolfileError::Syntax {
                    line,
                    message: "volfile is not valid UTF-8".into(),
                })
            }
        }
    }

    /// All semantic problems of a list of volumes in definition order (empty when valid).
    pub fn validate(volumes: &[Xlator]) -> Vec<ValidationError> {
        validate(volumes)
    }

    /// The top translator: the last one defined.
    pub fn top(&self) -> &Xlator {
        // `new` guarantees the top is present; fall back to the last volume anyway.
        self.get(&self.top)
            .or_else(|| self.volumes.last())
            .unwrap_or(&EMPTY_XLATOR)
    }

    /// Volumes in definition order.
    pub fn volumes(&self) -> &[Xlator] {
        &self.volumes
    }

    pub fn len(&self) -> usize {
        self.volumes.len()
    }

    /// Always false: a graph has at least one volume.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Xlator> {
        self.index.get(name).and_then(|&i| self.volumes.get(i))
    }

    /// The child translators of `x`, in order.
    pub fn children<'a>(&'a self, x: &'a Xlator) -> impl Iterator<Item = &'a Xlator> + 'a {
        x.subvolumes.iter().filter_map(move |s| self.get(s))
    }

    /// Names of the volumes that list `name` as a subvolume.
    pub fn parents<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Xlator> + 'a {
        self.volumes
            .iter()
            .filter(move |x| x.subvolumes.iter().any(|s| s == name))
    }

    /// Volumes that no other volume lists as a subvolume, in definition order. For a volfile
    /// generated by glusterd this is just the top.
    pub fn roots(&self) -> Vec<&Xlator> {
        let mut referenced = vec![false; self.volumes.len()];
        for x in &self.volumes {
            for s in &x.subvolumes {
                if let Some(r) = self.index.get(s).and_then(|&i| referenced.get_mut(i)) {
                    *r = true;
                }
            }
        }
        self.volumes
            .iter()
            .zip(referenced)
            .filter(|(_, r)| !r)
            .map(|(x, _)| x)
            .collect()
    }
}

static EMPTY_XLATOR: Xlator = Xlator {
    name: String::new(),
    xlator_type: String::new(),
    options: Options::new(),
    subvolumes: Vec::new(),
    line: 0,
    subvolumes_line: 0,
};

impl FromStr for Graph {
    type Err = VolfileError;
    fn from_str(s: &str) -> Result<Self, VolfileError> {
        Graph::parse(s)
    }
}

fn syntax(line: usize, message: String) -> VolfileError {
    VolfileError::Syntax { line, message }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Volume => "'volume'".into(),
        Tok::Type => "'type'".into(),
        Tok::EndVolume => "'end-volume'".into(),
        Tok::Subvolumes => "'subvolumes'".into(),
        Tok::Option => "'option'".into(),
        Tok::Word(w) => format!("{w:?}"),
    }
}

fn parse_tokens(tokens: Vec<Token>) -> Result<Vec<Xlator>, VolfileError> {
    let last_line = tokens.last().map_or(1, |t| t.line);
    let mut it = tokens.into_iter().peekable();
    let mut volumes = Vec::new();

    // Take the next token, which must be a word.
    fn word(
        it: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
        line: usize,
        what: &str,
    ) -> Result<String, VolfileError> {
        match it.next() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Ok(w),
            Some(t) => Err(syntax(
                t.line,
                format!("expected {what}, found {}", describe(&t.tok)),
            )),
            None => Err(syntax(line, format!("expected {what}, found end of file"))),
        }
    }

    while let Some(t) = it.next() {
        if t.tok != Tok::Volume {
            return Err(syntax(
                t.line,
                format!(
                    "expected 'volume', found {} (allowed tokens are 'volume', 'type', \
                     'subvolumes', 'option', 'end-volume')",
                    describe(&t.tok)
                ),
            ));
        }
        let header = t.line;
        let name = word(&mut it, header, "a volume name after 'volume'")?;
        let mut x = Xlator {
            name,
            line: header,
            ..Default::default()
        };
        let mut have_type = false;
        let mut have_subvolumes = false;
        loop {
            let Some(t) = it.next() else {
                return Err(syntax(
                    last_line,
                    format!("'end-volume' missing for volume '{}'", x.name),
                ));
            };
            match t.tok {
                Tok::EndVolume => break,
                Tok::Type => {
                    if have_type {
                        return Err(syntax(
                            t.line,
                            format!("duplicate 'type' defined for volume '{}'", x.name),
                        ));
                    }
                    x.xlator_type = word(&mut it, t.line, "a translator type after 'type'")?;
                    have_type = true;
                }
                Tok::Option => {
                    let key = word(&mut it, t.line, "an option key after 'option'")?;
                    let value = word(&mut it, t.line, &format!("a value for option '{key}'"))?;
                    x.options.insert(key, value);
                }
                Tok::Subvolumes => {
                    if have_subvolumes {
                        return Err(syntax(
                            t.line,
                            format!("duplicate 'subvolumes' defined for volume '{}'", x.name),
                        ));
                    }
                    have_subvolumes = true;
                    x.subvolumes_line = t.line;
                    while let Some(Token {
                        tok: Tok::Word(_), ..
                    }) = it.peek()
                    {
                        if let Some(Token {
                            tok: Tok::Word(w), ..
                        }) = it.next()
                        {
                            x.subvolumes.push(w);
                        }
                    }
                    if x.subvolumes.is_empty() {
                        return Err(syntax(
                            t.line,
                            format!("volume '{}': 'subvolumes' lists no volumes", x.name),
                        ));
                    }
                }
                Tok::Volume => {
                    return Err(syntax(
                        t.line,
                        format!("'end-volume' not defined for volume '{}'", x.name),
                    ))
                }
                Tok::Word(w) => {
                    return Err(syntax(
                        t.line,
                        format!(
                            "volume '{}': unexpected word {w:?} (allowed tokens are 'type', \
                             'subvolumes', 'option', 'end-volume')",
                            x.name
                        ),
                    ))
                }
            }
        }
        volumes.push(x);
    }
    if volumes.is_empty() {
        return Err(VolfileError::Empty);
    }
    Ok(volumes)
}

fn validate(volumes: &[Xlator]) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut err = |line: usize, volume: &str, kind: ValidationKind| {
        errors.push(ValidationError {
            line,
            volume: volume.to_string(),
            kind,
        })
    };

    // First definition of each name.
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, x) in volumes.iter().enumerate() {
        if x.name.is_empty() {
            err(
                x.line,
                &x.name,
                ValidationKind::EmptyWord {
                    what: "volume name",
                },
            );
        }
        if let Some(&j) = first.get(x.name.as_str()) {
            let first_line = volumes.get(j).map_or(0, |f| f.line);
            err(
                x.line,
                &x.name,
                ValidationKind::DuplicateVolume { first_line },
            );
        } else {
            first.insert(&x.name, i);
        }
        if x.xlator_type.is_empty() {
            err(x.line, &x.name, ValidationKind::MissingType);
        }
        let words = [
            ("volume name", x.name.as_str()),
            ("translator type", &x.xlator_type),
        ]
        .into_iter()
        .chain(x.subvolumes.iter().map(|s| ("subvolume name", s.as_str())))
        .chain(x.options.keys().map(|k| ("option key", k)))
        .chain(x.options.iter().map(|(_, v)| ("option value", v)));
        for (what, w) in words {
            if w.contains('\n') {
                err(x.line, &x.name, ValidationKind::NewlineInWord { what });
            }
        }
        for k in x.options.keys() {
            if k.is_empty() {
                err(
                    x.line,
                    &x.name,
                    ValidationKind::EmptyWord { what: "option key" },
                );
            }
        }
    }

    for (i, x) in volumes.iter().enumerate() {
        let line = if x.subvolumes_line != 0 {
            x.subvolumes_line
        } else {
            x.line
        };
        for (k, s) in x.subvolumes.iter().enumerate() {
            if x.subvolumes
                .get(..k)
                .is_some_and(|before| before.contains(s))
            {
                err(
                    line,
                    &x.name,
                    ValidationKind::DuplicateSubvolume {
                        subvolume: s.clone(),
                    },
                );
                continue;
            }
            if *s == x.name {
                err(line, &x.name, ValidationKind::SelfReference);
                continue;
            }
            match first.get(s.as_str()) {
                None => err(
                    line,
                    &x.name,
                    ValidationKind::UnknownSubvolume {
                        subvolume: s.clone(),
                    },
                ),
                Some(&j) if j > i => err(
                    line,
                    &x.name,
                    ValidationKind::DefinedLater {
                        subvolume: s.clone(),
                        defined_at: volumes.get(j).map_or(0, |d| d.line),
                    },
                ),
                Some(_) => {}
            }
        }
    }

    for cycle in find_cycles(volumes, &first) {
        let line = cycle
            .first()
            .and_then(|n| first.get(n.as_str()))
            .and_then(|&i| volumes.get(i))
            .map_or(0, |x| x.line);
        let volume = cycle.first().cloned().unwrap_or_default();
        err(line, &volume, ValidationKind::Cycle { path: cycle });
    }
    errors
}

/// Every cycle reachable in the subvolume relation (self-references excluded, they are reported
/// separately), each as the list of names along it, starting and ending with the same name.
/// Iterative DFS, so deep graphs cannot overflow the stack.
fn find_cycles(volumes: &[Xlator], first: &HashMap<&str, usize>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    let n = volumes.len();
    let mut state = vec![State::New; n];
    let mut cycles = Vec::new();
    let children = |i: usize| -> Vec<usize> {
        volumes.get(i).map_or_else(Vec::new, |x| {
            x.subvolumes
                .iter()
                .filter(|s| **s != x.name)
                .filter_map(|s| first.get(s.as_str()).copied())
                .collect()
        })
    };
    for start in 0..n {
        if state.get(start) != Some(&State::New) {
            continue;
        }
        // Stack of (node, its children, next child index).
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(start, children(start), 0)];
        if let Some(s) = state.get_mut(start) {
            *s = State::OnStack;
        }
        while let Some((node, kids, next)) = stack.last_mut() {
            if let Some(&c) = kids.get(*next) {
                *next += 1;
                match state.get(c) {
                    Some(State::New) => {
                        if let Some(s) = state.get_mut(c) {
                            *s = State::OnStack;
                        }
                        let k = children(c);
                        stack.push((c, k, 0));
                    }
                    Some(State::OnStack) => {
                        let pos = stack.iter().position(|(m, _, _)| *m == c).unwrap_or(0);
                        let mut path: Vec<String> = stack
                            .get(pos..)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|(m, _, _)| volumes.get(*m).map(|x| x.name.clone()))
                            .collect();
                        if let Some(x) = volumes.get(c) {
                            path.push(x.name.clone());
                        }
                        cycles.push(path);
                    }
                    _ => {}
                }
            } else {
                let done = *node;
                if let Some(s) = state.get_mut(done) {
                    *s = State::Done;
                }
                stack.pop();
            }
        }
    }
    cycles
}

/// Write `w` so that the tokenizer reads it back as the same single word.
struct VolWord<'a>(&'a str);

impl fmt::Display for VolWord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.0;
        let plain = !w.is_empty()
            && !w.starts_with('#')
            && keyword(w).is_none()
            && !w.chars().any(|c| is_word_end(c) || c == '`');
        if plain {
            return f.write_str(w);
        }
        f.write_str("\"")?;
        for c in w.chars() {
            if matches!(c, '"' | '\\' | '`') {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

/// Volfile syntax, one block per translator in the layout glusterd uses.
impl fmt::Display for Xlator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "volume {}", VolWord(&self.name))?;
        writeln!(f, "    type {}", VolWord(&self.xlator_type))?;
        for (k, v) in self.options.iter() {
            writeln!(f, "    option {} {}", VolWord(k), VolWord(v))?;
        }
        if !self.subvolumes.is_empty() {
            f.write_str("    subvolumes")?;
            for s in &self.subvolumes {
                write!(f, " {}", VolWord(s))?;
            }
            writeln!(f)?;
        }
        writeln!(f, "end-volume")
    }
}

/// The whole graph in volfile syntax, in definition order; parses back to an equal graph.
impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, x) in self.volumes.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "\
# a comment
volume v-client-0
    type protocol/client
    option remote-host vm
    option remote-subvolume \"/srv/with space/b1\"
end-volume

volume v-dht
    type cluster/distribute
    subvolumes v-client-0
    option lookup-optimize on   # trailing comment
end-volume

volume v
    type debug/io-stats
    option log-level INFO
    option log-level DEBUG
    subvolumes v-dht
end-volume
";

    fn kinds(text: &str) -> Vec<(usize, ValidationKind)> {
        match Graph::parse(text) {
            Err(VolfileError::Invalid(errs)) => {
                errs.into_iter().map(|e| (e.line, e.kind)).collect()
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    fn syntax_line(text: &str) -> usize {
        match Graph::parse(text) {
            Err(VolfileError::Syntax { line, .. }) => line,
            other => panic!("expected syntax error, got {other:?}"),
        }
    }

    #[test]
    fn parses_small_graph() {
        let g = Graph::parse(SMALL).unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(g.top().name, "v");
        assert_eq!(g.top().line, 14);
        let c = g.get("v-client-0").unwrap();
        assert_eq!(c.xlator_type, "protocol/client");
        assert_eq!(
            c.options.get("remote-subvolume"),
            Some("/srv/with space/b1")
        );
        let dht = g.get("v-dht").unwrap();
        assert_eq!(dht.subvolumes, vec!["v-client-0"]);
        assert_eq!(dht.subvolumes_line, 10);
        assert_eq!(dht.options.get("lookup-optimize"), Some("on"));
        // Repeated option: last value wins, as with dict_set().
        assert_eq!(g.top().options.get("log-level"), Some("DEBUG"));
        assert_eq!(g.top().options.len(), 1);
        assert_eq!(
            g.roots()
                .iter()
                .map(|x| x.name.as_str())
                .collect::<Vec<_>>(),
            vec!["v"]
        );
        assert_eq!(g.children(g.top()).next().unwrap().name, "v-dht");
        assert_eq!(g.parents("v-client-0").next().unwrap().name, "v-dht");
    }

    #[test]
    fn display_roundtrip() {
        let g = Graph::parse(SMALL).unwrap();
        let text = g.to_string();
        assert!(text.contains("option remote-subvolume \"/srv/with space/b1\"\n"));
        let g2 = Graph::parse(&text).unwrap();
        assert_eq!(g, g2);
        assert_eq!(text, g2.to_string());
    }

    #[test]
    fn display_quotes_awkward_words() {
        let g = Graph::new(vec![Xlator::new("volume", "t/x")
            .with_option("#k", "")
            .with_option("q", "a\"b\\c`d")
            .with_option("tab", "a\tb")])
        .unwrap();
        let text = g.to_string();
        assert!(text.starts_with("volume \"volume\"\n"), "{text}");
        assert_eq!(Graph::parse(&text).unwrap(), g);
    }

    #[test]
    fn syntax_errors_carry_lines() {
        assert_eq!(syntax_line("volume a\n type t\n"), 2); // missing end-volume
        assert_eq!(syntax_line("volume a\n type t\nvolume b\n"), 3);
        assert_eq!(syntax_line("volume a\n type t\n type u\nend-volume"), 3);
        assert_eq!(syntax_line("volume a\n type t\n subvolumes\nend-volume"), 3);
        assert_eq!(
            syntax_line("volume b type t end-volume\nvolume a\n type t\n subvolumes b\n subvolumes b\nend-volume"),
            5
        );
        assert_eq!(syntax_line("volume a\n type t\n option k\nend-volume"), 4);
        assert_eq!(syntax_line("volume a\n type\nend-volume"), 3);
        assert_eq!(syntax_line("\n\ntype t"), 3);
        assert_eq!(syntax_line("volume a\n type t\n stray\nend-volume"), 3);
        assert_eq!(syntax_line("volume\n"), 1);
        assert_eq!(syntax_line("volume type\n"), 1);
    }

    #[test]
    fn empty_input() {
        assert_eq!(Graph::parse(""), Err(VolfileError::Empty));
        assert_eq!(Graph::parse("# only a comment\n"), Err(VolfileError::Empty));
        assert_eq!(Graph::new(vec![]), Err(VolfileError::Empty));
    }

    #[test]
    fn validation_errors() {
        assert_eq!(
            kinds("volume a\n type t\nend-volume\nvolume a\n type t\nend-volume\n"),
            vec![(4, ValidationKind::DuplicateVolume { first_line: 1 })]
        );
        assert_eq!(
            kinds("volume a\n option k v\nend-volume\n"),
            vec![(1, ValidationKind::MissingType)]
        );
        assert_eq!(
            kinds("volume a\n type t\n\n subvolumes nope\nend-volume\n"),
            vec![(
                4,
                ValidationKind::UnknownSubvolume {
                    subvolume: "nope".into()
                }
            )]
        );
        assert_eq!(
            kinds("volume a\n type t\n subvolumes a\nend-volume\n"),
            vec![(3, ValidationKind::SelfReference)]
        );
        assert_eq!(
            kinds("volume b type t end-volume volume a\n type t\n subvolumes b b\nend-volume\n"),
            vec![(
                3,
                ValidationKind::DuplicateSubvolume {
                    subvolume: "b".into()
                }
            )]
        );
    }

    #[test]
    fn forward_references_and_cycles() {
        let errs = kinds(
            "volume a\n type t\n subvolumes b\nend-volume\n\
             volume b\n type t\n subvolumes a\nend-volume\n",
        );
        assert_eq!(
            errs,
            vec![
                (
                    3,
                    ValidationKind::DefinedLater {
                        subvolume: "b".into(),
                        defined_at: 5
                    }
                ),
                (
                    1,
                    ValidationKind::Cycle {
                        path: vec!["a".into(), "b".into(), "a".into()]
                    }
                ),
            ]
        );
        // A forward reference without a cycle is still rejected (graph.y: "not defined prior
        // to usage").
        let errs =
            kinds("volume a\n type t\n subvolumes b\nend-volume\nvolume b\n type t\nend-volume\n");
        assert!(matches!(
            errs.as_slice(),
            [(3, ValidationKind::DefinedLater { .. })]
        ));
    }

    #[test]
    fn programmatic_graph_with_cycle() {
        let vols = vec![
            Xlator::new("x", "t").with_subvolume("z"),
            Xlator::new("y", "t").with_subvolume("x"),
            Xlator::new("z", "t").with_subvolume("y"),
        ];
        let errs = Graph::validate(&vols);
        assert!(errs.iter().any(|e| e.kind
            == ValidationKind::Cycle {
                path: vec!["x".into(), "z".into(), "y".into(), "x".into()]
            }));
        let msg = Graph::new(vols).unwrap_err().to_string();
        assert!(msg.contains("cycle"), "{msg}");
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let n = 20_000;
        let mut vols = vec![Xlator::new("v0", "t")];
        for i in 1..n {
            vols.push(Xlator::new(format!("v{i}"), "t").with_subvolume(format!("v{}", i - 1)));
        }
        // Close a huge cycle to exercise the DFS at depth.
        vols[0].subvolumes.push(format!("v{}", n - 1));
        let errs = Graph::validate(&vols);
        assert!(errs
            .iter()
            .any(|e| matches!(&e.kind, ValidationKind::Cycle { path } if path.len() == n + 1)));
    }

    #[test]
    fn bytes_input() {
        let mut b = SMALL.as_bytes().to_vec();
        b.extend_from_slice(&[0, 0]);
        assert_eq!(
            Graph::parse_bytes(&b).unwrap(),
            Graph::parse(SMALL).unwrap()
        );
        let bad = b"volume a\n type \xff\nend-volume\n";
        assert_eq!(
            Graph::parse_bytes(bad),
            Err(VolfileError::Syntax {
                line: 2,
                message: "volfile is not valid UTF-8".into()
            })
        );
    }

    #[test]
    fn json_view_roundtrips() {
        let g = Graph::parse(SMALL).unwrap();
        let j = serde_json::to_value(&g).unwrap();
        assert_eq!(j["top"], "v");
        assert_eq!(j["volumes"][0]["type"], "protocol/client");
        assert_eq!(j["volumes"][0]["line"], 2);
        let back: Graph = serde_json::from_value(j).unwrap();
        assert_eq!(back, g);
        // Deserialising validates.
        let bad = serde_json::json!({"volumes": [{"name": "a", "type": "", "options": {}, "subvolumes": []}]});
        assert!(serde_json::from_value::<Graph>(bad).is_err());
    }
}
