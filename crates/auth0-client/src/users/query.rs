//! The CRUD-like query of `GET /users` translated to one Auth0 user-search v3 (Lucene) query.
//!
//! Pure: no I/O. Inputs are the raw query-string pairs and the `acl_rows` header; the
//! output is the `q` sent to Auth0 plus the page. Every value is emitted either as a
//! quoted phrase (no `*`) or, when it holds `*`, as a bare term with every character but
//! letters, digits and `*` backslash-escaped: `*` is the only syntax a caller can use.
//! Field names are checked against a charset that cannot carry syntax.

pub use crate::auth0::management::Page;
use serde_json::{Map, Value};

/// Default page size (`_l`).
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// Largest page size Auth0 accepts.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Auth0 returns at most the first 1000 results of a search.
pub const RESULT_WINDOW: u64 = 1000;
/// Deepest `$and`/`$or` nesting accepted in a JSON filter.
const MAX_DEPTH: usize = 8;
/// Longest field path accepted.
const MAX_FIELD_LEN: usize = 128;
/// The Auth0 field the `connection` parameter filters on.
const CONNECTION_FIELD: &str = "identities.connection";

/// A query the caller must fix; the message says what and how (answered as `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// The translated search: the Lucene `q` (absent: every user) and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch {
    /// Auth0 `q`, `None` when nothing filters.
    pub q: Option<String>,
    /// Auth0 `per_page` and `page`.
    pub page: Page,
}

/// Translates the query-string pairs of `GET /users` (or `/users/count`) and the
/// `acl_rows` header. `connections` are the managementClient connection names: the
/// `connection` parameter must name one of them (any, when none are configured), and
/// without it every one of them is searched.
pub fn translate(
    params: &[(String, String)],
    acl_rows: Option<&str>,
    connections: &[String],
) -> Result<UserSearch, QueryError> {
    let mut per_page = None;
    let mut page = None;
    let mut json_filter = None;
    let mut filters = Vec::new();
    let mut requested = Vec::new();
    for (name, value) in params {
        match name.as_str() {
            "_l" => set_once(&mut per_page, name, number(name, value)?)?,
            "_sk" => set_once(&mut page, name, number(name, value)?)?,
            "_q" => set_once(&mut json_filter, name, value.as_str())?,
            "email" | "nickname" | "username" => filters.push(term(name, value)),
            "connection" => requested.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            ),
            other => match other.strip_prefix("app_metadata.") {
                Some(path) => {
                    field_name(path)
                        .map_err(|why| QueryError(format!("Query parameter {other:?}: {why}.")))?;
                    filters.push(term(other, value));
                }
                None => {
                    return Err(QueryError(format!(
                        "Unknown query parameter {other:?}: use _l, _sk, _q, email, nickname, \
                         username, connection or app_metadata.<path>."
                    )));
                }
            },
        }
    }
    let page = checked_page(per_page, page)?;
    let mut parts = Vec::new();
    if !filters.is_empty() {
        parts.push(filters.join(" AND "));
    }
    if let Some(raw) = json_filter {
        parts.extend(json_part("_q", raw)?);
    }
    if let Some(raw) = acl_rows {
        parts.extend(json_part("the acl_rows header", raw)?);
    }
    parts.extend(connection_part(&requested, connections)?);
    let q = match parts.as_slice() {
        [] => None,
        parts => Some(
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    };
    Ok(UserSearch { q, page })
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), QueryError> {
    if slot.replace(value).is_some() {
        return Err(QueryError(format!(
            "Query parameter {name} is given more than once; give it once."
        )));
    }
    Ok(())
}

fn number(name: &str, value: &str) -> Result<u32, QueryError> {
    value.trim().parse::<u32>().map_err(|_| {
        QueryError(format!(
            "Query parameter {name} must be a non-negative integer, got {value:?}."
        ))
    })
}

