//! A shutdown future that can be checked without waiting and awaited more than once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

pub(crate) struct Stop<F> {
    future: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Stop<F> {
    pub(crate) fn new(future: F) -> Self {
        Self {
            future: Box::pin(future),
            fired: false,
        }
    }

    /// Whether shutdown was requested, without waiting.
    pub(crate) fn requested(&mut self) -> bool {
        if !self.fired {
            let mut cx = Context::from_waker(Waker::noop());
            self.fired = self.future.as_mut().poll(&mut cx).is_ready();
        }
        self.fired
    }

    /// Resolves when shutdown is requested (at once if it already was).
    pub(crate) async fn wait(&mut self) {
        if !self.fired {
            self.future.as_mut().await;
            self.fired = true;
        }
    }
}
