//! Worker threads: one per connection, named, with small stacks (thousands of them fit), and the
//! stop flag they poll between reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::Context;

/// Stack of a connection thread: it holds a socket, a few buffers and a histogram on the heap.
pub const WORKER_STACK_BYTES: usize = 256 * 1024;

/// Starts a named worker thread.
pub fn spawn<T: Send + 'static>(
    name: String,
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.clone())
        .stack_size(WORKER_STACK_BYTES)
        .spawn(work)
        .with_context(|| format!("starting thread {name} (too many threads? lower the connection count)"))
}

/// Waits for every worker; a worker that panicked is an error (a bench bug, not a relay answer).
pub fn join_all<T>(handles: Vec<JoinHandle<T>>) -> anyhow::Result<Vec<T>> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        let name = handle.thread().name().unwrap_or("worker").to_string();
        results.push(handle.join().map_err(|_| anyhow::anyhow!("worker thread {name} panicked"))?);
    }
    Ok(results)
}

/// A flag every worker of a run polls; set once, when the run (or one phase of it) ends.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_run_and_report_panics_as_errors() {
        let stop = Stop::new();
        let seen = stop.clone();
        let handles = vec![spawn("ok".into(), move || seen.is_stopped()).expect("spawn")];
        assert_eq!(join_all(handles).expect("joined"), vec![false]);
        stop.stop();
        assert!(stop.is_stopped());
        let handles = vec![spawn("boom".into(), || panic!("bench bug")).expect("spawn")];
        let error = join_all::<()>(handles).expect_err("panicked");
        assert!(error.to_string().contains("boom"), "{error}");
    }
}
