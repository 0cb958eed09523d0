//! Configuration is typed once (`Config::finish`): every problem in one list, the same
//! list `check-config` prints and `serve` refuses to start on.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{TOKEN, WEBSITE, config_file, settings};
use auth0_client::config::Config;
use auth0_client::config::typed::SigningAlgorithm;

#[test]
fn finish_types_urls_algorithms_and_the_protocol_header() {
    let mut file = config_file("https://tenant.example/");
    file.default_client = Some(String::new());
    let config = Config::finish(settings(), file).unwrap();
    let website = &config.clients[WEBSITE];
    assert_eq!(website.auth0_url.base(), "https://tenant.example");
    assert_eq!(website.auth0_url.url().host_str(), Some("tenant.example"));
    assert_eq!(
        website.redirect_url.as_str(),
        "http://127.0.0.1:3000/callback"
    );
    assert_eq!(website.signing_algorithms, [SigningAlgorithm::RS256]);
    assert_eq!(
        config.default_client, None,
        "an empty defaultClient is none"
    );
    assert_eq!(config.management.auth0_url.base(), "https://tenant.example");
    assert_eq!(
        config.settings.original_protocol_header,
        "x-forwarded-proto"
    );
}

#[test]
fn finish_lists_every_problem_of_a_file_at_once() {
    let mut file = config_file("https://tenant.example");
    let token = file.clients.get_mut(TOKEN).unwrap();
    token.supported_signing_algs = vec!["RS256".into(), "ES512".into()];
    token.redirect_url = "callback".into();
    file.management_client.auth0_url = "tenant.example".into();
    file.default_client = Some("nobody".into());
    let errors = Config::finish(settings(), file).unwrap_err();
    for path in [
        "/clients/token/supportedSigningAlgs/1:",
        "/clients/token/redirectUrl:",
        "/managementClient/auth0Url:",
        "/defaultClient:",
    ] {
        assert_eq!(
            errors.iter().filter(|e| e.starts_with(path)).count(),
            1,
            "{path}: {errors:?}"
        );
    }
    assert_eq!(errors.len(), 4, "{errors:?}");
}

/// Runs `auth0-client <command>` on `file` written to a temporary folder.
fn run(command: &str, file: &auth0_client::config::ConfigFile) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("auth0-client-typed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(file).unwrap(),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
        .arg(command)
        .env_clear()
        .env("SERVICE_CONFIG_PATH", &dir)
        .env("SERVICE_CONFIG_FILE_NAME", "config.json")
        .env("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

#[test]
fn check_config_and_serve_refuse_an_unknown_signing_algorithm_alike() {
    let mut file = config_file("https://tenant.example");
    file.clients.get_mut(TOKEN).unwrap().supported_signing_algs = vec!["ES512".into()];
    for command in ["check-config", "serve"] {
        let output = run(command, &file);
        assert_eq!(output.status.code(), Some(1), "{command}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            text.matches("/clients/token/supportedSigningAlgs/0")
                .count(),
            1,
            "{command}: {text}"
        );
    }
}
