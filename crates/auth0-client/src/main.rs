//! The `auth0-client` binary: see [`auth0_client::cli`].

fn main() -> std::process::ExitCode {
    auth0_client::cli::main()
}
