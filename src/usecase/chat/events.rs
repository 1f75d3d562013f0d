//! Domain events: what changed, published after the commit that made it durable.
//!
//! Use cases publish from the storage engine's after-commit hook, which runs on the writer
//! thread in commit order; the realtime layer consumes the channel in that same order. So every
//! receiver sees messages in id order, and a REST post is pushed exactly like a socket post.
//!
//! Events carry what the writer already has (the stored message, ids); anything that must be
//! rendered per receiver (a Room as each added member sees it) is rendered by the consumer on a
//! read connection, so the single writer does not spend its time on it.
//!
//! **The channel is bounded** ([`CAPACITY`] events) and never drops one: when it is full, the
//! writer waits in its after-commit hook until the fan-out has taken an event, and writes queue
//! behind it (the write queue is bounded too, then callers wait). Unbounded, a fan-out slower than
//! the commits would grow memory without limit; dropping events would leave sockets silently
//! behind. Fan-out costs ~5 µs per delivery, so the bound is only reached when deliveries outrun
//! the machine; [`Events::depth`] shows how close it is (`natter_events_queued` in `/metrics`).
//! 4,096 events of a few hundred bytes each is at most a few MB.

use tokio::sync::mpsc;

use crate::model::{Message, MessageDeleted, ReadReceipt};

/// Events that may wait for the fan-out before the writer waits for it.
pub const CAPACITY: usize = 4096;

#[derive(Debug, Clone)]
pub enum ChatEvent {
    /// An administrator disabled the account: its sockets are closed.
    AccountDisabled {
        user_id: i64,
    },
    MessageCreated(Message),
    MessageUpdated(Message),
    MessageDeleted(MessageDeleted),
    /// `user_ids` joined `room_id`; each is told with the room as they see it.
    MembersAdded {
        room_id: i64,
        user_ids: Vec<i64>,
    },
    MemberRemoved {
        user_id: i64,
        room_id: i64,
    },
    /// A room's name, topic or visibility changed: its members are told.
    RoomUpdated {
        room_id: i64,
    },
    /// A member's read marker moved; the room's other members are told.
    Read(ReadReceipt),
    /// A user's display name or avatar changed: everyone who shares a room with them is told.
    UserUpdated {
        user_id: i64,
    },
}

/// The sending side, held by the use cases.
#[derive(Clone)]
pub struct Events {
    tx: mpsc::Sender<ChatEvent>,
}

/// The receiving side, consumed by the realtime fan-out.
pub struct EventStream {
    rx: mpsc::Receiver<ChatEvent>,
}

impl Events {
    pub fn channel() -> (Events, EventStream) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (Events { tx }, EventStream { rx })
    }

    /// Queue `event` for the fan-out, waiting while the queue is full. Called from the storage
    /// engine's after-commit hook, on the writer thread (never from async code, which must not
    /// block).
    pub fn publish(&self, event: ChatEvent) {
        // An error means no receiver: only during shutdown, when nobody is left to tell.
        let _ = self.tx.blocking_send(event);
    }

    /// Events published and not yet taken by the fan-out.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

impl EventStream {
    /// The next event in commit order; `None` once every `Events` is gone.
    pub async fn next(&mut self) -> Option<ChatEvent> {
        self.rx.recv().await
    }
}
