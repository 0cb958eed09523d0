//! OIDC Core §12.2: an id_token returned by a refresh must name the same user as the
//! session's, i.e. carry the same `iss`, `sub` and `aud`.

use crate::session::Session;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// `Ok` when the verified `claims` of a refreshed id_token keep the session's issuer,
/// subject and audience; otherwise the name of the first claim that differs.
///
/// The session's `sub` is its indexed user id; its `iss` and `aud` are read from the
/// id_token stored at login (verified then, so its payload is only decoded here).
pub fn same_user(session: &Session, claims: &Map<String, Value>) -> Result<(), &'static str> {
    if claims.get("sub").and_then(Value::as_str) != Some(session.user_id.as_str()) {
        return Err("sub");
    }
    let previous = payload(session.id_token.expose()).ok_or("iss")?;
    if claims.get("iss") != previous.get("iss") || claims.get("iss").is_none() {
        return Err("iss");
    }
    if audiences(claims.get("aud")) != audiences(previous.get("aud"))
        || audiences(claims.get("aud")).is_empty()
    {
        return Err("aud");
    }
    if claims.get("sub") != previous.get("sub") {
        return Err("sub");
    }
    Ok(())
}

/// The claims of a compact JWS, decoded without checking its signature.
fn payload(jwt: &str) -> Option<Map<String, Value>> {
    let encoded = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// `aud` as a sorted list: a string and a one-element array name the same audience.
fn audiences(aud: Option<&Value>) -> Vec<&str> {
    let mut list: Vec<&str> = match aud {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    list.sort_unstable();
    list.dedup();
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use serde_json::json;

    fn jwt(claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{body}.sig")
    }

    fn session(id_token: &Value) -> Session {
        Session {
            client_type: "token".into(),
            user_id: "auth0|1".into(),
            access_token: Secret::new("at"),
            refresh_token: None,
            caller_refresh_token: None,
            id_token: Secret::new(jwt(id_token)),
            token_expires_at: 0,
            expires_at: 0,
            created_at: 0,
            user: json!({"sub": "auth0|1"}).into(),
            auth0_sid: None,
            refreshed_at: None,
            activity_id: None,
            grace_links: Vec::new(),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_same_issuer_subject_and_audience_is_the_same_user() {
        let login = json!({"iss": "https://t/", "sub": "auth0|1", "aud": "client"});
        let refreshed = claims(json!({"iss": "https://t/", "sub": "auth0|1", "aud": ["client"]}));
        assert_eq!(same_user(&session(&login), &refreshed), Ok(()));
    }

    #[test]
    fn another_subject_issuer_or_audience_is_another_user() {
        let login = json!({"iss": "https://t/", "sub": "auth0|1", "aud": "client"});
        let cases = [
            (
                json!({"iss": "https://t/", "sub": "auth0|2", "aud": "client"}),
                "sub",
            ),
            (json!({"iss": "https://t/", "aud": "client"}), "sub"),
            (
                json!({"iss": "https://u/", "sub": "auth0|1", "aud": "client"}),
                "iss",
            ),
            (
                json!({"iss": "https://t/", "sub": "auth0|1", "aud": "other"}),
                "aud",
            ),
            (
                json!({"iss": "https://t/", "sub": "auth0|1", "aud": ["client", "x"]}),
                "aud",
            ),
        ];
        for (refreshed, claim) in cases {
            assert_eq!(
                same_user(&session(&login), &claims(refreshed.clone())),
                Err(claim),
                "{refreshed}"
            );
        }
    }

    #[test]
    fn an_unreadable_stored_id_token_is_not_the_same_user() {
        let mut stored = session(&json!({}));
        stored.id_token = Secret::new("not-a-jwt");
        let refreshed = claims(json!({"iss": "https://t/", "sub": "auth0|1", "aud": "client"}));
        assert_eq!(same_user(&stored, &refreshed), Err("iss"));
    }
}
