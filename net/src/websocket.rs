//! The WebSocket handshake over an already-parsed request: answer 101 with the accept key and
//! hand the socket (and any bytes read past the head) to async-tungstenite.

use async_tungstenite::WebSocketStream;
use futures_lite::{AsyncRead, AsyncWrite};
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::http::write_all;

pub type WebSocket<S> = WebSocketStream<S>;

/// Initial read buffer of a connection, in bytes.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Bytes of queued frames tungstenite gathers before writing them to the socket.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Completes the server side of the handshake for `key` and returns the WebSocket. Messages
/// larger than `message_bytes_max` are refused by tungstenite before they are buffered whole.
pub async fn accept_websocket<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    key: &str,
    leftover: Vec<u8>,
    message_bytes_max: usize,
    extra_headers: &[(&str, &str)],
) -> std::io::Result<WebSocket<S>> {
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    write_all(&mut stream, head.as_bytes()).await?;
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(message_bytes_max);
    config.max_frame_size = Some(message_bytes_max);
    // tungstenite's 128 KiB defaults cost every idle connection 128 KiB of read buffer (measured:
    // ~134 KB RSS per idle connection). Relays hold many mostly idle connections; the buffers
    // grow while a large message is in flight.
    config.read_buffer_size = READ_BUFFER_BYTES;
    config.write_buffer_size = WRITE_BUFFER_BYTES;
    Ok(WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(config)).await)
}
