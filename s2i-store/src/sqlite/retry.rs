//! The store's retry loop: a transaction that finds the database locked
//! (SQLITE_BUSY) after the busy timeout is started again a few times.

use std::time::Duration;

/// Run `attempt` up to `attempts` times, `delay` apart, while `should_retry`
/// says its error is transient; the thread sleeps between attempts.
pub(crate) fn retry_busy<T, E>(
    attempts: u32,
    delay: Duration,
    should_retry: impl Fn(&E) -> bool,
    mut attempt: impl FnMut(u32) -> Result<T, E>,
) -> Result<T, E> {
    let mut n = 1;
    loop {
        match attempt(n) {
            Ok(value) => return Ok(value),
            Err(e) if n < attempts && should_retry(&e) => {
                std::thread::sleep(delay);
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_retries_transient_errors_only() {
        let mut calls = 0;
        let r: Result<u32, &str> = retry_busy(
            3,
            Duration::ZERO,
            |e| *e == "again",
            |n| {
                calls += 1;
                if n < 3 { Err("again") } else { Ok(n) }
            },
        );
        assert_eq!(r, Ok(3));
        assert_eq!(calls, 3);
        let r: Result<u32, &str> = retry_busy(2, Duration::ZERO, |e| *e == "again", |_| Err("again"));
        assert_eq!(r, Err("again"), "gives up after the last attempt");
        let r: Result<u32, &str> = retry_busy(3, Duration::ZERO, |e| *e == "again", |_| Err("fatal"));
        assert_eq!(r, Err("fatal"));
    }
}
