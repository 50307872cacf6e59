//! A single-threaded wake-all signal for tasks of one shard (no locks: shard-local only).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    wakers: RefCell<Vec<Waker>>,
}

impl Notify {
    /// Wakes every task waiting in `notified`.
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get() + 1);
        for waker in self.wakers.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// How many times `notify_all` was called: `notified_since` waits for a later one.
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// Completes at the first `notify_all` after this call.
    pub async fn notified(&self) {
        self.notified_since(self.generation.get()).await
    }

    /// Completes at once if `notify_all` was called since `generation` was read, else at the
    /// next one.
    pub async fn notified_since(&self, start: u64) {
        poll_fn(|context| {
            if self.generation.get() != start {
                return Poll::Ready(());
            }
            let mut wakers = self.wakers.borrow_mut();
            if !wakers.iter().any(|waker| waker.will_wake(context.waker())) {
                wakers.push(context.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}
