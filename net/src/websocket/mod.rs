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

#[cfg(test)]
mod tests {
    use std::task::{Context, Waker};

    use super::*;

    /// A socket whose reads are pending until bytes are put in; writes go to `written`.
    #[derive(Default)]
    struct Pipe {
        incoming: Vec<u8>,
        written: Vec<u8>,
    }

    impl AsyncRead for Pipe {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buffer: &mut [u8]) -> Poll<std::io::Result<usize>> {
            if self.incoming.is_empty() {
                return Poll::Pending;
            }
            let count = self.incoming.len().min(buffer.len());
            buffer[..count].copy_from_slice(&self.incoming[..count]);
            self.incoming.drain(..count);
            Poll::Ready(Ok(count))
        }
    }

    impl AsyncWrite for Pipe {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
            let count = bytes.len().min(3); // short writes: write_all must loop
            self.written.extend_from_slice(&bytes[..count]);
            Poll::Ready(Ok(count))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A connection waiting for bytes holds no buffer; one with bytes gets a full one, which
    /// goes back to the pool for the next reader.
    #[test]
    fn a_waiting_read_holds_no_buffer() {
        let pool = BufferPool::new(64, 4);
        let socket = SharedSocket::new(Pipe::default());
        let mut read = Box::pin(socket.read_lent(&pool));
        let mut context = Context::from_waker(Waker::noop());
        assert!(read.as_mut().poll(&mut context).is_pending());
        assert_eq!(pool.idle(), 1, "the buffer went back while waiting");
        socket.0.borrow_mut().incoming.extend_from_slice(b"hello");
        let Poll::Ready(Ok((buffer, count))) = read.as_mut().poll(&mut context) else { panic!("bytes were there") };
        assert_eq!((&buffer[..count], buffer.len(), pool.idle()), (&b"hello"[..], 64, 0));
        pool.give(buffer);
        pool.give(vec![0; 1000]);
        pool.give(Vec::new());
        assert_eq!(pool.idle(), 1, "buffers far from the pool's size are not kept");
        assert_eq!((pool.take_empty().len(), pool.take_empty().capacity() >= 64), (0, true));
    }

    #[test]
    fn write_all_loops_over_short_writes() {
        let socket = SharedSocket::new(Pipe::default());
        futures_lite::future::block_on(socket.write_all(b"a frame of some bytes")).unwrap();
        assert_eq!(socket.0.borrow().written, b"a frame of some bytes");
    }
}
