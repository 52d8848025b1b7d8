//! The sandbox relay as a program of its own (the `clauderon` binary runs the same code as
//! `clauderon sandbox-relay`). See `clauderon_zellij::relay`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let me = std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let result = clauderon_zellij::relay::parse(&args).and_then(|a| clauderon_zellij::relay::run(a, &[me]));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(70)
        }
    }
}
