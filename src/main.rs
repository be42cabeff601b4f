//! The `closeloop` binary: parse arguments, set up logging, dispatch, map
//! failures to exit codes (0 ok, 1 runtime failure, 2 bad usage or config).

use std::io::IsTerminal;

use clap::Parser;

fn main() {
    let cli = closeloop::cli::Cli::parse();
    use closeloop::cli::Command;
    if matches!(
        cli.command,
        Command::Cases { .. }
            | Command::Case(_)
            | Command::Scan { .. }
            | Command::Stats { .. }
            | Command::Quarantine { .. }
    ) {
        // Output commands end quietly when their reader goes away (`closeloop cases | head`),
        // as Unix tools do, instead of panicking on a broken pipe. They open no sockets.
        restore_sigpipe();
    }
    let default_level = match cli.command {
        Command::Run { .. } => "info",
        _ => "warn",
    };
    let spec = std::env::var("CLOSELOOP_LOG").ok();
    let ansi = std::io::stderr().is_terminal();
    let subscriber =
        closeloop::cli::log_subscriber(spec.as_deref(), default_level, std::io::stderr, ansi);
    tracing_subscriber::util::SubscriberInitExt::init(subscriber);

    // Messages are read on the runtime's threads; give them the main thread's 8 MiB of
    // stack instead of the 2 MiB default, so a deep path in a crate reading hostile input
    // has room (address space only: pages are taken as used). A reader that still dies
    // is handled by `pipeline::marks`.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("closeloop: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(closeloop::cli::dispatch(cli));
    if let Err(f) = result {
        eprintln!("closeloop: {:#}", f.error);
        std::process::exit(f.code);
    }
}

#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: called once at start, before any thread is spawned; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
