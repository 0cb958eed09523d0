//! The subset of Lucene query syntax Auth0's user search v3 accepts, and its evaluation
//! against users' JSON: `field:value`, quoted phrases, `*`/`?` wildcards, `AND`/`OR`/`NOT`
//! (and `&&`, `||`, `!`, `-`, `+`), parentheses, `field:(a OR b)`, `_exists_:field`,
//! ranges `[a TO b]` / `{a TO b}`, backslash escapes. The default operator is `OR`; `NOT`
//! and `-` prohibit a clause, as in Lucene (`a NOT b` = a and not b).

use serde_json::Value;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Query {
    /// Matches every user (`*:*` or an empty query).
    All,
    /// Any of these.
    Or(Vec<Query>),
    /// All of these.
    And(Vec<Query>),
    /// Not this.
    Not(Box<Query>),
    /// A value on a field (`None`: the default fields).
    Term {
        field: Option<String>,
        pattern: Pattern,
    },
    /// The field has a value.
    Exists(String),
    /// A range on a field.
    Range {
        field: Option<String>,
        low: Bound,
        high: Bound,
    },
}

/// A range bound.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    /// `*`.
    Open,
    /// A value, inclusive (`[`/`]`) or not (`{`/`}`).
    Value { value: String, inclusive: bool },
}

/// A value to match.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    /// Exact value (quoted phrase or plain term).
    Exact(String),
    /// A term with wildcards.
    Wildcard(Vec<Piece>),
}

/// Part of a wildcard pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// A literal character.
    Char(char),
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
}

/// A syntax error, with what was wrong.
#[derive(Debug, PartialEq)]
pub(crate) struct SyntaxError(pub(crate) String);

/// Parses a query string.
pub(crate) fn parse(input: &str) -> Result<Query, SyntaxError> {
    let mut parser = Parser {
        chars: input.chars().collect(),
        pos: 0,
    };
    parser.skip_ws();
    if parser.at_end() {
        return Ok(Query::All);
    }
    let query = parser.parse_or(None)?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(SyntaxError(format!(
            "unexpected '{}' at position {}",
            parser.chars[parser.pos], parser.pos
        )));
    }
    Ok(query)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

/// Term separators of Lucene's classic query parser.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{3000}')
}

