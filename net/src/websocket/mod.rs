//! The server side of a client's WebSocket: the 101 answer to an upgrade request, the frame
//! reader (`reader`), frame headers for what the relay writes, and the socket a connection's
//! reader and writer tasks share, with the shard's pool of buffers they borrow while bytes
//! move (an idle connection holds none).

pub mod reader;

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use futures_lite::{AsyncRead, AsyncWrite};
use tungstenite::handshake::derive_accept_key;

pub use reader::{Incoming, MessageReader, Payload, ReadError, write_header};

use crate::http::write_all;

/// Answers an upgrade request for `key` with 101 Switching Protocols (and `extra_headers`).
pub async fn accept<S: AsyncWrite + Unpin>(
    stream: &mut S,
    key: &str,
    extra_headers: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    write_all(stream, head.as_bytes()).await
}

/// Buffers lent to connections while bytes move: each is `bytes` long (read buffers are
/// handed out that long, write buffers empty with that capacity); at most `kept` idle ones are
/// kept, and a buffer that grew past four times the size is dropped rather than kept.
#[derive(Debug)]
pub struct BufferPool {
    free: RefCell<Vec<Vec<u8>>>,
    bytes: usize,
    kept: usize,
}

impl BufferPool {
    pub fn new(bytes: usize, kept: usize) -> BufferPool {
        BufferPool { free: RefCell::default(), bytes, kept }
    }

    /// A buffer of `bytes` initialized bytes (for reading into).
    pub fn take_filled(&self) -> Vec<u8> {
        let mut buffer = self.free.borrow_mut().pop().unwrap_or_default();
        buffer.resize(self.bytes, 0);
        buffer
    }

    /// An empty buffer with room for `bytes` (for gathering what is written).
    pub fn take_empty(&self) -> Vec<u8> {
        let mut buffer = self.free.borrow_mut().pop().unwrap_or_default();
        buffer.clear();
        buffer.reserve(self.bytes);
        buffer
    }

    /// Returns a buffer (of this pool or not) for the next taker.
    pub fn give(&self, buffer: Vec<u8>) {
        let mut free = self.free.borrow_mut();
        if free.len() < self.kept && (self.bytes..=4 * self.bytes).contains(&buffer.capacity()) {
            free.push(buffer);
        }
    }

    /// Idle buffers held now.
    pub fn idle(&self) -> usize {
        self.free.borrow().len()
    }
}

/// A connection's socket, shared by its reader and writer tasks on one thread. Each borrow
/// lasts one poll, so the two never overlap; a socket keeps a waker for reading and one for
/// writing apart (glommio's does).
#[derive(Debug)]
pub struct SharedSocket<S>(Rc<RefCell<S>>);

impl<S> Clone for SharedSocket<S> {
    fn clone(&self) -> SharedSocket<S> {
        SharedSocket(self.0.clone())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SharedSocket<S> {
    pub fn new(socket: S) -> SharedSocket<S> {
        SharedSocket(Rc::new(RefCell::new(socket)))
    }

    /// Waits for bytes and reads them into a buffer taken from `pool` only when they are there:
    /// a connection waiting for its client holds no buffer. `(buffer, 0)` is the end of the
    /// stream. The caller gives the buffer back.
    pub async fn read_lent(&self, pool: &BufferPool) -> std::io::Result<(Vec<u8>, usize)> {
        std::future::poll_fn(|context| {
            let mut buffer = pool.take_filled();
            match Pin::new(&mut *self.0.borrow_mut()).poll_read(context, &mut buffer) {
                Poll::Ready(Ok(read)) => Poll::Ready(Ok((buffer, read))),
                Poll::Ready(Err(error)) => {
                    pool.give(buffer);
                    Poll::Ready(Err(error))
                }
                Poll::Pending => {
                    pool.give(buffer);
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Writes all of `bytes`.
    pub async fn write_all(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let written =
                std::future::poll_fn(|context| Pin::new(&mut *self.0.borrow_mut()).poll_write(context, bytes)).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            bytes = &bytes[written..];
        }
        Ok(())
    }
}
