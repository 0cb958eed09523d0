//! Turns a failed Redis connection into one line an operator can act on: the variable
//! to look at, then the cause, then redis-rs' own words.
//!
//! Causes are recognised in the error's text (TLS failures reach us as text in cluster
//! mode), by the words rustls and Redis use; the unit tests below render rustls' own
//! errors, so a rustls that words them differently fails here, not in production.
//! Nothing secret is in these lines: Redis never echoes a password, rustls never a key.

use super::sentinel::SentinelFailure;
use crate::config::env::{RedisSettings, SentinelAuth};
use redis::{ErrorKind, RedisError};
use std::error::Error as _;
use std::sync::Arc;

/// What is needed to name the right variable.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    tls: bool,
    ca_file: bool,
    client_certificate: bool,
    sentinel_auth: SentinelAuth,
}

/// Who refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Sentinel,
    Node,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Sentinel => "a sentinel",
            Peer::Node => "Redis",
        }
    }
}

impl Diagnosis {
    /// The facts of `settings` that the explanations depend on.
    pub fn new(settings: &RedisSettings) -> Self {
        Self {
            tls: settings.tls.is_some(),
            ca_file: settings
                .tls
                .as_ref()
                .is_some_and(|tls| tls.ca_pem.is_some()),
            client_certificate: settings
                .tls
                .as_ref()
                .is_some_and(|tls| tls.client.is_some()),
            sentinel_auth: settings.sentinel_auth.clone(),
        }
    }

    /// `error` as one line: `VARIABLE: cause (error)` when the cause is recognised,
    /// else the error as it is.
    pub fn explain(&self, error: &RedisError) -> String {
        let text = chain_text(error);
        let peer = if is_sentinel_failure(error) {
            Peer::Sentinel
        } else {
            Peer::Node
        };
        match self.cause(error.kind(), &text, peer) {
            Some(cause) => format!("{cause} ({})", one_line(&text)),
            None => one_line(&text),
        }
    }

    fn cause(&self, kind: ErrorKind, text: &str, peer: Peer) -> Option<String> {
        let who = peer.name();
        if self.tls {
            if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
                return Some(if self.ca_file {
                    format!(
                        "REDIS_TLS_CA_FILE: the certificate of {who} is not signed by a CA of that bundle"
                    )
                } else {
                    format!(
                        "REDIS_TLS_CA_FILE: the certificate of {who} is not signed by a CA of the system roots (or SSL_CERT_FILE): name its CA in REDIS_TLS_CA_FILE"
                    )
                });
            }
            if text.contains("NotValidForName") || text.contains("not valid for name") {
                return Some(format!(
                    "REDIS_HOSTS: the certificate of {who} is not valid for the name it was reached by (server names are always verified): use a host name the certificate lists (for nodes named by the sentinels or the cluster: the address they announce)"
                ));
            }
            if text.contains("invalid peer certificate") {
                return Some(format!(
                    "REDIS_TLS_CA_FILE: the certificate of {who} is refused"
                ));
            }
            if text.contains("CertificateRequired")
                || (!self.client_certificate && text.contains("HandshakeFailure"))
            {
                return Some(if self.client_certificate {
                    format!(
                        "REDIS_TLS_CERT_FILE: {who} asks for a client certificate and refused the one of REDIS_TLS_CERT_FILE/REDIS_TLS_KEY_FILE"
                    )
                } else {
                    format!(
                        "REDIS_TLS_CERT_FILE: {who} requires a client certificate: set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE"
                    )
                });
            }
            if text.contains("received fatal alert") {
                return Some(format!(
                    "REDIS_TLS_CERT_FILE: {who} refused the TLS handshake (its client-certificate check, or TLS settings)"
                ));
            }
            if text.contains("corrupt message") || text.contains("InvalidContentType") {
                return Some(format!(
                    "REDIS_TLS: {who} does not answer TLS on that port (REDIS_TLS=true)"
                ));
            }
        }
        let refused = kind == ErrorKind::AuthenticationFailed
            || text.contains("WRONGPASS")
            || text.contains("Password authentication failed");
        let required = text.contains("NOAUTH");
        if !refused && !required {
            return None;
        }
        let variables = match (peer, &self.sentinel_auth) {
            (Peer::Node, _) => "REDIS_PASSWORD: Redis".to_owned(),
            (Peer::Sentinel, SentinelAuth::Own { .. }) => "REDIS_SENTINEL_PASSWORD: a sentinel".to_owned(),
            (Peer::Sentinel, SentinelAuth::SameAsNodes) => {
                "REDIS_SENTINEL_PASSWORD: a sentinel (sent REDIS_USERNAME/REDIS_PASSWORD, as REDIS_SENTINEL_USERNAME/PASSWORD are unset)".to_owned()
            }
        };
        Some(if refused {
            let pair = match peer {
                Peer::Node => "REDIS_USERNAME/REDIS_PASSWORD",
                Peer::Sentinel => "the credentials",
            };
            format!("{variables} refused {pair}")
        } else {
            format!("{variables} requires a password")
        })
    }
}

