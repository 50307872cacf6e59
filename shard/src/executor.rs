//! Helpers for code running on a glommio executor, shared by every role.

use std::time::Duration;

/// Runs `future` while waking this executor every millisecond. glommio checks whether the
/// other end of a shared channel has connected only when the executor wakes, and a parked
/// executor with nothing else to do would wait forever.
pub async fn with_pulse<F: std::future::Future>(future: F) -> F::Output {
    futures_lite::future::or(future, async {
        loop {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}
