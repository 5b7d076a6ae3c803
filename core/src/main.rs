//! The `forecourt` binary: see `forecourt --help`.

fn main() -> anyhow::Result<()> {
    forecourt::cli::main()
}
