//! `REDIS_TLS…`: TLS to every Redis node and sentinel, read and checked at startup.
//!
//! The PEM files are read once and checked the way the connection will use them (a
//! rustls client configuration is built from them: the CA bundle parses, the client key
//! matches its certificate), so `check-config` catches a bad file before any connection.

use crate::secret::Secret;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// TLS settings of the Redis connections (`REDIS_TLS=true`).
#[derive(Clone)]
pub struct RedisTls {
    /// `REDIS_TLS_CA_FILE`, PEM; `None`: the system roots (or `SSL_CERT_FILE`).
    pub ca_pem: Option<Vec<u8>>,
    /// `REDIS_TLS_CERT_FILE` + `REDIS_TLS_KEY_FILE`, for servers that require client certificates.
    pub client: Option<ClientIdentity>,
}

/// A client certificate chain and its private key, PEM.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The certificate chain (`REDIS_TLS_CERT_FILE`).
    pub cert_pem: Vec<u8>,
    /// The private key (`REDIS_TLS_KEY_FILE`); never printed.
    pub key_pem: Secret,
}

impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTls")
            .field(
                "ca",
                &self.ca_pem.as_ref().map_or("system roots", |_| "file"),
            )
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl RedisTls {
    /// Reads `REDIS_TLS`, `REDIS_TLS_CA_FILE`, `REDIS_TLS_CERT_FILE`, `REDIS_TLS_KEY_FILE`;
    /// `None` when TLS is off. Every problem is one line of `errors`.
    pub fn from_env(
        get: &dyn Fn(&str) -> Option<String>,
        errors: &mut Vec<String>,
    ) -> Option<RedisTls> {
        let files = [
            "REDIS_TLS_CA_FILE",
            "REDIS_TLS_CERT_FILE",
            "REDIS_TLS_KEY_FILE",
        ];
        let enabled = match get("REDIS_TLS").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                errors.push(format!("REDIS_TLS: expected true or false, got {other:?}"));
                return None;
            }
        };
        if !enabled {
            // A CA or a client certificate without REDIS_TLS=true would mean plain text
            // to a server the operator meant to reach over TLS: refuse rather than guess.
            for name in files.iter().filter(|name| get(name).is_some()) {
                errors.push(format!(
                    "{name}: set, but REDIS_TLS is not true: set REDIS_TLS=true to connect to Redis over TLS, or unset {name}"
                ));
            }
            return None;
        }
        let before = errors.len();
        let ca_pem =
            get("REDIS_TLS_CA_FILE").and_then(|path| read("REDIS_TLS_CA_FILE", &path, errors));
        let client = match (get("REDIS_TLS_CERT_FILE"), get("REDIS_TLS_KEY_FILE")) {
            (None, None) => None,
            (Some(_), None) => {
                errors.push("REDIS_TLS_KEY_FILE: required with REDIS_TLS_CERT_FILE: the PEM private key of the client certificate".to_owned());
                None
            }
            (None, Some(_)) => {
                errors.push("REDIS_TLS_CERT_FILE: required with REDIS_TLS_KEY_FILE: the PEM client certificate (chain) of that key".to_owned());
                None
            }
            (Some(cert), Some(key)) => {
                let cert_pem = read("REDIS_TLS_CERT_FILE", &cert, errors);
                let key_pem = read("REDIS_TLS_KEY_FILE", &key, errors)
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .map(Secret::new);
                match (cert_pem, key_pem) {
                    (Some(cert_pem), Some(key_pem)) => Some(ClientIdentity { cert_pem, key_pem }),
                    (Some(_), None) if errors.len() == before => {
                        errors.push(format!(
                            "REDIS_TLS_KEY_FILE: {key} is not a PEM file (expected a PRIVATE KEY block)"
                        ));
                        None
                    }
                    _ => None,
                }
            }
        };
        if errors.len() > before {
            return None;
        }
        let tls = RedisTls { ca_pem, client };
        errors.extend(tls.check());
        Some(tls)
    }

    /// Builds the rustls client configuration these files make; one line per problem.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = &self.ca_pem {
            match CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>() {
                Ok(certificates) if certificates.is_empty() => problems.push(
                    "REDIS_TLS_CA_FILE: no CERTIFICATE block found (expected a PEM bundle of CA certificates)"
                        .to_owned(),
                ),
                Ok(certificates) => {
                    for certificate in certificates {
                        if let Err(error) = roots.add(certificate) {
                            problems.push(format!(
                                "REDIS_TLS_CA_FILE: a certificate is not a usable CA certificate: {error}"
                            ));
                        }
                    }
                }
                Err(error) => problems.push(format!(
                    "REDIS_TLS_CA_FILE: not a PEM bundle of certificates: {error}"
                )),
            }
        }
        let Some(client) = &self.client else {
            return problems;
        };
        let chain = match CertificateDer::pem_slice_iter(&client.cert_pem)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(chain) if !chain.is_empty() => chain,
            Ok(_) => {
                problems.push("REDIS_TLS_CERT_FILE: no CERTIFICATE block found (expected the PEM client certificate)".to_owned());
                return problems;
            }
            Err(error) => {
                problems.push(format!(
                    "REDIS_TLS_CERT_FILE: not a PEM certificate: {error}"
                ));
                return problems;
            }
        };
        // The key's PEM error is not shown: it could quote a line of the key.
        let Ok(key) = PrivateKeyDer::from_pem_slice(client.key_pem.expose().as_bytes()) else {
            problems.push("REDIS_TLS_KEY_FILE: no private key found (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)".to_owned());
            return problems;
        };
        let built = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots))
            .and_then(|builder| builder.with_client_auth_cert(chain, key));
        match built {
            Ok(_) => {}
            Err(rustls::Error::InconsistentKeys(_)) => problems.push(
                "REDIS_TLS_KEY_FILE: the key does not belong to the certificate of REDIS_TLS_CERT_FILE"
                    .to_owned(),
            ),
            Err(error) => problems.push(format!(
                "REDIS_TLS_KEY_FILE: the key and certificate cannot be used: {error}"
            )),
        }
        problems
    }
}

