//! The `forecourt` binary: see `forecourt --help`.

fn main() -> std::process::ExitCode {
    match forecourt::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