const SPECIAL: &[char] = &['(', ')', ':', '"', '[', ']', '{', '}', '\\'];

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_separator) {
            self.pos += 1;
        }
    }

    /// Whether the input continues with `word` as a whole operator word.
    fn at_word(&self, word: &str) -> bool {
        let len = word.chars().count();
        let matches = self.chars.len() >= self.pos + len
            && self.chars[self.pos..self.pos + len]
                .iter()
                .copied()
                .eq(word.chars());
        let symbolic = !word.chars().all(char::is_alphabetic);
        matches
            && (symbolic
                || self
                    .chars
                    .get(self.pos + len)
                    .is_none_or(|c| is_separator(*c) || *c == '(' || *c == '"'))
    }

    fn eat_word(&mut self, words: &[&str]) -> bool {
        for word in words {
            if self.at_word(word) {
                self.pos += word.chars().count();
                return true;
            }
        }
        false
    }

    fn parse_or(&mut self, field: Option<&str>) -> Result<Query, SyntaxError> {
        let mut clauses = vec![self.parse_and(field)?];
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') {
                break;
            }
            self.eat_word(&["OR", "||"]);
            self.skip_ws();
            clauses.push(self.parse_and(field)?);
        }
        Ok(if clauses.len() == 1 {
            clauses.remove(0)
        } else {
            Query::Or(clauses)
        })
    }

    fn parse_and(&mut self, field: Option<&str>) -> Result<Query, SyntaxError> {
        let mut clauses = vec![self.parse_unary(field)?];
        loop {
            self.skip_ws();
            if !self.eat_word(&["AND", "&&"]) {
                break;
            }
            self.skip_ws();
            clauses.push(self.parse_unary(field)?);
        }
        Ok(if clauses.len() == 1 {
            clauses.remove(0)
        } else {
            Query::And(clauses)
        })
    }

    fn parse_unary(&mut self, field: Option<&str>) -> Result<Query, SyntaxError> {
        self.skip_ws();
        if self.eat_word(&["NOT", "!", "-"]) {
            return Ok(Query::Not(Box::new(self.parse_unary(field)?)));
        }
        if self.eat_word(&["+"]) {
            return self.parse_unary(field);
        }
        self.parse_primary(field)
    }

    fn parse_primary(&mut self, field: Option<&str>) -> Result<Query, SyntaxError> {
        self.skip_ws();
        match self.peek() {
            None => Err(SyntaxError("unexpected end of query".to_owned())),
            Some('(') => self.parse_group(field),
            Some('"') => Ok(Query::Term {
                field: field.map(str::to_owned),
                pattern: Pattern::Exact(self.phrase()?),
            }),
            Some('[') | Some('{') => self.parse_range(field),
            Some(')') => Err(SyntaxError(format!(
                "unexpected ')' at position {}",
                self.pos
            ))),
            Some(_) => {
                let (text, pieces) = self.term()?;
                if self.peek() == Some(':') && field.is_none() {
                    self.pos += 1;
                    if text == "_exists_" {
                        let (name, _) = self.term()?;
                        return Ok(Query::Exists(name));
                    }
                    if text == "*" && self.peek() == Some('*') {
                        self.pos += 1;
                        return Ok(Query::All);
                    }
                    return self.parse_value(&text);
                }
                Ok(term_query(field, text, pieces))
            }
        }
    }

    fn parse_value(&mut self, field: &str) -> Result<Query, SyntaxError> {
        match self.peek() {
            Some('(') => self.parse_group(Some(field)),
            Some('"') => Ok(Query::Term {
                field: Some(field.to_owned()),
                pattern: Pattern::Exact(self.phrase()?),
            }),
            Some('[') | Some('{') => self.parse_range(Some(field)),
            Some(c) if !is_separator(c) && c != ')' => {
                let (text, pieces) = self.term()?;
                Ok(term_query(Some(field), text, pieces))
            }
            _ => Err(SyntaxError(format!("missing value for field {field}"))),
        }
    }

    fn parse_group(&mut self, field: Option<&str>) -> Result<Query, SyntaxError> {
        self.pos += 1;
        let inner = self.parse_or(field)?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(SyntaxError("missing closing parenthesis".to_owned()));
        }
        self.pos += 1;
        Ok(inner)
    }

    fn phrase(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(SyntaxError("unterminated quoted phrase".to_owned())),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| SyntaxError("dangling escape".to_owned()))?;
                    out.push(escaped);
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A bare term: its literal text (escapes resolved) and its wildcard pieces.
    fn term(&mut self) -> Result<(String, Vec<Piece>), SyntaxError> {
        let mut text = String::new();
        let mut pieces = Vec::new();
        while let Some(c) = self.peek() {
            if is_separator(c) || (SPECIAL.contains(&c) && c != '\\') {
                break;
            }
            self.pos += 1;
            match c {
                '\\' => {
                    let escaped = self
                        .peek()
                        .ok_or_else(|| SyntaxError("dangling escape".to_owned()))?;
                    self.pos += 1;
                    text.push(escaped);
                    pieces.push(Piece::Char(escaped));
                }
                '*' => {
                    text.push(c);
                    pieces.push(Piece::Any);
                }
                '?' => {
                    text.push(c);
                    pieces.push(Piece::One);
                }
                _ => {
                    text.push(c);
                    pieces.push(Piece::Char(c));
                }
            }
        }
        if pieces.is_empty() {
            return Err(SyntaxError(format!(
                "expected a term at position {}",
                self.pos
            )));
        }
        Ok((text, pieces))
    }

    fn parse_range(&mut self, field: Option<&str>) -> Result<Query, SyntaxError> {
        let low_inclusive = self.peek() == Some('[');
        self.pos += 1;
        self.skip_ws();
        let (low, _) = self.term()?;
        self.skip_ws();
        if !self.eat_word(&["TO"]) {
            return Err(SyntaxError("expected TO in range".to_owned()));
        }
        self.skip_ws();
        let (high, _) = self.range_end()?;
        let high_inclusive = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(SyntaxError("unterminated range".to_owned())),
        };
        self.pos += 1;
        let bound = |value: String, inclusive: bool| {
            if value == "*" {
                Bound::Open
            } else {
                Bound::Value { value, inclusive }
            }
        };
        Ok(Query::Range {
            field: field.map(str::to_owned),
            low: bound(low, low_inclusive),
            high: bound(high, high_inclusive),
        })
    }

    fn range_end(&mut self) -> Result<(String, Vec<Piece>), SyntaxError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !is_separator(c) && c != ']' && c != '}')
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.skip_ws();
        if text.is_empty() {
            return Err(SyntaxError("empty range bound".to_owned()));
        }
        Ok((text, Vec::new()))
    }
}

fn term_query(field: Option<&str>, text: String, pieces: Vec<Piece>) -> Query {
    let field = field.map(str::to_owned);
    if pieces.iter().any(|p| matches!(p, Piece::Any | Piece::One)) {
        Query::Term {
            field,
            pattern: Pattern::Wildcard(pieces),
        }
    } else {
        Query::Term {
            field,
            pattern: Pattern::Exact(text),
        }
    }
}