fn checked_page(per_page: Option<u32>, page: Option<u32>) -> Result<Page, QueryError> {
    let per_page = per_page.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&per_page) {
        return Err(QueryError(format!(
            "Query parameter _l must be between 1 and {MAX_PAGE_SIZE}."
        )));
    }
    let page = page.unwrap_or(0);
    if (u64::from(page) + 1) * u64::from(per_page) > RESULT_WINDOW {
        return Err(QueryError(format!(
            "Auth0 returns only the first {RESULT_WINDOW} results of a search: \
             (_sk + 1) * _l must not exceed {RESULT_WINDOW}; narrow the filters instead."
        )));
    }
    Ok(Page { per_page, page })
}

fn connection_part(
    requested: &[String],
    configured: &[String],
) -> Result<Option<String>, QueryError> {
    if let Some(unknown) = requested
        .iter()
        .find(|c| !configured.is_empty() && !configured.contains(c))
    {
        return Err(QueryError(format!(
            "Connection {unknown:?} is not a managementClient connection; use one of: {}.",
            configured.join(", ")
        )));
    }
    let mut names: Vec<&String> = Vec::new();
    let wanted = if requested.is_empty() {
        configured
    } else {
        requested
    };
    for name in wanted {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        names
            .iter()
            .map(|name| term(CONNECTION_FIELD, name))
            .collect::<Vec<_>>()
            .join(" OR "),
    ))
}

/// Parses and translates a JSON filter (`_q`, `acl_rows`); `None` when it filters nothing.
fn json_part(source: &str, raw: &str) -> Result<Option<String>, QueryError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| QueryError(format!("{source} is not valid JSON: {e}.")))?;
    let translated = match &value {
        Value::Object(map) => object(source, map, 0)?,
        Value::Array(items) if items.is_empty() => {
            return Err(QueryError(format!(
                "{source} is an empty array: give at least one condition."
            )));
        }
        Value::Array(items) => Some(all_of(source, items, " AND ", 0)?),
        _ => {
            return Err(QueryError(format!(
                "{source} must be a JSON object (or an array of objects) of conditions."
            )));
        }
    };
    Ok(translated)
}

/// `(a) AND (b)` / `(a) OR (b)` of a non-empty array of condition objects.
fn all_of(source: &str, items: &[Value], joiner: &str, depth: usize) -> Result<String, QueryError> {
    if depth >= MAX_DEPTH {
        return Err(QueryError(format!(
            "{source} nests $and/$or deeper than {MAX_DEPTH} levels."
        )));
    }
    let mut clauses = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            return Err(QueryError(format!(
                "{source}: every entry of $and, $or or of the array must be an object of conditions."
            )));
        };
        let clause = object(source, map, depth + 1)?.ok_or_else(|| {
            QueryError(format!(
                "{source}: an entry of $and, $or or of the array is an empty object."
            ))
        })?;
        clauses.push(format!("({clause})"));
    }
    Ok(clauses.join(joiner))
}

