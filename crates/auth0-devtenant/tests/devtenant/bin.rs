use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::*;

/// Starts the binary; returns it and its first line.
async fn spawn(args: &[&str]) -> (tokio::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth0-devtenant"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let done = line.starts_with("user viewer@example.com") || line.starts_with("user ann@");
        out.push(line);
        if done {
            break;
        }
    }
    (child, out)
}

#[tokio::test]
async fn the_binary_prints_its_url_and_the_built_in_credentials_and_serves() {
    let (mut child, lines) = spawn(&["--port", "0"]).await;
    let url = lines[0]
        .strip_prefix("auth0-devtenant listening on ")
        .expect("URL line")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));
    let text = lines.join("\n");
    assert!(text.contains("dev-website-client") && text.contains("dev-website-secret"));
    assert!(text.contains("dev@example.com / DevPassword1!"));
    let response = http()
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", PASSWORD_REALM),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("realm", UPA),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_serves_a_tenant_file_without_printing_its_secrets() {
    let path = std::env::temp_dir().join(format!("devtenant-bin-{}.json", std::process::id()));
    let tenant = json!({"users": [{"email": "ann@example.com", "password": "Ann-Secret-1"}]});
    std::fs::write(&path, serde_json::to_vec(&tenant).unwrap()).unwrap();
    let (mut child, lines) = spawn(&["--port", "0", "--config", path.to_str().unwrap()]).await;
    let text = lines.join("\n");
    assert!(!text.contains("Ann-Secret-1"), "{text}");
    let url = lines[0]
        .strip_prefix("auth0-devtenant listening on ")
        .unwrap()
        .to_owned();
    let (status, body): (u16, Value) = {
        let response = http()
            .post(format!("{url}/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "dev-token-client"),
                ("client_secret", "dev-token-secret"),
                ("username", "ann@example.com"),
                ("password", "Ann-Secret-1"),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    };
    assert_eq!(status, 200, "{body}");
    child.kill().await.unwrap();
    let _ = std::fs::remove_file(path);
}
