//! Where log lines go: [`LineSink`], and [`BatchWriter`], which takes lines off the
//! request path to one writer thread.
//!
//! The thread wakes on the first line, sleeps [`BATCH_WINDOW`] while more queue up, and
//! writes them all with one `write`: a busy service makes a few hundred syscalls a second for its
//! logs instead of two per request, and request threads never wait on the output.

use std::io::Write;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::Duration;

/// Takes whole JSON lines (each ends with `\n`).
pub trait LineSink: Send + Sync + 'static {
    /// Writes or queues one line.
    fn line(&self, line: Vec<u8>);
}

/// A locked writer is a sink (tests capture lines in a `Mutex<Vec<u8>>`).
impl<W: Write + Send + 'static> LineSink for Mutex<W> {
    fn line(&self, line: Vec<u8>) {
        if let Ok(mut writer) = self.lock() {
            let _ = writer.write_all(&line);
            let _ = writer.flush();
        }
    }
}

/// How long the writer thread gathers lines before writing them.
pub const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// Lines queued at most; a logger finding the queue full waits (no line is dropped).
const QUEUE_LINES: usize = 16 * 1024;

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// A [`LineSink`] feeding a writer thread (see the module doc).
pub struct BatchWriter {
    sender: SyncSender<Message>,
}

impl BatchWriter {
    /// Starts the writer thread over `out`.
    pub fn spawn(out: impl Write + Send + 'static) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("auth0-client-log".into())
            .spawn(move || write_batches(&receiver, out))?;
        Ok(Self { sender })
    }

    /// Waits (at most `bound`) until every line queued so far is written.
    pub fn flush(&self, bound: Duration) {
        let (done, finished) = mpsc::sync_channel(1);
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = finished.recv_timeout(bound);
        }
    }
}

impl LineSink for BatchWriter {
    fn line(&self, line: Vec<u8>) {
        let _ = self.sender.send(Message::Line(line));
    }
}

/// The writer thread: until every sender is gone.
fn write_batches(receiver: &Receiver<Message>, mut out: impl Write) {
    let mut batch = Batch::default();
    while let Ok(first) = receiver.recv() {
        batch.take(first);
        // Let lines gather (sleeping, so that senders have no one to wake); a flush
        // request is answered at once.
        if batch.flushed.is_empty() {
            std::thread::sleep(BATCH_WINDOW);
        }
        let mut open = true;
        loop {
            match receiver.try_recv() {
                Ok(message) => batch.take(message),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let _ = out.write_all(&batch.lines);
        let _ = out.flush();
        batch.lines.clear();
        for done in batch.flushed.drain(..) {
            let _ = done.send(());
        }
        if !open {
            return;
        }
    }
}

/// Lines gathered for one write, and the flush requests they answer.
#[derive(Default)]
struct Batch {
    lines: Vec<u8>,
    flushed: Vec<SyncSender<()>>,
}

impl Batch {
    fn take(&mut self, message: Message) {
        match message {
            Message::Line(line) => self.lines.extend_from_slice(&line),
            Message::Flush(done) => self.flushed.push(done),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Arc;

    /// A writer counting its `write` calls, over a shared buffer.
    #[derive(Clone, Default)]
    struct Counting(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Counting {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let mut inner = self.0.lock().unwrap();
            inner.0.extend_from_slice(data);
            inner.1 += 1;
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_queued_together_are_written_in_one_call_and_in_order() {
        let out = Counting::default();
        let writer = BatchWriter::spawn(out.clone()).unwrap();
        for n in 0..1000 {
            writer.line(format!("{{\"n\":{n}}}\n").into_bytes());
        }
        writer.flush(Duration::from_secs(5));
        let (text, writes) = out.0.lock().unwrap().clone();
        let text = String::from_utf8(text).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|line| line[5..line.len() - 1].parse().unwrap())
            .collect();
        assert_eq!(numbers, (0..1000).collect::<Vec<_>>());
        assert!(writes < 1000, "{writes} writes for 1000 lines");
    }

    #[test]
    fn flush_returns_once_earlier_lines_are_out() {
        let out = Counting::default();
        let writer = BatchWriter::spawn(out.clone()).unwrap();
        writer.line(b"one\n".to_vec());
        writer.flush(Duration::from_secs(5));
        assert_eq!(out.0.lock().unwrap().0, b"one\n");
    }
}
