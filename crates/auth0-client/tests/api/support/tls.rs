//! TLS material made by the tests (never committed): a CA, a server certificate it signs
//! and a client certificate it signs, as PEM files in a temporary directory.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::redis::TempDir;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::PathBuf;

/// The PEM files of one CA, in a directory removed on drop.
pub struct TlsFiles {
    /// The CA certificate (what clients trust).
    pub ca: PathBuf,
    /// The server certificate and its key (what redis-server presents).
    pub server_cert: PathBuf,
    /// Key of [`TlsFiles::server_cert`].
    pub server_key: PathBuf,
    /// A client certificate and its key, signed by the same CA (for `tls-auth-clients`).
    pub client_cert: PathBuf,
    /// Key of [`TlsFiles::client_cert`].
    pub client_key: PathBuf,
    _dir: TempDir,
}

impl TlsFiles {
    /// A new CA; its server certificate is valid for `localhost` and `127.0.0.1`.
    pub fn generate() -> TlsFiles {
        Self::generate_for(&["localhost", "127.0.0.1"])
    }

    /// A new CA; its server certificate is valid for `names` only.
    pub fn generate_for(names: &[&str]) -> TlsFiles {
        let dir = TempDir::new("tls");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "auth0-client test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        // Server certificates serve as client certificates too: replicas, sentinels and
        // cluster nodes present theirs to each other.
        let leaf = |names: Vec<String>, common_name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            params.use_authority_key_identifier_extension = true;
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key_pem) = leaf(
            names.iter().map(|n| (*n).to_owned()).collect(),
            names.first().copied().unwrap_or("redis"),
        );
        let (client_pem, client_key_pem) = leaf(Vec::new(), "auth0-client");

        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        TlsFiles {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_pem),
            server_key: write("server.key", &server_key_pem),
            client_cert: write("client.pem", &client_pem),
            client_key: write("client.key", &client_key_pem),
            _dir: dir,
        }
    }
}
