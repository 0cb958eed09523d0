//! Logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4), verified
//! against the tenant's JWKS like id_tokens, with the logout token's own claim rules.

use super::{Expected, JwksCache, LEEWAY_SECONDS, TokenError};
use crate::secret::Secret;
use jsonwebtoken::{Validation, decode};
use serde_json::{Map, Value};
use std::time::Duration;

/// The `events` member a logout token must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What a verified logout token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// `iss`.
    pub issuer: String,
    /// `jti`: unique per token (the replay cache's key).
    pub jti: String,
    /// `sub`, when present.
    pub sub: Option<String>,
    /// `sid` (Auth0's session id), when present.
    pub sid: Option<String>,
}

impl JwksCache {
    /// Verifies a logout token: signature (the client's algorithms), `iss`, `aud`, `exp`
    /// when present, `iat` within `max_age` (and not in the future), a `jti`, the
    /// back-channel logout event, no `nonce`, and a `sub` and/or `sid`.
    pub async fn verify_logout_token(
        &self,
        token: &Secret,
        expected: &Expected<'_>,
        max_age: Duration,
        now: i64,
    ) -> Result<LogoutClaims, TokenError> {
        let raw = token.expose();
        let (alg, key) = self.signing_key(raw, expected).await?;
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[expected.issuer]);
        validation.set_audience(&[expected.audience]);
        validation.set_required_spec_claims(&["iss", "aud"]);
        let claims = decode::<Map<String, Value>>(raw, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        check_claims(&claims, expected.issuer, max_age, now)
    }
}

fn invalid(message: &str) -> TokenError {
    TokenError::Invalid(message.to_owned())
}

fn non_empty(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The claim rules of a logout token once its signature, `iss` and `aud` hold.
fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    max_age: Duration,
    now: i64,
) -> Result<LogoutClaims, TokenError> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("iat is missing"))?;
    let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(0);
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    if iat > now.saturating_add(leeway) {
        return Err(invalid("iat is in the future"));
    }
    if now.saturating_sub(iat) > max_age.saturating_add(leeway) {
        return Err(invalid("iat is too old"));
    }
    let jti = non_empty(claims, "jti").ok_or_else(|| invalid("jti is missing"))?;
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(invalid(
            "events does not hold the back-channel logout event",
        ));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not carry a nonce"));
    }
    let sub = non_empty(claims, "sub");
    let sid = non_empty(claims, "sid");
    if sub.is_none() && sid.is_none() {
        return Err(invalid("neither sub nor sid is present"));
    }
    Ok(LogoutClaims {
        issuer: issuer.to_owned(),
        jti,
        sub,
        sid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn valid() -> Value {
        json!({
            "iss": "https://t/", "aud": "c", "iat": NOW, "jti": "j1", "sid": "s1", "sub": "u1",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    fn check(value: Value) -> Result<LogoutClaims, TokenError> {
        check_claims(&claims(value), "https://t/", Duration::from_secs(120), NOW)
    }

    fn without(name: &str) -> Value {
        let mut value = valid();
        value.as_object_mut().map(|map| map.remove(name));
        value
    }

    fn with(name: &str, claim: Value) -> Value {
        let mut value = valid();
        value
            .as_object_mut()
            .map(|map| map.insert(name.to_owned(), claim));
        value
    }

    fn message(result: Result<LogoutClaims, TokenError>) -> String {
        match result {
            Err(TokenError::Invalid(message)) => message,
            other => format!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn a_valid_token_yields_its_sid_sub_and_jti() {
        let claims = check(valid()).unwrap();
        assert_eq!(claims.sid.as_deref(), Some("s1"));
        assert_eq!(claims.sub.as_deref(), Some("u1"));
        assert_eq!(claims.jti, "j1");
        assert!(check(without("sid")).is_ok());
        assert!(check(without("sub")).is_ok());
    }

    #[test]
    fn each_missing_or_forbidden_claim_is_named() {
        assert!(message(check(without("iat"))).contains("iat"));
        assert!(message(check(with("iat", json!(NOW + 600)))).contains("future"));
        assert!(message(check(with("iat", json!(NOW - 600)))).contains("old"));
        assert!(message(check(without("jti"))).contains("jti"));
        assert!(message(check(without("events"))).contains("events"));
        assert!(message(check(with("events", json!({"other": {}})))).contains("events"));
        assert!(message(check(with("nonce", json!("n")))).contains("nonce"));
        let neither = {
            let mut value = without("sid");
            value.as_object_mut().map(|map| map.remove("sub"));
            value
        };
        assert!(message(check(neither)).contains("sub nor sid"));
    }
}
