//! Loopback ports for relays started by tests (the shard's tests, and the bench's through a
//! `#[path]` module).

/// A loopback port free for TCP and UDP, below the kernel's ephemeral range (32768-60999 here):
/// a port the kernel hands out for `bind(0)` (a proxy's listener, any client socket) can then
/// never be one a node is about to bind. (Taking `bind(0)`'s port and releasing it let a proxy
/// later get the same port as a node: the node then dialled itself.) Each test process starts
/// at its own offset and counts up; the bind checks skip ports in use.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FIRST} and {}", FIRST + SPAN);
}
