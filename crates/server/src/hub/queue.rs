//! The bounded queue behind each connection's outbox: many producers (the hub's fan-out, the
//! connection's own request handling), one consumer (the connection's writer).
//!
//! Built for idle memory rather than generality: an empty queue owns no buffer (its
//! `VecDeque` is released each time the writer drains it), so thousands of idle connections
//! cost a few dozen bytes each here, where a channel with preallocated blocks would cost about
//! a kilobyte. Producers either fail at once when the queue is full ([`Queue::try_push`]) or
//! wait for room ([`Queue::push`]).
//!
//! The queue also records who may write to the connection's socket right now ([`Owner`]), so
//! a producer can skip the queue and the consumer's wake-up when the socket is idle: it
//! [`Queue::claim`]s the socket, writes, and [`Queue::release`]s it. Items are only taken
//! together with ownership and a claim needs an empty queue, so the socket sees items in queue
//! order whichever way they go.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// A bounded multi-producer, single-consumer queue; share it in an `Arc`.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    /// The consumer's task, woken when an item arrives, when a producer gives the socket
    /// back, and by [`Queue::wake_consumer`]. The consumer registers before it looks, so a
    /// push that lands in between is not missed.
    consumer: AtomicWaker,
    /// Wakes producers waiting for room when the consumer takes items or leaves.
    room: Notify,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// The consumer is gone: pushes fail.
    closed: bool,
    /// Who may write to the socket now.
    owner: Owner,
    /// A producer woke the consumer to take the queue (cleared when it does). Items pushed
    /// quietly to a lent socket are not the consumer's to take when its task is polled for
    /// something else: their producer flushes them (see [`Queue::try_push_quiet`]).
    signalled: bool,
}

/// Who may write to the connection's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The consumer (the connection's task): from the start, whenever it takes items,
    /// and for good once it closes.
    Consumer,
    /// Nobody: the consumer waits with nothing to write and lets producers [`Queue::claim`]
    /// the socket.
    Idle,
    /// A producer that claimed the idle socket, until it releases it.
    Producer,
}

/// Why [`Queue::try_push`] refused an item; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError<T> {
    /// The queue holds `capacity` items.
    Full(T),
    /// The consumer is gone.
    Closed(T),
}

