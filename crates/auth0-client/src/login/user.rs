//! The user object answered by `/userinfo`, built once from the verified id_token at login.

use serde_json::{Map, Value};

/// OpenID Connect standard claims carried over to the user object.
const STANDARD_CLAIMS: &[&str] = &[
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// Maps verified id_token claims to the user object of SPEC §4: standard claims,
/// `userId` (= `sub`), each custom claim matched by `namespaces` under its last path
/// segment, and `groups` (= `app_metadata.groups`, `[]` when absent).
///
/// A namespace entry matches a claim named exactly like it, or, when it ends with `/`,
/// every claim it prefixes (`https://example.com/` matches `https://example.com/app_metadata`).
pub fn user_object(claims: &Map<String, Value>, namespaces: &[String]) -> Value {
    let mut user = Map::new();
    for name in STANDARD_CLAIMS {
        if let Some(value) = claims.get(*name) {
            user.insert((*name).to_owned(), value.clone());
        }
    }
    for (name, value) in claims {
        if is_namespaced(name, namespaces)
            && let Some(segment) = last_segment(name)
        {
            user.insert(segment.to_owned(), value.clone());
        }
    }
    if let Some(sub) = claims.get("sub") {
        user.insert("userId".to_owned(), sub.clone());
    }
    let groups = user
        .get("app_metadata")
        .and_then(|metadata| metadata.get("groups"))
        .filter(|groups| groups.is_array())
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()));
    user.insert("groups".to_owned(), groups);
    Value::Object(user)
}

fn is_namespaced(claim: &str, namespaces: &[String]) -> bool {
    namespaces.iter().any(|ns| {
        claim == ns
            || (ns.ends_with('/') && claim.len() > ns.len() && claim.starts_with(ns.as_str()))
    })
}

fn last_segment(claim: &str) -> Option<&str> {
    claim.rsplit('/').find(|segment| !segment.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn standard_claims_userid_custom_claims_and_groups_are_mapped() {
        let claims = claims(json!({
            "sub": "auth0|1", "email": "a@b.c", "name": "A", "iss": "https://t/", "aud": "c",
            "exp": 1, "nonce": "n",
            "https://example.com/app_metadata": {"groups": ["admin", "dev"]},
            "https://example.com/user_metadata": {"lang": "it"},
            "https://other.com/secret": 1,
        }));
        let user = user_object(
            &claims,
            &[
                "https://example.com/app_metadata".into(),
                "https://example.com/user_metadata".into(),
            ],
        );
        assert_eq!(
            user,
            json!({
                "sub": "auth0|1", "userId": "auth0|1", "email": "a@b.c", "name": "A",
                "app_metadata": {"groups": ["admin", "dev"]}, "user_metadata": {"lang": "it"},
                "groups": ["admin", "dev"],
            })
        );
    }

    #[test]
    fn a_namespace_prefix_exposes_every_claim_under_it() {
        let claims =
            claims(json!({"sub": "u", "https://auth0-client.dev/app_metadata": {"groups": ["x"]}}));
        let user = user_object(&claims, &["https://auth0-client.dev/".into()]);
        assert_eq!(user["app_metadata"], json!({"groups": ["x"]}));
        assert_eq!(user["groups"], json!(["x"]));
    }

    #[test]
    fn groups_is_an_empty_array_without_app_metadata() {
        let user = user_object(&claims(json!({"sub": "u"})), &[]);
        assert_eq!(user, json!({"sub": "u", "userId": "u", "groups": []}));
    }
}
