//! Tag changes that start nothing (`--no-triggers`).
//!
//! A tag change appends a `TagChanged` event; consumers that start work for
//! tag changes (the build triggers of `s2i-buildconfig`) follow them later,
//! possibly in another process. An operation whose changes must start nothing
//! says so in its own transaction: [`suppress_since`] stores a marker for
//! each `TagChanged` event it appended, and the consumer takes the marker
//! ([`take`]) when it reaches that event. Marking the events, not the
//! watchers, keeps the order: events of earlier changes, consumed later, are
//! still judged as they came.

use s2i_store::{Resource, Tx};

use crate::error::Result;
use crate::streams::TAG_CHANGED;
use crate::types::ImageStream;

/// The store kind of the markers, named by the event's sequence number;
/// internal bookkeeping, removed when the event is consumed.
pub(crate) const SUPPRESSED: &str = "SuppressedTagEvent";

fn marker_name(seq: u64) -> String {
    format!("{seq:020}")
}

/// Mark every `TagChanged` event after `seq` (those of the current
/// transaction) as one that starts nothing.
pub fn suppress_since(tx: &Tx<'_>, seq: u64) -> Result<()> {
    for event in tx.events_after(seq, usize::MAX >> 1)? {
        if event.kind == ImageStream::KIND && event.action == TAG_CHANGED {
            tx.put(SUPPRESSED, "", &marker_name(event.seq), serde_json::json!({"event": event.seq}))?;
        }
    }
    Ok(())
}

/// Whether event `seq` was marked by [`suppress_since`]; the marker is removed
/// (call in the transaction that consumes the event).
pub fn take(tx: &Tx<'_>, seq: u64) -> Result<bool> {
    Ok(tx.delete(SUPPRESSED, "", &marker_name(seq))?.is_some())
}
