//! OpenTelemetry exports on their way to the hub: each carries a [`Claim`] (applied only
//! if the hub takes it before its receiver gives up and answers 503, so a retried export
//! is never counted twice) and a [`Permit`], its share of one bounded queue for the
//! process ([`EXPORTS`]): past it an export is turned away at once (HTTP 429, gRPC
//! RESOURCE_EXHAUSTED) instead of waiting in memory.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use redline_engine::otlp::Batch;
use tokio::sync::oneshot;

/// An OpenTelemetry export on its way to the hub. The hub applies it only if it can
/// [`Claim::take`] it first: the receiver that gave up waiting (and answered 503) has
/// abandoned it, and then nothing of it is stored or counted.
#[derive(Debug)]
pub struct Export {
    /// What it carries.
    pub batch: Batch,
    /// Who gets to decide its fate: the hub, or the receiver that stopped waiting.
    pub claim: Claim,
    /// Its share of the export queue, given back when the export is dropped.
    pub permit: Permit,
    /// `Ok` once stored and counted, else why nothing of it was.
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// An export's fate, decided once: taken by the hub (it will be stored, or refused as a
/// whole) or abandoned by its receiver (it will not be).
#[derive(Clone, Debug, Default)]
pub struct Claim(Arc<AtomicU8>);

const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    /// The hub's side: `true` when the export is now the hub's to store.
    pub fn take(&self) -> bool {
        self.0
            .compare_exchange(WAITING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The receiver's side: `true` when the hub will never store it (it was not taken);
    /// `false` when the hub already took it and its verdict is coming.
    pub fn abandon(&self) -> bool {
        match self
            .0
            .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == ABANDONED,
        }
    }
}

/// The most bytes of OpenTelemetry exports held at once, from their receipt to the
/// hub's answer (decoded, as [`Permit`]s weigh them). Past it an export is turned away
/// at once (HTTP 429, gRPC RESOURCE_EXHAUSTED) instead of waiting in memory.
pub const EXPORT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// The most OpenTelemetry exports held at once.
pub const EXPORT_QUEUE_LEN: usize = 64;

/// The exports admitted and not yet answered (and dropped): a byte budget and a count.
/// The daemon has one hub, so one queue for the process: [`EXPORTS`].
#[derive(Debug)]
pub struct ExportQueue {
    /// (bytes, exports) held now.
    held: Mutex<(usize, usize)>,
    max_bytes: usize,
    max_len: usize,
}

/// The daemon's export queue, shared by OTLP over HTTP and gRPC.
pub static EXPORTS: ExportQueue = ExportQueue::new(EXPORT_QUEUE_BYTES, EXPORT_QUEUE_LEN);

impl ExportQueue {
    /// A queue of at most `max_bytes` and `max_len` exports.
    pub const fn new(max_bytes: usize, max_len: usize) -> ExportQueue {
        ExportQueue {
            held: Mutex::new((0, 0)),
            max_bytes,
            max_len,
        }
    }

    /// A place for an export of `bytes` (an estimate, corrected with
    /// [`Permit::weigh`]), or `None` when the queue is full. One export is always let in
    /// when the queue is empty, whatever its size.
    pub fn admit(&'static self, bytes: usize) -> Option<Permit> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let full = held.1 > 0 && (held.0 + bytes > self.max_bytes || held.1 >= self.max_len);
        if full {
            return None;
        }
        held.0 += bytes;
        held.1 += 1;
        Some(Permit { queue: self, bytes })
    }

    /// (bytes, exports) held now.
    pub fn held(&self) -> (usize, usize) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An export's place in the [`ExportQueue`], given back on drop.
#[derive(Debug)]
pub struct Permit {
    queue: &'static ExportQueue,
    bytes: usize,
}

impl Permit {
    /// Corrects the estimate once the export is decoded.
    pub fn weigh(&mut self, bytes: usize) {
        let mut held = self.queue.held.lock().unwrap_or_else(|e| e.into_inner());
        held.0 = held.0 - self.bytes + bytes;
        self.bytes = bytes;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut held = self.queue.held.lock().unwrap_or_else(|e| e.into_inner());
        held.0 -= self.bytes;
        held.1 -= 1;
    }
}
