// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// A small, strict Lucene parser: it accepts only what a safe translation may produce
// (every special character outside a phrase escaped, explicit AND/OR between clauses,
// `field:value` terms) and fails on anything else, so a value that leaked syntax fails.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Lit(char),
    Any,
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Phrase(String),
    Pattern(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Term(String, Val),
    Exists(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Field(String),
    Phrase(String),
    Word(Vec<Piece>),
}

fn lex(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            ' ' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '"' => {
                i += 1;
                let mut text = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated phrase".into()),
                        Some('"') => break,
                        Some('\\') => {
                            text.push(*chars.get(i + 1).ok_or("dangling escape")?);
                            i += 2;
                        }
                        Some(c) => {
                            text.push(*c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push(Token::Phrase(text));
            }
            _ => {
                let mut pieces = Vec::new();
                let mut plain = true;
                loop {
                    match chars.get(i) {
                        None | Some(' ' | '(' | ')') => break,
                        Some(':') => {
                            let name: String = pieces
                                .iter()
                                .map(|p| match p {
                                    Piece::Lit(c) => *c,
                                    Piece::Any => '*',
                                })
                                .collect();
                            if !plain || name.is_empty() {
                                return Err(format!("bad field name before ':' at {i}"));
                            }
                            tokens.push(Token::Field(name));
                            pieces.clear();
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            pieces.push(Piece::Lit(*chars.get(i + 1).ok_or("dangling escape")?));
                            plain = false;
                            i += 2;
                        }
                        Some('*') => {
                            pieces.push(Piece::Any);
                            plain = false;
                            i += 1;
                        }
                        Some(c) if c.is_alphanumeric() || *c == '_' || *c == '.' => {
                            pieces.push(Piece::Lit(*c));
                            i += 1;
                        }
                        Some(c) => return Err(format!("unescaped {c:?} at {i}")),
                    }
                }
                if pieces.is_empty() {
                    continue;
                }
                let word: String = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Lit(c) => *c,
                        Piece::Any => '*',
                    })
                    .collect();
                tokens.push(match (plain, word.as_str()) {
                    (true, "AND") => Token::And,
                    (true, "OR") => Token::Or,
                    (true, "NOT") => Token::Not,
                    _ => Token::Word(pieces),
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn expr(&mut self) -> Result<Node, String> {
        let mut clauses = vec![self.unary()?];
        let mut operator = None;
        while let Some(token @ (Token::And | Token::Or)) = self.tokens.get(self.pos).cloned() {
            if operator.as_ref().is_some_and(|op| *op != token) {
                return Err("AND and OR mixed without parentheses".into());
            }
            self.pos += 1;
            operator = Some(token);
            clauses.push(self.unary()?);
        }
        Ok(match operator {
            None => clauses.remove(0),
            Some(Token::And) => Node::And(clauses),
            Some(_) => Node::Or(clauses),
        })
    }

    fn unary(&mut self) -> Result<Node, String> {
        match self.next() {
            Some(Token::Not) => Ok(Node::Not(Box::new(self.unary()?))),
            Some(Token::Open) => {
                let inner = self.expr()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    other => Err(format!("expected ')', got {other:?}")),
                }
            }
            Some(Token::Field(field)) => match self.next() {
                Some(Token::Phrase(text)) => Ok(Node::Term(field, Val::Phrase(text))),
                Some(Token::Word(pieces)) if field == "_exists_" => {
                    Ok(Node::Exists(pieces_text(&pieces)))
                }
                Some(Token::Word(pieces)) => Ok(Node::Term(field, Val::Pattern(pieces))),
                other => Err(format!("expected a value, got {other:?}")),
            },
            other => Err(format!("expected a clause, got {other:?}")),
        }
    }
}

fn pieces_text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(c) => *c,
            Piece::Any => '*',
        })
        .collect()
}

fn parse(input: &str) -> Result<Node, String> {
    let mut parser = Parser {
        tokens: lex(input)?,
        pos: 0,
    };
    let node = parser.expr()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("trailing tokens in {input:?}"));
    }
    Ok(node)
}

