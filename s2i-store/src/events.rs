//! The event log's data: what an event is, and where a new consumer starts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log; strictly increasing, never reused.
    pub seq: u64,
    /// When it was appended (RFC 3339).
    pub time: String,
    /// Kind of the object it is about.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// What happened, e.g. `TagChanged`.
    pub action: String,
    /// Kind-specific detail (for `TagChanged`: tag, old and new image).
    pub data: Value,
}

/// An event to append (`Tx::append_event`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Kind of the object it is about.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// What happened.
    pub action: String,
    /// Kind-specific detail; `null` when there is none.
    pub data: Value,
}

impl NewEvent {
    /// An event without detail.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            action: action.into(),
            data: Value::Null,
        }
    }

    /// The same event with detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// Where a consumer that has never consumed starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerStart {
    /// At the first event ever appended.
    Beginning,
    /// After the newest event at the time the consumer first runs.
    End,
}
