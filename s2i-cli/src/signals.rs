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
                eprintln!("\nInterrupted again: exiting without cleaning up.");
                std::process::exit(received.exit_code());
            }
            first = false;
            eprintln!(
                "\nInterrupted: stopping the build and removing its containers (press Ctrl-C again to exit at once)..."
            );
            let _ = sender.send(Some(received));
            token.cancel();
        }
    });
    receiver
}