/// The bytes of the file `variable` names; a line in `errors` when it cannot be read.
fn read(variable: &str, path: &str, errors: &mut Vec<String>) -> Option<Vec<u8>> {
    match std::fs::read(Path::new(path)) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            errors.push(format!("{variable}: cannot read {path}: {error}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;

    /// A CA-signed-looking pair of files: a self-signed certificate and its key.
    struct Files {
        dir: PathBuf,
    }

    impl Files {
        fn new() -> Files {
            let dir = std::env::temp_dir().join(format!(
                "auth0-client-redis-tls-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            for name in ["a", "b"] {
                let key = rcgen::KeyPair::generate().unwrap();
                let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                    .unwrap()
                    .self_signed(&key)
                    .unwrap();
                std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
                std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
            }
            std::fs::write(dir.join("junk.pem"), "not a certificate").unwrap();
            Files { dir }
        }

        fn path(&self, name: &str) -> String {
            self.dir.join(name).display().to_string()
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn parse(pairs: &[(&str, String)]) -> (Option<RedisTls>, Vec<String>) {
        let env: HashMap<&str, String> = pairs.iter().cloned().collect();
        let mut errors = Vec::new();
        let tls = RedisTls::from_env(&|name| env.get(name).cloned(), &mut errors);
        (tls, errors)
    }

    #[test]
    fn tls_is_off_by_default_and_only_true_or_false_are_accepted() {
        assert!(matches!(parse(&[]), (None, errors) if errors.is_empty()));
        let (tls, errors) = parse(&[("REDIS_TLS", "TRUE".into())]);
        assert!(tls.is_some_and(|tls| tls.ca_pem.is_none() && tls.client.is_none()));
        assert!(errors.is_empty(), "{errors:?}");
        let (_, errors) = parse(&[("REDIS_TLS", "yes please".into())]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("REDIS_TLS: expected true or false"),
            "{errors:?}"
        );
    }

    #[test]
    fn tls_files_without_redis_tls_true_are_refused_not_ignored() {
        let files = Files::new();
        let (tls, errors) = parse(&[("REDIS_TLS_CA_FILE", files.path("a.pem"))]);
        assert!(tls.is_none());
        assert!(
            errors[0].starts_with("REDIS_TLS_CA_FILE: set, but REDIS_TLS is not true"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_a_key_its_certificate() {
        let files = Files::new();
        let on = ("REDIS_TLS", "true".to_owned());
        let (_, errors) = parse(&[on.clone(), ("REDIS_TLS_CERT_FILE", files.path("a.pem"))]);
        assert!(
            errors[0].starts_with("REDIS_TLS_KEY_FILE: required with REDIS_TLS_CERT_FILE"),
            "{errors:?}"
        );
        let (_, errors) = parse(&[on, ("REDIS_TLS_KEY_FILE", files.path("a.key"))]);
        assert!(
            errors[0].starts_with("REDIS_TLS_CERT_FILE: required with REDIS_TLS_KEY_FILE"),
            "{errors:?}"
        );
    }

    #[test]
    fn matching_files_make_the_settings() {
        let files = Files::new();
        let (tls, errors) = parse(&[
            ("REDIS_TLS", "true".into()),
            ("REDIS_TLS_CA_FILE", files.path("b.pem")),
            ("REDIS_TLS_CERT_FILE", files.path("a.pem")),
            ("REDIS_TLS_KEY_FILE", files.path("a.key")),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let tls = tls.unwrap();
        assert!(tls.ca_pem.is_some() && tls.client.is_some());
        assert!(
            !format!("{tls:?}").contains("PRIVATE"),
            "Debug hides the key"
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_without_echoing_the_key() {
        let files = Files::new();
        let (_, errors) = parse(&[
            ("REDIS_TLS", "true".into()),
            ("REDIS_TLS_CERT_FILE", files.path("a.pem")),
            ("REDIS_TLS_KEY_FILE", files.path("b.key")),
        ]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("REDIS_TLS_KEY_FILE: the key does not belong"),
            "{errors:?}"
        );
        let key = std::fs::read_to_string(files.dir.join("b.key")).unwrap();
        assert!(!errors[0].contains(key.lines().nth(1).unwrap()));
    }

    #[test]
    fn unreadable_or_non_pem_files_are_refused() {
        let files = Files::new();
        let on = ("REDIS_TLS", "true".to_owned());
        let (_, errors) = parse(&[on.clone(), ("REDIS_TLS_CA_FILE", files.path("missing.pem"))]);
        assert!(
            errors[0].starts_with("REDIS_TLS_CA_FILE: cannot read "),
            "{errors:?}"
        );
        let (_, errors) = parse(&[on.clone(), ("REDIS_TLS_CA_FILE", files.path("junk.pem"))]);
        assert!(
            errors[0].starts_with("REDIS_TLS_CA_FILE: no CERTIFICATE block"),
            "{errors:?}"
        );
        let (_, errors) = parse(&[
            on,
            ("REDIS_TLS_CERT_FILE", files.path("a.pem")),
            ("REDIS_TLS_KEY_FILE", files.path("junk.pem")),
        ]);
        assert!(
            errors[0].starts_with("REDIS_TLS_KEY_FILE: no private key found"),
            "{errors:?}"
        );
    }
}
