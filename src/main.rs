//! The pollhook binary: everything happens in the library's `cli` module.

fn main() -> std::process::ExitCode {
    pollhook::cli::main()
}
