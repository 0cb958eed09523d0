//! Integration tests of the build without the `dev` feature (run by `.ci/run` with
//! `--no-default-features`): `auth0-client dev` says there is no dev mode.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(not(feature = "dev"))]
#[test]
fn without_dev_mode_the_dev_subcommand_exits_2_with_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
        .args(["dev", "--port", "0"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, format!("{}\n", auth0_client::cli::NO_DEV_MODE));
    assert!(stderr.contains("no dev mode"), "{stderr}");
}

#[cfg(not(feature = "dev"))]
#[test]
fn without_dev_mode_the_other_subcommands_remain() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "dev", "check-config", "schema"] {
        assert!(help.contains(command), "{help}");
    }
}