/// The conditions of one object, ANDed; `None` for `{}`.
fn object(
    source: &str,
    map: &Map<String, Value>,
    depth: usize,
) -> Result<Option<String>, QueryError> {
    let mut clauses = Vec::new();
    for (key, value) in map {
        let clause = match key.as_str() {
            "$and" | "$or" => {
                let joiner = if key == "$and" { " AND " } else { " OR " };
                match value {
                    Value::Array(items) if !items.is_empty() => {
                        all_of(source, items, joiner, depth)?
                    }
                    _ => {
                        return Err(QueryError(format!(
                            "{source}: {key} takes a non-empty array of objects."
                        )));
                    }
                }
            }
            operator if operator.starts_with('$') => {
                return Err(QueryError(format!(
                    "{source}: unsupported operator {operator}; use $and, $or, $in, $nin, $ne, \
                     $eq or $exists."
                )));
            }
            field => {
                field_name(field)
                    .map_err(|why| QueryError(format!("{source}: field {field:?}: {why}.")))?;
                field_condition(source, field, value)?
            }
        };
        clauses.push(clause);
    }
    Ok(match clauses.len() {
        0 => None,
        1 => clauses.pop(),
        _ => Some(
            clauses
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    })
}

fn field_condition(source: &str, field: &str, value: &Value) -> Result<String, QueryError> {
    match value {
        Value::Null => Ok(format!("NOT _exists_:{field}")),
        Value::Object(ops) if !ops.is_empty() && ops.keys().all(|k| k.starts_with('$')) => {
            let mut clauses = Vec::new();
            for (operator, operand) in ops {
                clauses.push(operator_condition(source, field, operator, operand)?);
            }
            Ok(if clauses.len() == 1 {
                clauses.remove(0)
            } else {
                clauses
                    .iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            })
        }
        Value::Object(_) => Err(QueryError(format!(
            "{source}: the value of {field:?} must be a string, number, boolean or an object of \
             operators; for a nested property use a dotted path ({field}.name)."
        ))),
        Value::Array(_) => Err(QueryError(format!(
            "{source}: the value of {field:?} is an array; use {{\"$in\": [...]}} to match any of several values."
        ))),
        scalar => Ok(term(field, &scalar_text(source, field, scalar)?)),
    }
}

fn operator_condition(
    source: &str,
    field: &str,
    operator: &str,
    operand: &Value,
) -> Result<String, QueryError> {
    match operator {
        "$eq" => Ok(term(field, &scalar_text(source, field, operand)?)),
        "$ne" => Ok(format!(
            "NOT {}",
            term(field, &scalar_text(source, field, operand)?)
        )),
        "$in" | "$nin" => {
            let items = match operand {
                Value::Array(items) if !items.is_empty() => items,
                _ => {
                    return Err(QueryError(format!(
                        "{source}: {operator} on {field:?} takes a non-empty array of values."
                    )));
                }
            };
            let terms = items
                .iter()
                .map(|item| scalar_text(source, field, item).map(|text| term(field, &text)))
                .collect::<Result<Vec<_>, _>>()?
                .join(" OR ");
            Ok(if operator == "$in" {
                format!("({terms})")
            } else {
                format!("NOT ({terms})")
            })
        }
        "$exists" => match operand {
            Value::Bool(true) => Ok(format!("_exists_:{field}")),
            Value::Bool(false) => Ok(format!("NOT _exists_:{field}")),
            _ => Err(QueryError(format!(
                "{source}: $exists on {field:?} takes true or false."
            ))),
        },
        other => Err(QueryError(format!(
            "{source}: unsupported operator {other} on {field:?}; use $in, $nin, $ne, $eq or $exists."
        ))),
    }
}

fn scalar_text(source: &str, field: &str, value: &Value) -> Result<String, QueryError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(QueryError(format!(
            "{source}: the values compared with {field:?} must be strings, numbers or booleans."
        ))),
    }
}

/// Checks a dotted field path: segments of ASCII letters, digits and `_`, not starting
/// with `_` (reserved names such as `_exists_`). Such a name cannot carry query syntax.
pub fn field_name(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > MAX_FIELD_LEN {
        return Err(format!("a field path has 1 to {MAX_FIELD_LEN} characters"));
    }
    if path.starts_with('_') {
        return Err("a field path cannot start with _".to_owned());
    }
    let valid = path.split('.').all(|segment| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if valid {
        Ok(())
    } else {
        Err("a field path is dot-separated names of letters, digits and _".to_owned())
    }
}

/// `field:<value>` for a field already checked by [`field_name`].
fn term(field: &str, value: &str) -> String {
    format!("{field}:{}", literal(value))
}

/// A value as Lucene syntax that matches exactly it, `*` being the only wildcard:
/// a quoted phrase (`"` and `\` escaped) when it holds no `*` (phrases do not expand
/// wildcards), else a bare term with every character but letters, digits and `*`
/// backslash-escaped.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    if value.contains('*') {
        for c in value.chars() {
            if !(c == '*' || c.is_alphanumeric()) {
                out.push('\\');
            }
            out.push(c);
        }
    } else {
        out.push('"');
        for c in value.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests;
