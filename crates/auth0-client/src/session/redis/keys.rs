//! Key layout in Redis, namespaced by `SESSION_SCOPE`.
//!
//! Each record key carries a hash tag (`{...}`) on its own id, so in cluster mode
//! records spread over the slots while every single-key operation (GETDEL, SET NX,
//! a lock's compare-and-delete script) stays on one slot. The user index is two
//! kinds of keys: a set of session keys per user, and one sorted set of users
//! scored by their latest session expiry.

use crate::session::hex_sha256;

/// Builds the keys of one scope.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `auth0-client:<scope>:` (braces and `%` in the scope are escaped,
    /// so a scope never forms a hash tag).
    pub fn new(scope: &str) -> Self {
        let escaped = scope
            .replace('%', "%25")
            .replace('{', "%7B")
            .replace('}', "%7D");
        Self {
            prefix: format!("auth0-client:{escaped}:"),
        }
    }

    /// A session record, by handle hash.
    pub fn session(&self, key: &str) -> String {
        format!("{}session:{{{key}}}", self.prefix)
    }

    /// What every session key starts with (before its `{handle hash}`).
    pub fn session_prefix(&self) -> String {
        format!("{}session:", self.prefix)
    }

    /// The handle hash of a session key made by [`Keys::session`], if it is one.
    pub fn session_of<'a>(&self, redis_key: &'a str) -> Option<&'a str> {
        redis_key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("session:{")?
            .strip_suffix('}')
    }

    /// An authorization state, by state hash.
    pub fn state(&self, key: &str) -> String {
        format!("{}state:{{{key}}}", self.prefix)
    }

    /// A lock.
    pub fn lock(&self, name: &str) -> String {
        format!("{}lock:{{{name}}}", self.prefix)
    }

    /// The set of session keys (handle hashes) of a user.
    pub fn user_sessions(&self, user_id: &str) -> String {
        format!("{}user:{{{}}}", self.prefix, hex_sha256(user_id))
    }

    /// The sorted set of user ids, scored by their latest session expiry (Unix ms).
    pub fn active_users(&self) -> String {
        format!("{}active-users", self.prefix)
    }

    /// The set of session keys of an Auth0 session id (`sid`).
    pub fn sid_sessions(&self, sid: &str) -> String {
        format!("{}sid:{{{}}}", self.prefix, hex_sha256(sid))
    }

    /// A remembered name (replay cache of logout tokens).
    pub fn seen(&self, name: &str) -> String {
        format!("{}seen:{{{}}}", self.prefix, hex_sha256(name))
    }

    /// A session's activity record (idle timeout), by activity id.
    pub fn activity(&self, id: &str) -> String {
        format!("{}activity:{{{id}}}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_by_scope_and_hash_tagged_on_their_id() {
        let keys = Keys::new("shop");
        assert_eq!(keys.session("ab12"), "auth0-client:shop:session:{ab12}");
        assert_eq!(keys.state("cd"), "auth0-client:shop:state:{cd}");
        assert_eq!(keys.active_users(), "auth0-client:shop:active-users");
        assert_ne!(Keys::new("other").session("ab12"), keys.session("ab12"));
        assert!(
            keys.sid_sessions("s1")
                .starts_with("auth0-client:shop:sid:{")
        );
        assert!(keys.seen("jti").starts_with("auth0-client:shop:seen:{"));
        assert_eq!(keys.activity("a1"), "auth0-client:shop:activity:{a1}");
    }

    #[test]
    fn a_session_key_gives_back_its_handle_hash() {
        let keys = Keys::new("shop");
        assert_eq!(keys.session_of(&keys.session("ab12")), Some("ab12"));
        assert!(keys.session("ab12").starts_with(&keys.session_prefix()));
        assert_eq!(keys.session_of(&keys.state("ab12")), None);
        assert_eq!(keys.session_of(&Keys::new("other").session("ab12")), None);
    }

    #[test]
    fn a_scope_with_braces_cannot_form_a_hash_tag() {
        let keys = Keys::new("{x}");
        assert_eq!(keys.session("ab"), "auth0-client:%7Bx%7D:session:{ab}");
    }
}