impl<T> Queue<T> {
    /// An empty queue holding at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                owner: Owner::Consumer,
                signalled: false,
            }),
            consumer: AtomicWaker::new(),
            room: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `item` unless the queue is full or closed.
    pub fn try_push(&self, item: T) -> Result<(), PushError<T>> {
        self.try_push_leaving(item, 0)
    }

    /// Appends `item` if afterwards at least `room` slots stay free.
    fn try_push_leaving(&self, item: T, room: usize) -> Result<(), PushError<T>> {
        self.push_waking(item, room, true).map(|_| ())
    }

    /// Appends `item` unless the queue is full or closed, without waking a consumer that lent
    /// the socket: whoever pushes this way must see that the queue is flushed later (see
    /// [`Queue::claim_queued`]). A consumer that owns the socket is woken as usual. `Ok(true)`
    /// when the consumer was woken (it writes the item), `Ok(false)` when it lent the socket
    /// (the item waits for a producer's flush).
    pub fn try_push_quiet(&self, item: T) -> Result<bool, PushError<T>> {
        self.push_waking(item, 0, false)
    }

    /// Appends `item`; `Ok(true)` if the consumer was woken for it.
    fn push_waking(&self, item: T, room: usize, wake_idle: bool) -> Result<bool, PushError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if state.items.len() + room >= self.capacity {
            return Err(PushError::Full(item));
        }
        state.items.push_back(item);
        let wake = wake_idle || state.owner != Owner::Idle;
        state.signalled |= wake;
        drop(state);
        if wake {
            self.consumer.wake();
        }
        Ok(wake)
    }

    /// Appends `item` once at least `room + 1` slots are free (`room` is capped below the
    /// capacity); `false` if the consumer is gone.
    pub async fn push(&self, item: T, room: usize) -> bool {
        let room = room.min(self.capacity - 1);
        let mut item = item;
        loop {
            let wait = self.room.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            match self.try_push_leaving(item, room) {
                Ok(()) => return true,
                Err(PushError::Closed(_)) => return false,
                Err(PushError::Full(back)) => item = back,
            }
            wait.await;
        }
    }

    /// Waits for at least one item, then moves up to `max` items into `out`, oldest first,
    /// and takes ownership of the socket. While it waits with nothing queued, the socket is
    /// [`Owner::Idle`] if `lend` (producers may then claim it); while a producer holds
    /// it, nothing is taken until that producer releases it. When taking empties the queue its
    /// buffer is released. Items a producer queued quietly to the lent socket stay for that
    /// producer's flush. Registers `cx`'s waker as the consumer's.
    pub fn poll_pop_into(&self, cx: &mut Context<'_>, out: &mut Vec<T>, max: usize, lend: bool) -> Poll<()> {
        self.register_consumer(cx.waker());
        let mut state = self.lock();
        let for_consumer = state.signalled || state.owner == Owner::Consumer || !lend;
        if state.owner != Owner::Producer && !state.items.is_empty() && for_consumer {
            state.owner = Owner::Consumer;
            state.signalled = false;
            drop(state);
            self.try_pop_into(out, max);
            return Poll::Ready(());
        }
        if state.owner != Owner::Producer {
            state.owner = if lend { Owner::Idle } else { Owner::Consumer };
        }
        Poll::Pending
    }

    /// [`Queue::poll_pop_into`] as a future (tests).
    #[cfg(test)]
    pub async fn pop_into(&self, out: &mut Vec<T>, max: usize, lend: bool) {
        std::future::poll_fn(|cx| self.poll_pop_into(cx, out, max, lend)).await
    }

    /// Takes ownership of the socket for the consumer (a ping, the close), waiting out a
    /// producer's claim (one non-blocking write: the task yields and tries again).
    pub fn poll_own(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.owner != Owner::Producer {
            state.owner = Owner::Consumer;
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Registers the consumer's task to be woken (by [`Queue::wake_consumer`] and the queue's
    /// own wake-ups), replacing the waker registered before.
    pub fn register_consumer(&self, waker: &std::task::Waker) {
        self.consumer.register(waker);
    }

    /// Wakes the consumer's task, whatever it waits for (a close, a heartbeat).
    pub fn wake_consumer(&self) {
        self.consumer.wake();
    }

    /// Claims the socket for a producer: only when the consumer lent it, nothing is queued
    /// and the consumer is still there. The caller must [`Queue::release`] it.
    pub fn claim(&self) -> bool {
        let mut state = self.lock();
        let free = state.owner == Owner::Idle && state.items.is_empty() && !state.closed;
        if free {
            state.owner = Owner::Producer;
        }
        free
    }

    /// Claims the lent socket for a producer even with items queued (a producer flushing what
    /// it queued quietly, in order, with [`Queue::try_pop_into`]). The caller must
    /// [`Queue::release`] it.
    pub fn claim_queued(&self) -> bool {
        let mut state = self.lock();
        let free = state.owner == Owner::Idle && !state.closed;
        if free {
            state.owner = Owner::Producer;
        }
        free
    }

    /// Ends a producer's claim. `rest` (what it could not write) goes to the front of the
    /// queue, ahead of anything queued meanwhile; with `rest` or anything queued meanwhile,
    /// or when not `lend` (the socket got busy), the consumer is woken to own the socket.
    pub fn release(&self, rest: Option<T>, lend: bool) {
        let mut state = self.lock();
        if let Some(rest) = rest {
            if !state.closed {
                state.items.push_front(rest);
            }
        }
        state.owner = if lend && state.items.is_empty() { Owner::Idle } else { Owner::Consumer };
        let wake = state.owner == Owner::Consumer;
        state.signalled |= wake;
        drop(state);
        if wake {
            self.consumer.wake();
        }
    }

    /// Moves up to `max` queued items into `out` without waiting; returns how many.
    pub fn try_pop_into(&self, out: &mut Vec<T>, max: usize) -> usize {
        let mut state = self.lock();
        let n = state.items.len().min(max);
        out.extend(state.items.drain(..n));
        if state.items.is_empty() {
            state.signalled = false;
            if state.items.capacity() > 0 {
                state.items = VecDeque::new();
            }
        }
        drop(state);
        if n > 0 {
            self.room.notify_waiters();
        }
        n
    }

    /// Items queued now (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// The consumer leaves: queued items are dropped, pushes and claims fail from now on, and
    /// waiting producers wake up to see it. Waits out a producer's claim (one non-blocking
    /// write), so no producer writes to the socket once this returns.
    pub fn close(&self) {
        let dropped = loop {
            let mut state = self.lock();
            state.closed = true;
            if state.owner != Owner::Producer {
                state.owner = Owner::Consumer;
                break std::mem::take(&mut state.items);
            }
            drop(state);
            std::thread::yield_now();
        };
        drop(dropped);
        self.room.notify_waiters();
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