/// True when `error` is a [`SentinelFailure`] (wrapped in an `io::Error`, as the
/// resolver returns it).
fn is_sentinel_failure(error: &RedisError) -> bool {
    let Some(source) = error.source() else {
        return false;
    };
    // redis-rs keeps the `io::Error` behind an `Arc`.
    let inner: &(dyn std::error::Error + 'static) =
        match source.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>() {
            Some(shared) => &**shared,
            None => source,
        };
    inner
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
        .is_some_and(|failure| failure.downcast_ref::<SentinelFailure>().is_some())
}

/// The error and its sources, each once.
fn chain_text(error: &RedisError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        let part = error.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = error.source();
    }
    text
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::env::{RedisMode, RedisTls};
    use crate::secret::Secret;
    use rustls::{AlertDescription, CertificateError, InvalidMessage};

    fn settings(tls: bool, ca: bool, sentinel_auth: SentinelAuth) -> RedisSettings {
        RedisSettings {
            hosts: vec![("127.0.0.1".into(), 6379)],
            mode: RedisMode::Normal,
            username: None,
            password: Some(Secret::new("node-secret")),
            sentinel_auth,
            tls: tls.then(|| RedisTls {
                ca_pem: ca.then(Vec::new),
                client: None,
            }),
        }
    }

    fn tls_error(error: rustls::Error) -> RedisError {
        RedisError::from(std::io::Error::new(std::io::ErrorKind::InvalidData, error))
    }

    fn explain(settings: &RedisSettings, error: &RedisError) -> String {
        Diagnosis::new(settings).explain(error)
    }

    #[test]
    fn an_unknown_ca_names_the_ca_file() {
        let error = tls_error(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        let with_file = explain(&settings(true, true, SentinelAuth::SameAsNodes), &error);
        assert!(
            with_file.starts_with(
                "REDIS_TLS_CA_FILE: the certificate of Redis is not signed by a CA of that bundle ("
            ),
            "{with_file}"
        );
        let roots = explain(&settings(true, false, SentinelAuth::SameAsNodes), &error);
        assert!(roots.contains("system roots"), "{roots}");
    }

    #[test]
    fn a_name_mismatch_names_the_hosts() {
        let error = tls_error(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        ));
        let line = explain(&settings(true, true, SentinelAuth::SameAsNodes), &error);
        assert!(line.starts_with("REDIS_HOSTS: "), "{line}");
    }

    #[test]
    fn a_required_client_certificate_names_the_cert_file() {
        let error = tls_error(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        let line = explain(&settings(true, true, SentinelAuth::SameAsNodes), &error);
        assert!(
            line.starts_with("REDIS_TLS_CERT_FILE: Redis requires a client certificate"),
            "{line}"
        );
    }

    #[test]
    fn plain_text_on_a_tls_connection_names_redis_tls() {
        let error = tls_error(rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType,
        ));
        let line = explain(&settings(true, false, SentinelAuth::SameAsNodes), &error);
        assert!(line.starts_with("REDIS_TLS: "), "{line}");
    }

    #[test]
    fn a_refused_sentinel_names_the_sentinel_password_and_where_it_came_from() {
        let cause = RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        let error = RedisError::from(std::io::Error::other(SentinelFailure {
            address: "127.0.0.1:26379".into(),
            cause,
        }));
        let inherited = explain(&settings(false, false, SentinelAuth::SameAsNodes), &error);
        assert!(
            inherited.starts_with(
                "REDIS_SENTINEL_PASSWORD: a sentinel (sent REDIS_USERNAME/REDIS_PASSWORD"
            ),
            "{inherited}"
        );
        let own = SentinelAuth::Own {
            username: None,
            password: Some(Secret::new("sentinel-secret")),
        };
        let line = explain(&settings(false, false, own), &error);
        assert!(
            line.starts_with("REDIS_SENTINEL_PASSWORD: a sentinel refused the credentials ("),
            "{line}"
        );
        assert!(!line.contains("secret"), "{line}");
    }

    #[test]
    fn a_refused_data_node_names_the_redis_password() {
        let error = RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        let line = explain(&settings(false, false, SentinelAuth::SameAsNodes), &error);
        assert!(
            line.starts_with("REDIS_PASSWORD: Redis refused REDIS_USERNAME/REDIS_PASSWORD ("),
            "{line}"
        );
    }

    #[test]
    fn other_errors_are_passed_on_as_they_are() {
        let error = RedisError::from((ErrorKind::Io, "connection refused"));
        let line = explain(&settings(true, true, SentinelAuth::SameAsNodes), &error);
        assert_eq!(line, error.to_string());
    }
}
