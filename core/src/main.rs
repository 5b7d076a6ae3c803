//! The `forecourt` binary: see `forecourt --help`.

/// mimalloc serves every allocation of the process, Rust's and the bundled SQLite's alike (the
/// `override` feature replaces `malloc`/`free`): under a burst of orders the server spent about
/// a quarter of its CPU time in glibc's allocator (see docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match forecourt::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
