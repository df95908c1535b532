//! The retry loop of async code: a fixed number of attempts, a fixed delay,
//! and a predicate that says which errors are worth another attempt. (The
//! object store, blocking and without this crate, retries a busy database
//! with its own loop of the same shape.)

use std::future::Future;
use std::time::Duration;

/// Run `attempt` up to `attempts` times, `delay` apart, while `should_retry` says its error is transient.
pub async fn retry<T, E, Fut>(
    attempts: u32,
    delay: Duration,
    should_retry: impl Fn(&E) -> bool,
    mut attempt: impl FnMut(u32) -> Fut,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(e) if n < attempts && should_retry(&e) => {
                tokio::time::sleep(delay).await;
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_transient_errors_only() {
        let mut calls = 0;
        let r: Result<u32, &str> = retry(
            3,
            Duration::ZERO,
            |e| *e == "again",
            |n| {
                calls += 1;
                async move { if n < 3 { Err("again") } else { Ok(n) } }
            },
        )
        .await;
        assert_eq!(r, Ok(3));
        assert_eq!(calls, 3);
        let r: Result<u32, &str> = retry(3, Duration::ZERO, |e| *e == "again", |_| async { Err("fatal") }).await;
        assert_eq!(r, Err("fatal"));
    }
}
