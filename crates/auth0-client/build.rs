//! Sets `AUTH0_CLIENT_BUILD_COMMIT` for `build_info{commit}`: the variable of that name
//! when the build sets it (a container build has no `.git`), else `git rev-parse HEAD`,
//! else `unknown`.

use std::process::Command;

fn main() {
    const VARIABLE: &str = "AUTH0_CLIENT_BUILD_COMMIT";
    println!("cargo:rerun-if-env-changed={VARIABLE}");
    let given = std::env::var(VARIABLE)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_hexdigit()));
    let commit = given.or_else(|| {
        for path in ["HEAD", "packed-refs"] {
            watch(git(&["rev-parse", "--git-path", path]));
        }
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(git(&["rev-parse", "--git-path", &reference]));
        }
        git(&["rev-parse", "HEAD"])
    });
    println!(
        "cargo:rustc-env={VARIABLE}={}",
        commit.as_deref().unwrap_or("unknown")
    );
}

/// Rebuilds when `file` changes (a missing file would rebuild every time: skipped).
fn watch(file: Option<String>) {
    if let Some(file) = file.filter(|f| std::path::Path::new(f).exists()) {
        println!("cargo:rerun-if-changed={file}");
    }
}

/// `git <args>`'s trimmed output, when git runs and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}
