//! Domain events: what changed, published after the commit that made it durable.
//!
//! Use cases publish from the storage engine's after-commit hook, which runs on the writer
//! thread in commit order; the realtime layer consumes the channel in that same order. So every
//! receiver sees messages in id order, and a REST post is pushed exactly like a socket post.

use tokio::sync::mpsc;

use crate::model::{Message, Room};

#[derive(Debug, Clone)]
pub enum ChatEvent {
    MessageCreated(Message),
    MessageUpdated(Message),
    MessageDeleted {
        id: i64,
        room_id: i64,
    },
    /// `user_id` joined `room` (built as that user sees it).
    MemberAdded {
        user_id: i64,
        room: Box<Room>,
    },
    MemberRemoved {
        user_id: i64,
        room_id: i64,
    },
}

/// The sending side, held by the use cases.
#[derive(Clone)]
pub struct Events {
    tx: mpsc::UnboundedSender<ChatEvent>,
}

pub type EventStream = mpsc::UnboundedReceiver<ChatEvent>;

impl Events {
    pub fn channel() -> (Events, EventStream) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Events { tx }, rx)
    }

    pub fn publish(&self, event: ChatEvent) {
        // No receiver only happens during shutdown, when nobody is left to tell.
        let _ = self.tx.send(event);
    }
}
