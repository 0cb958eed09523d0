//! The `auth0-client` binary: see [`auth0_client::cli`].

/// mimalloc: the hot path allocates from both worker threads at once, where glibc's
/// arenas contend (measured in bench/: about a fifth of the CPU under load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    auth0_client::cli::main()
}