/// Fields whose values match case-insensitively (Auth0's normalized user fields).
const CASE_INSENSITIVE: [&str; 5] = ["email", "name", "given_name", "family_name", "nickname"];
/// Fields a term without a field name is matched against.
const DEFAULT_FIELDS: [&str; 7] = [
    "email",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "username",
    "user_id",
];

impl Query {
    /// Whether a user (Auth0's JSON shape) matches.
    pub(crate) fn matches(&self, user: &Value) -> bool {
        match self {
            Query::All => true,
            // Lucene's boolean semantics: a negated clause in a list of optional clauses
            // is prohibited (`a NOT b` = a and not b), the others need one match.
            Query::Or(clauses) => {
                let mut any_positive = false;
                let mut positive_hit = false;
                for clause in clauses {
                    match clause {
                        Query::Not(inner) => {
                            if inner.matches(user) {
                                return false;
                            }
                        }
                        positive => {
                            any_positive = true;
                            positive_hit = positive_hit || positive.matches(user);
                        }
                    }
                }
                positive_hit || !any_positive
            }
            Query::And(clauses) => clauses.iter().all(|q| q.matches(user)),
            Query::Not(inner) => !inner.matches(user),
            Query::Exists(field) => !values(user, field).is_empty(),
            Query::Term {
                field: Some(field),
                pattern,
            } => field_matches(user, field, pattern),
            Query::Term {
                field: None,
                pattern,
            } => DEFAULT_FIELDS
                .iter()
                .any(|f| field_matches(user, f, pattern)),
            Query::Range { field, low, high } => {
                let fields: Vec<&str> = match field {
                    Some(field) => vec![field.as_str()],
                    None => DEFAULT_FIELDS.to_vec(),
                };
                fields
                    .iter()
                    .any(|f| values(user, f).iter().any(|v| in_range(v, low, high)))
            }
        }
    }
}

fn field_matches(user: &Value, field: &str, pattern: &Pattern) -> bool {
    let fold = CASE_INSENSITIVE.contains(&field) || field == "email.domain";
    let found = values(user, field);
    match pattern {
        Pattern::Exact(expected) => found.iter().any(|v| {
            if fold {
                v.to_lowercase() == expected.to_lowercase()
            } else {
                v == expected
            }
        }),
        Pattern::Wildcard(pieces) => {
            let pieces: Vec<Piece> = if fold {
                pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Char(c) => Piece::Char(c.to_lowercase().next().unwrap_or(*c)),
                        other => other.clone(),
                    })
                    .collect()
            } else {
                pieces.clone()
            };
            found.iter().any(|v| {
                let chars: Vec<char> = if fold {
                    v.to_lowercase().chars().collect()
                } else {
                    v.chars().collect()
                };
                wildcard_match(&pieces, &chars)
            })
        }
    }
}

/// The scalar values at a dotted path, descending through arrays (as Auth0 indexes them).
pub(crate) fn values(user: &Value, field: &str) -> Vec<String> {
    if field == "email.domain" {
        return values(user, "email")
            .into_iter()
            .filter_map(|e| e.rsplit_once('@').map(|(_, d)| d.to_owned()))
            .collect();
    }
    let mut current = vec![user];
    for segment in field.split('.') {
        let mut next = Vec::new();
        for value in current {
            collect(value.get(segment), &mut next);
        }
        current = next;
    }
    current
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .collect()
}

fn collect<'v>(value: Option<&'v Value>, out: &mut Vec<&'v Value>) {
    match value {
        Some(Value::Array(items)) => {
            for item in items {
                collect(Some(item), out);
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => out.push(other),
    }
}

fn wildcard_match(pattern: &[Piece], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Piece::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Piece::One) => {
                p += 1;
                t += 1;
            }
            Some(Piece::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|piece| *piece == Piece::Any)
}

fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn in_range(value: &str, low: &Bound, high: &Bound) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    let above = match low {
        Bound::Open => true,
        Bound::Value {
            value: bound,
            inclusive,
        } => match compare(value, bound) {
            Greater => true,
            Less => false,
            _ => *inclusive,
        },
    };
    let below = match high {
        Bound::Open => true,
        Bound::Value {
            value: bound,
            inclusive,
        } => match compare(value, bound) {
            Less => true,
            Greater => false,
            _ => *inclusive,
        },
    };
    above && below
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "user_id": "auth0|abc123",
            "email": "Jane.Doe@Example.com",
            "name": "Jane Doe",
            "nickname": "jane",
            "username": "jdoe",
            "logins_count": 7,
            "identities": [{"connection": "Username-Password-Authentication", "provider": "auth0"}],
            "app_metadata": {"groups": ["admin", "dev"], "plan": {"tier": "gold"}, "active": true},
            "user_metadata": {"theme": "Dark"}
        })
    }

    fn hit(q: &str) -> bool {
        match parse(q) {
            Ok(query) => query.matches(&user()),
            Err(e) => panic!("{q}: {e:?}"),
        }
    }

    #[test]
    fn normalized_fields_ignore_case_and_metadata_does_not() {
        assert!(hit("email:\"jane.doe@example.com\""));
        assert!(hit("name:\"JANE DOE\""));
        assert!(hit("user_metadata.theme:Dark"));
        assert!(!hit("user_metadata.theme:dark"));
    }

    #[test]
    fn arrays_nested_objects_and_identities_are_searched() {
        assert!(hit("app_metadata.groups:admin"));
        assert!(hit("app_metadata.groups:\"dev\""));
        assert!(!hit("app_metadata.groups:viewer"));
        assert!(hit("app_metadata.plan.tier:gold"));
        assert!(hit("app_metadata.active:true"));
        assert!(hit(
            "identities.connection:\"Username-Password-Authentication\""
        ));
        assert!(hit("email.domain:example.com"));
    }

    #[test]
    fn boolean_operators_groups_and_default_or() {
        assert!(hit("nickname:jane AND username:jdoe"));
        assert!(!hit("nickname:jane AND username:other"));
        assert!(hit("nickname:nobody OR username:jdoe"));
        assert!(hit("nickname:nobody username:jdoe"));
        assert!(hit("NOT nickname:nobody"));
        assert!(
            !hit("nickname:jane NOT username:jdoe"),
            "NOT prohibits even after OR"
        );
        assert!(!hit("nickname:jane OR -username:jdoe"));
        assert!(hit("nickname:jane NOT username:other"));
        assert!(
            !hit("nickname:nobody NOT username:other"),
            "a positive clause must match"
        );
        assert!(!hit("-nickname:jane"));
        assert!(hit(
            "(nickname:x OR nickname:jane) AND (app_metadata.groups:admin)"
        ));
        assert!(hit("app_metadata.groups:(viewer OR admin)"));
        assert!(!hit("app_metadata.groups:(viewer OR other)"));
        assert!(hit("_exists_:user_metadata.theme"));
        assert!(!hit("_exists_:user_metadata.missing"));
    }

    #[test]
    fn wildcards_match_and_quoted_stars_are_literal() {
        assert!(hit("email:jane*"));
        assert!(hit("email:*@example.com"));
        assert!(hit("name:J?ne*"));
        assert!(!hit("email:\"jane*\""));
        assert!(!hit("email:john*"));
    }

    #[test]
    fn escapes_keep_special_characters_literal() {
        let query = parse(r"user_id:auth0\|abc123").map_err(|e| e.0);
        assert_eq!(
            query,
            Ok(Query::Term {
                field: Some("user_id".into()),
                pattern: Pattern::Exact("auth0|abc123".into())
            })
        );
        assert!(hit(r"user_id:auth0\|abc123"));
        assert!(!hit(r"email:jane\*"));
        let escaped_paren = parse(r"name:a\)b").map_err(|e| e.0);
        assert_eq!(
            escaped_paren,
            Ok(Query::Term {
                field: Some("name".into()),
                pattern: Pattern::Exact("a)b".into())
            })
        );
    }

    #[test]
    fn ranges_compare_numbers() {
        assert!(hit("logins_count:[5 TO 10]"));
        assert!(!hit("logins_count:{7 TO 10]"));
        assert!(hit("logins_count:[7 TO *]"));
    }

    /// Escapes every character Lucene gives a meaning to.
    fn escape(value: &str) -> String {
        let mut out = String::new();
        for c in value.chars() {
            if "+-&|!(){}[]^\"~*?:\\/ \t\n\r\u{3000}".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_fails_without_panicking(input in "\\PC{0,60}") {
            if let Ok(query) = parse(&input) {
                let _ = query.matches(&user());
            }
        }

        #[test]
        fn an_escaped_value_matches_exactly_that_value_in_its_field(value in "\\PC{1,30}") {
            let target = json!({"nickname": "x", "user_metadata": {"v": value.clone()}});
            let query = parse(&format!("user_metadata.v:{}", escape(&value)));
            proptest::prop_assert!(query.is_ok(), "{value:?}");
            let query = query.map_err(|e| e.0).unwrap_or(Query::All);
            proptest::prop_assert!(query.matches(&target));
            let other = json!({"nickname": value.clone(), "user_metadata": {"v": format!("{value}x")}});
            proptest::prop_assert!(!query.matches(&other), "the value stays in its field");
        }
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(parse("(email:a").is_err());
        assert!(parse("email:\"a").is_err());
        assert!(parse("email:").is_err());
        assert!(parse("a)").is_err());
        assert_eq!(parse("").map_err(|e| e.0), Ok(Query::All));
        assert_eq!(parse("*:*").map_err(|e| e.0), Ok(Query::All));
    }
}
