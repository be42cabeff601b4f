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
    log_panics_without_their_text();

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

/// A panic is a bug; the code that catches one goes on (parsing keeps the message as
/// text, storing quarantines it). Its message may quote the text it was working on (a
/// slice of a reporter's subject, say), which may hold a secret, so the log names the
/// place in the code and gives the message only when the code wrote it as a literal.
fn log_panics_without_their_text() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        match info.payload().downcast_ref::<&'static str>() {
            Some(message) => tracing::error!(at, message, "closeloop panicked (a bug)"),
            None => tracing::error!(
                at,
                "closeloop panicked (a bug; its message is not logged: it may quote message text)"
            ),
        }
    }));
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
