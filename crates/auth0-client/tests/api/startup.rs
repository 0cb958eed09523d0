//! Startup failures: every configuration problem reported in one run, once, naming the file.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::config_file;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// A temporary folder holding one config file, removed on drop.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn with(name: &str, contents: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("auth0-client-startup-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), contents).unwrap();
        Self(dir)
    }

    /// Runs `auth0-client <command>` on the config file `name` of this folder.
    fn run(&self, command: &str, name: &str) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
            .arg(command)
            .env_clear()
            .env("SERVICE_CONFIG_PATH", &self.0)
            .env("SERVICE_CONFIG_FILE_NAME", name)
            .env("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto")
            .output()
            .unwrap()
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// stdout and stderr of a run, as one text.
fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A config whose schema problem (an empty `clientId`) and cross-field problem (an
/// unknown `defaultClient`) are independent.
fn config_with_two_problems() -> String {
    let mut file = serde_json::to_value(config_file("https://tenant.example.com")).unwrap();
    file["defaultClient"] = Value::from("nobody");
    file["clients"]["website"]["clientId"] = Value::from("");
    file.to_string()
}

#[test]
fn invalid_json_names_the_configured_file() {
    let dir = ConfigDir::with("gateway-settings.json", "{ \"clients\": ");
    let output = dir.run("check-config", "gateway-settings");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("gateway-settings.json is not valid JSON"),
        "{stderr}"
    );
}

#[test]
fn schema_and_cross_field_problems_are_reported_in_one_run() {
    let dir = ConfigDir::with("config.json", &config_with_two_problems());
    let output = dir.run("check-config", "config.json");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/clients/website/clientId"), "{stderr}");
    assert!(stderr.contains("/defaultClient"), "{stderr}");
}

#[test]
fn serve_reports_each_configuration_problem_once() {
    let dir = ConfigDir::with("config.json", &config_with_two_problems());
    let output = dir.run("serve", "config.json");
    assert_eq!(output.status.code(), Some(1));
    let text = all_output(&output);
    assert_eq!(text.matches("/defaultClient").count(), 1, "{text}");
    assert_eq!(
        text.matches("/clients/website/clientId").count(),
        1,
        "{text}"
    );
}

/// `auth0-client dev --print-config <args>`, without any environment.
fn print_config(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
        .args(["dev", "--print-config"])
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

#[test]
fn dev_print_config_prints_the_dev_config_for_a_tenant_and_check_config_accepts_it() {
    let printed = print_config(&["http://127.0.0.1:4000", "--port", "9000"]);
    assert!(printed.status.success(), "{}", all_output(&printed));
    let text = String::from_utf8(printed.stdout).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        file["clients"]["token"]["auth0Url"],
        "http://127.0.0.1:4000"
    );
    assert_eq!(
        file["managementClient"]["auth0Url"],
        "http://127.0.0.1:4000"
    );
    assert_eq!(
        file["clients"]["website"]["redirectUrl"],
        "http://127.0.0.1:9000/dev/callback/website"
    );

    let dir = ConfigDir::with("dev.json", &text);
    let checked = dir.run("check-config", "dev.json");
    assert!(checked.status.success(), "{}", all_output(&checked));
}

#[test]
fn dev_print_config_sets_a_dev_client_as_the_default_and_refuses_any_other() {
    let default_of = |args: &[&str]| {
        let printed = print_config(args);
        assert!(printed.status.success(), "{}", all_output(&printed));
        let file: Value = serde_json::from_slice(&printed.stdout).unwrap();
        file["defaultClient"].clone()
    };
    assert_eq!(default_of(&["http://127.0.0.1:4000"]), "website");
    assert_eq!(
        default_of(&["http://127.0.0.1:4000", "--default-client", "token"]),
        "token"
    );

    let printed = print_config(&["http://127.0.0.1:4000", "--default-client", "mobile"]);
    assert!(!printed.status.success());
    assert!(printed.stdout.is_empty(), "{}", all_output(&printed));
    assert!(
        String::from_utf8_lossy(&printed.stderr).contains("not a dev client"),
        "{}",
        all_output(&printed)
    );
}

#[test]
fn dev_print_config_refuses_a_tenant_that_is_not_an_http_url() {
    let printed = print_config(&["tenant.example.com"]);
    assert!(!printed.status.success());
    assert!(printed.stdout.is_empty(), "{}", all_output(&printed));
    assert!(
        String::from_utf8_lossy(&printed.stderr).contains("auth0Url"),
        "{}",
        all_output(&printed)
    );
}
