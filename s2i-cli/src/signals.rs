//! Ctrl-C and SIGTERM: the first cancels the running work (which removes its
//! containers and temp dirs); a second one exits at once.

use s2i_core::CancellationToken;
use tokio::signal::unix::{SignalKind, signal};

/// Which signal cancelled the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Received {
    /// The conventional exit code: 128 + signal number.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Received::Interrupt => 130,
            Received::Terminate => 143,
        }
    }
}

/// Cancel `token` on the first SIGINT/SIGTERM; exit the process on the second.
/// The returned watch tells which signal arrived.
pub(crate) fn install(token: CancellationToken) -> tokio::sync::watch::Receiver<Option<Received>> {
    install_with(
        token,
        "\nInterrupted: stopping the build and removing its containers (press Ctrl-C again to exit at once)...",
        true,
    )
}

/// For a server (`s2i route serve`): cancel `token` on the first SIGINT/SIGTERM
/// and say `message`; later signals are ignored, so the server's own bounded
/// shutdown (which stops the processes it started) always runs to its end.
pub(crate) fn install_for_server(
    token: CancellationToken,
    message: &'static str,
) -> tokio::sync::watch::Receiver<Option<Received>> {
    install_with(token, message, false)
}

fn install_with(
    token: CancellationToken,
    message: &'static str,
    exit_on_second: bool,
) -> tokio::sync::watch::Receiver<Option<Received>> {
    let (sender, receiver) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return;
        };
        let mut first = true;
        loop {
            let received = tokio::select! {
                _ = interrupt.recv() => Received::Interrupt,
                _ = terminate.recv() => Received::Terminate,
            };
            if !first {
                if exit_on_second {
                    say("\nInterrupted again: exiting without cleaning up.");
                    std::process::exit(received.exit_code());
                }
                continue;
            }
            first = false;
            say(message);
            let _ = sender.send(Some(received));
            token.cancel();
        }
    });
    receiver
}

/// Tell the user, without panicking when stderr is a closed pipe (a signal
/// must still stop the work then).
fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
