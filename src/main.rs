//! The `vma-bench` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    let stdout = std::io::stdout();
    match vma_bench::cli::main_with(std::env::args_os().skip(1), &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vma-bench: error: {e}");
            ExitCode::from(2)
        }
    }
}