/// The node a value must parse to on `field`: `*` a wildcard, everything else literal.
fn expected_term(field: &str, value: &str) -> Node {
    let val = if value.contains('*') {
        Val::Pattern(
            value
                .chars()
                .map(|c| if c == '*' { Piece::Any } else { Piece::Lit(c) })
                .collect(),
        )
    } else {
        Val::Phrase(value.to_owned())
    };
    Node::Term(field.to_owned(), val)
}

// ---------------------------------------------------------------------------------------

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn conns() -> Vec<String> {
    vec![
        "Username-Password-Authentication".to_owned(),
        "Other-Database".to_owned(),
    ]
}

fn q(list: &[(&str, &str)]) -> String {
    translate(&pairs(list), None, &[]).unwrap().q.unwrap()
}

fn error(list: &[(&str, &str)], acl: Option<&str>) -> String {
    translate(&pairs(list), acl, &conns()).unwrap_err().0
}

#[test]
fn exact_fields_are_quoted_phrases_and_stars_become_escaped_wildcard_terms() {
    assert_eq!(
        q(&[("email", "dev@example.com")]),
        r#"(email:"dev@example.com")"#
    );
    assert_eq!(q(&[("email", "*@example.com")]), r"(email:*\@example\.com)");
    assert_eq!(
        q(&[("nickname", "jo*"), ("username", "a b")]),
        r#"(nickname:jo* AND username:"a b")"#
    );
    assert_eq!(
        q(&[("app_metadata.groups", "admin")]),
        r#"(app_metadata.groups:"admin")"#
    );
}

