//! Group commit of attempt records: lanes hand their records to one task,
//! which writes whatever has accumulated in a single transaction.
//!
//! A record that is lost in a crash only means the event is sent again under
//! the same webhook-id, which the at-least-once contract allows. A lane that
//! goes idle waits for its records to be written first, so that it never
//! reads a delivered event back as pending.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{AttemptRecord, DeliveryState, Store};

/// Most records written in one transaction.
const MAX_BATCH: usize = 512;

pub(super) enum Message {
    Record {
        delivery_id: i64,
        record: AttemptRecord,
        state: DeliveryState,
        /// Set when a 410 disabled the target: its key and configuration hash.
        disable: Option<(String, String)>,
    },
    /// A request for a signal once every record sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// The sending side, cloned into every lane.
#[derive(Clone)]
pub(super) struct Recorder {
    sender: mpsc::UnboundedSender<Message>,
}

impl Recorder {
    /// Starts the writer task; it ends when every `Recorder` is dropped.
    pub fn start(store: Arc<Store>) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_batches(store, receiver));
        (Recorder { sender }, task)
    }

    pub fn record(&self, message: Message) {
        // The writer outlives every lane, so a send fails only after a panic
        // there, which the join of the writer task reports.
        let _ = self.sender.send(message);
    }

    /// Waits until every record sent so far is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(store: Arc<Store>, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let mut messages = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut messages, MAX_BATCH).await > 0 {
        let mut records = Vec::new();
        let mut disables = Vec::new();
        let mut flushed = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Record {
                    delivery_id,
                    record,
                    state,
                    disable,
                } => {
                    if let Some(disable) = disable {
                        disables.push((disable, record.attempted_at));
                    }
                    records.push((delivery_id, record, state));
                }
                Message::Flush(done) => flushed.push(done),
            }
        }
        let written = store
            .run_blocking(move |store| {
                store.record_attempts(&records)?;
                for ((key, fingerprint), at) in disables {
                    store.disable_target(
                        &key,
                        super::deliverer::DISABLE_REASON,
                        &fingerprint,
                        at,
                    )?;
                }
                Ok(())
            })
            .await;
        if let Err(error) = written {
            tracing::error!(%error, "cannot record delivery attempts: the events will be sent again");
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}
