//! How a node (or sentinel) is addressed: plain TCP, or TLS with redis-rs' rustls support.
//!
//! With `REDIS_TLS=true` every connection (data nodes, sentinels, the nodes a cluster or
//! the sentinels name) is TLS, the server's certificate is checked against
//! `REDIS_TLS_CA_FILE` (else the system roots, or `SSL_CERT_FILE`) and its name against
//! the host connected to; `REDIS_TLS_CERT_FILE`/`KEY_FILE` are offered when the server asks.

use crate::config::env::RedisTls;
use redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult, TlsCertificates,
};

/// Builds the connection info and client of any node.
#[derive(Clone)]
pub struct Nodes {
    tls: Option<TlsCertificates>,
}

impl Nodes {
    /// Plain TCP when `tls` is `None`.
    pub fn new(tls: Option<&RedisTls>) -> Self {
        Self {
            tls: tls.map(certificates),
        }
    }

    /// The certificates of TLS connections, when TLS is on.
    pub fn certificates(&self) -> Option<&TlsCertificates> {
        self.tls.as_ref()
    }

    /// `host:port` with the credentials of `template`.
    pub fn info(
        &self,
        host: String,
        port: u16,
        template: &RedisConnectionInfo,
    ) -> RedisResult<ConnectionInfo> {
        let addr = match self.tls {
            None => ConnectionAddr::Tcp(host, port),
            Some(_) => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            },
        };
        Ok(addr
            .into_connection_info()?
            .set_redis_settings(template.clone()))
    }

    /// A client for `info` (made by [`Nodes::info`]).
    pub fn client(&self, info: ConnectionInfo) -> RedisResult<Client> {
        match &self.tls {
            None => Client::open(info),
            Some(certificates) => Client::build_with_tls(info, certificates.clone()),
        }
    }
}

/// The trust anchors are always given: the CA file, or the system roots read once here
/// (redis-rs would otherwise read the system store again on every connection).
fn certificates(tls: &RedisTls) -> TlsCertificates {
    TlsCertificates {
        client_tls: tls.client.as_ref().map(|identity| ClientTlsConfig {
            client_cert: identity.cert_pem.clone(),
            client_key: identity.key_pem.expose().as_bytes().to_vec(),
        }),
        root_cert: Some(tls.ca_pem.clone().unwrap_or_else(system_roots_pem)),
    }
}

/// The system's roots (or `SSL_CERT_FILE`/`SSL_CERT_DIR`) as one PEM bundle; empty when
/// none is found, so that no server is trusted rather than some other set.
fn system_roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        tracing::warn!(
            errors = found.errors.len(),
            "REDIS_TLS: no system root certificate found; set REDIS_TLS_CA_FILE"
        );
    }
    let mut pem = String::new();
    for certificate in &found.certs {
        let body = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}