#[test]
fn injection_attempts_stay_inside_their_value() {
    assert_eq!(
        q(&[("email", r#"a" OR email:"x"#)]),
        r#"(email:"a\" OR email:\"x")"#
    );
    assert_eq!(
        q(&[("email", r#"a" OR email:*"#)]),
        r#"(email:a\"\ OR\ email\:*)"#
    );
    assert_eq!(q(&[("email", r"\")]), r#"(email:"\\")"#);
    assert_eq!(q(&[("email", "x?y")]), r#"(email:"x?y")"#);
}

#[test]
fn parts_are_parenthesised_and_anded_with_connections_last() {
    let search = translate(
        &pairs(&[
            ("email", "*@example.com"),
            ("app_metadata.groups", "admin"),
            ("_q", r#"{"app_metadata.level":{"$in":[1,2]}}"#),
        ]),
        Some(r#"[{"app_metadata.tenant":"t1"}]"#),
        &conns(),
    )
    .unwrap();
    assert_eq!(
        search.q.unwrap(),
        r#"(email:*\@example\.com AND app_metadata.groups:"admin") AND ((app_metadata.level:"1" OR app_metadata.level:"2")) AND ((app_metadata.tenant:"t1")) AND (identities.connection:"Username-Password-Authentication" OR identities.connection:"Other-Database")"#
    );
    assert_eq!(
        search.page,
        Page {
            per_page: 25,
            page: 0
        }
    );
}

#[test]
fn connections_are_repeated_or_comma_separated_ored_and_must_be_configured() {
    let search = translate(
        &pairs(&[
            (
                "connection",
                "Other-Database, Username-Password-Authentication",
            ),
            ("connection", "Other-Database"),
        ]),
        None,
        &conns(),
    )
    .unwrap();
    assert_eq!(
        search.q.unwrap(),
        r#"(identities.connection:"Other-Database" OR identities.connection:"Username-Password-Authentication")"#
    );
    let message = error(&[("connection", "Evil")], None);
    assert!(
        message.contains("\"Evil\"") && message.contains("Other-Database"),
        "{message}"
    );
    assert_eq!(translate(&[], None, &[]).unwrap().q, None);
}

#[test]
fn the_json_filter_language_translates_each_operator() {
    let one = |filter: &str| {
        translate(&pairs(&[("_q", filter)]), None, &[])
            .unwrap()
            .q
            .unwrap()
    };
    assert_eq!(
        one(r#"{"email":"a@b.c","name":"Al"}"#),
        r#"((email:"a@b.c") AND (name:"Al"))"#
    );
    assert_eq!(
        one(r#"{"$or":[{"email":"a@b.c"},{"app_metadata.groups":{"$in":["admin","dev"]}}]}"#),
        r#"((email:"a@b.c") OR ((app_metadata.groups:"admin" OR app_metadata.groups:"dev")))"#
    );
    assert_eq!(
        one(r#"{"$and":[{"email":"*@b.c"},{"app_metadata.groups":{"$nin":["viewer"]}}]}"#),
        r#"((email:*\@b\.c) AND (NOT (app_metadata.groups:"viewer")))"#
    );
    assert_eq!(
        one(r#"{"nickname":{"$ne":"x","$exists":true}}"#),
        r#"((_exists_:nickname) AND (NOT nickname:"x"))"#
    );
    assert_eq!(
        one(r#"{"blocked":{"$exists":false}}"#),
        r"(NOT _exists_:blocked)"
    );
    assert_eq!(one(r#"{"blocked":{"$eq":true}}"#), r#"(blocked:"true")"#);
    assert_eq!(
        translate(&pairs(&[("_q", "{}")]), None, &[]).unwrap().q,
        None
    );
}

#[test]
fn unsupported_operators_and_malformed_json_are_named() {
    assert!(error(&[("_q", r#"{"email":{"$regex":"a"}}"#)], None).contains("$regex"));
    assert!(error(&[("_q", r#"{"$where":"1"}"#)], None).contains("$where"));
    assert!(error(&[("_q", r#"{"email":"#)], None).contains("_q is not valid JSON"));
    assert!(error(&[], Some("[1]")).contains("acl_rows"));
    assert!(error(&[], Some("[]")).contains("acl_rows header is an empty array"));
    assert!(error(&[("_q", r#"{"email":["a"]}"#)], None).contains("$in"));
    assert!(error(&[("_q", r#"{"app_metadata":{"groups":"a"}}"#)], None).contains("dotted path"));
    assert!(error(&[("_q", r#"{"email OR x":"a"}"#)], None).contains("field"));
    assert!(error(&[("_q", r#"{"_exists_":"email"}"#)], None).contains("cannot start with _"));
    assert!(error(&[("app_metadata.a:b", "x")], None).contains("app_metadata.a:b"));
    assert!(error(&[("sort", "x")], None).contains("Unknown query parameter \"sort\""));
    assert!(error(&[("_q", "{}"), ("_q", "{}")], None).contains("more than once"));
}

#[test]
fn page_size_defaults_to_25_is_at_most_100_and_the_window_ends_at_1000() {
    let page = |list: &[(&str, &str)]| translate(&pairs(list), None, &[]).map(|s| s.page);
    assert_eq!(
        page(&[]).unwrap(),
        Page {
            per_page: 25,
            page: 0
        }
    );
    assert_eq!(
        page(&[("_l", "100"), ("_sk", "9")]).unwrap(),
        Page {
            per_page: 100,
            page: 9
        }
    );
    assert!(
        page(&[("_l", "100"), ("_sk", "10")])
            .unwrap_err()
            .0
            .contains("first 1000")
    );
    assert!(page(&[("_sk", "40")]).unwrap_err().0.contains("first 1000"));
    assert!(
        page(&[("_l", "101")])
            .unwrap_err()
            .0
            .contains("between 1 and 100")
    );
    assert!(page(&[("_l", "0")]).is_err());
    assert!(page(&[("_l", "ten")]).unwrap_err().0.contains("\"ten\""));
    assert!(page(&[("_sk", "-1")]).is_err());
}

#[test]
fn the_test_parser_rejects_leaked_syntax() {
    assert!(parse(r#"(email:"a" OR email:*)"#).is_ok());
    assert!(parse(r"(email:a OR)").is_err());
    assert!(parse(r"(email:a-b)").is_err());
    assert!(parse(r#"(email:"a") email:b"#).is_err());
    assert!(parse(r"(email:a:b)").is_err());
}

fn special_heavy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            '"', '\\', '*', '?', ':', '(', ')', ' ', 'O', 'R', 'A', 'N', 'D', '-', '+', '!', '&',
            '|', '{', '}', '[', ']', '^', '~', '/', '\n', '\t', 'a', '.', '_', 'é', '\u{3000}',
            '\u{0}',
        ]),
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), special_heavy()]
}

fn field_path() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,6}(\\.[a-zA-Z0-9_]{1,6}){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_exact_field_value_parses_to_one_term_on_that_field(
        field in prop::sample::select(vec!["email", "nickname", "username"]),
        value in any_value(),
    ) {
        let q = translate(&pairs(&[(field, &value)]), None, &[]).unwrap().q.unwrap();
        prop_assert_eq!(parse(&q), Ok(expected_term(field, &value)), "{}", q);
    }

    #[test]
    fn any_app_metadata_parameter_is_refused_or_one_term_on_its_path(
        path in prop_oneof![field_path(), any::<String>()],
        value in any_value(),
    ) {
        let name = format!("app_metadata.{path}");
        match translate(&pairs(&[(&name, &value)]), None, &[]) {
            Ok(search) => {
                let q = search.q.unwrap();
                prop_assert_eq!(parse(&q), Ok(expected_term(&name, &value)), "{}", q);
            }
            Err(QueryError(message)) => prop_assert!(field_name(&path).is_err(), "{}", message),
        }
    }

    #[test]
    fn any_json_filter_value_parses_to_terms_on_the_intended_field(
        field in field_path(),
        a in any_value(),
        b in any_value(),
    ) {
        let eq = serde_json::json!({ field.clone(): a }).to_string();
        let q = translate(&pairs(&[("_q", &eq)]), None, &[]).unwrap().q.unwrap();
        prop_assert_eq!(parse(&q), Ok(expected_term(&field, &a)), "{}", q);

        let any_of = serde_json::json!({ field.clone(): {"$in": [a, b]} }).to_string();
        let q = translate(&[], Some(&any_of), &[]).unwrap().q.unwrap();
        prop_assert_eq!(
            parse(&q),
            Ok(Node::Or(vec![expected_term(&field, &a), expected_term(&field, &b)])),
            "{}", q
        );

        let not = serde_json::json!([{ field.clone(): {"$ne": b} }]).to_string();
        let q = translate(&[], Some(&not), &[]).unwrap().q.unwrap();
        prop_assert_eq!(parse(&q), Ok(Node::Not(Box::new(expected_term(&field, &b)))), "{}", q);
    }

    #[test]
    fn any_json_filter_field_name_is_refused_or_used_as_is(name in any::<String>(), value in any_value()) {
        let filter = serde_json::json!({ name.clone(): value }).to_string();
        match translate(&pairs(&[("_q", &filter)]), None, &[]) {
            Ok(search) => {
                let q = search.q.unwrap();
                prop_assert_eq!(parse(&q), Ok(expected_term(&name, &value)), "{}", q);
            }
            Err(_) => prop_assert!(field_name(&name).is_err() || name.starts_with('$')),
        }
    }

    #[test]
    fn every_part_stays_in_its_own_parentheses(
        email in any_value(),
        field in field_path(),
        filter in any_value(),
        acl in any_value(),
    ) {
        let q_filter = serde_json::json!({ field.clone(): filter }).to_string();
        let acl_rows = serde_json::json!({ "app_metadata.tenant": acl }).to_string();
        let search = translate(
            &pairs(&[("email", &email), ("_q", &q_filter)]),
            Some(&acl_rows),
            &conns(),
        ).unwrap();
        let q = search.q.unwrap();
        prop_assert_eq!(
            parse(&q),
            Ok(Node::And(vec![
                expected_term("email", &email),
                expected_term(&field, &filter),
                expected_term("app_metadata.tenant", &acl),
                Node::Or(vec![
                    expected_term("identities.connection", "Username-Password-Authentication"),
                    expected_term("identities.connection", "Other-Database"),
                ]),
            ])),
            "{}", q
        );
    }
}

#[test]
fn exists_clauses_parse_as_exists_on_the_field() {
    let q = translate(
        &pairs(&[("_q", r#"{"app_metadata.x":{"$exists":true}}"#)]),
        None,
        &[],
    )
    .unwrap()
    .q
    .unwrap();
    assert_eq!(parse(&q), Ok(Node::Exists("app_metadata.x".to_owned())));
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "$and",
            "$or",
            "$in",
            "$nin",
            "$ne",
            "$eq",
            "$exists",
            "$regex",
            "email",
            "app_metadata.groups",
            "_exists_",
            "a b",
            "x:y",
            "",
        ])
        .prop_map(str::to_owned),
        field_path(),
        any::<String>(),
    ]
}

fn json_filter() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any_value().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(json_key(), inner, 0..4)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn fields_of(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::And(children) | Node::Or(children) => {
            children.iter().for_each(|child| fields_of(child, out));
        }
        Node::Not(child) => fields_of(child, out),
        Node::Term(field, _) | Node::Exists(field) => out.push(field.clone()),
    }
}

fn scalar() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        3 => any_value().prop_map(serde_json::Value::from),
        1 => any::<i64>().prop_map(serde_json::Value::from),
        1 => any::<bool>().prop_map(serde_json::Value::from),
    ]
}

/// Mostly well-formed conditions (so most translate), with hostile field names and values.
fn condition() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![4 => field_path(), 1 => any::<String>()];
    let operand = prop_oneof![
        scalar(),
        Just(serde_json::Value::Null),
        prop::collection::vec(scalar(), 1..3).prop_map(|v| serde_json::json!({"$in": v})),
        prop::collection::vec(scalar(), 1..3).prop_map(|v| serde_json::json!({"$nin": v})),
        scalar().prop_map(|v| serde_json::json!({"$ne": v})),
        scalar().prop_map(|v| serde_json::json!({"$eq": v})),
        any::<bool>().prop_map(|v| serde_json::json!({"$exists": v})),
    ];
    let leaf = prop::collection::btree_map(key, operand, 1..3)
        .prop_map(|map| serde_json::Value::Object(map.into_iter().collect()));
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| serde_json::json!({"$and": v})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| serde_json::json!({"$or": v})),
            prop::collection::vec(inner, 1..3).prop_map(serde_json::Value::Array),
        ]
    })
}

fn assert_safe(q: &str) -> Result<(), TestCaseError> {
    let node = parse(q);
    prop_assert!(node.is_ok(), "{} -> {:?}", q, node);
    let mut fields = Vec::new();
    fields_of(&node.unwrap(), &mut fields);
    for field in fields {
        prop_assert!(field_name(&field).is_ok(), "{} in {}", field, q);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_json_filter_is_refused_or_parses_with_only_checked_field_names(
        filter in json_filter(),
    ) {
        let params = pairs(&[("_q", &filter.to_string())]);
        if let Ok(UserSearch { q: Some(q), .. }) = translate(&params, None, &[]) {
            assert_safe(&q)?;
        }
    }

    #[test]
    fn well_formed_filters_with_hostile_names_and_values_parse_safely(
        filter in condition(),
        acl in condition(),
    ) {
        let params = pairs(&[("_q", &filter.to_string())]);
        let both = translate(&params, Some(&acl.to_string()), &conns());
        let alone = translate(&params, None, &[]);
        if let Ok(UserSearch { q: Some(q), .. }) = &alone {
            assert_safe(q)?;
        }
        if let Ok(UserSearch { q: Some(q), .. }) = &both {
            assert_safe(q)?;
            prop_assert!(alone.is_ok());
        }
    }
}
