//! The `ckptsim` binary: all logic lives in the library; see `ckptsim::cli`.
fn main() -> std::process::ExitCode {
    ckptsim::cli::main()
}
