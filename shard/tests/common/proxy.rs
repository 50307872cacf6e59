//! A fault-injection proxy for cluster tests. It stands in front of one node's cluster port,
//! TCP (links) and UDP (membership) on the same port number, and forwards to the node. On
//! command it cuts every connection and drops every datagram (and refuses new connections),
//! blackholes them (bytes are read and dropped, sockets stay open: a silent peer), delays
//! every chunk and datagram, or blocks one node's traffic only: links whose preamble names that
//! node's key (the one part of a link in the clear), and datagrams whose envelope names it as
//! sender. Threads and blocking sockets;
//! for tests only.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parrhesia_net::cluster::secure::{Encryption, PREAMBLE_BYTES, Preamble};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Close every connection and drop every datagram; new connections are closed at once.
    Cut,
    /// Keep connections open but forward nothing.
    Blackhole,
    /// Forward every chunk and datagram after this many milliseconds.
    Delay(u64),
    /// Stop reading (TCP) until the fault changes: the sender's socket buffers fill and its
    /// writes block, as behind a stalled peer. Datagrams are dropped.
    Stall,
    /// Past a connection's handshake (its first `TAMPER_AFTER` bytes each way), flip one bit of
    /// the next chunk, once per direction.
    Flip,
    /// Past the handshake, forward half of the next chunk, then close the connection.
    Truncate,
    /// Past the handshake, put a chunk copied from an earlier connection in front of the next
    /// chunk (well-formed records, sealed for another channel), once per direction.
    Inject,
}

/// Bytes of each direction of a connection let through untouched by the tampering faults: its
/// preamble, Noise messages, hello and auth records fit well within them.
const TAMPER_AFTER: usize = 1024;

impl Fault {
    fn encode(self) -> u64 {
        match self {
            Fault::Pass => 0,
            Fault::Cut => 1,
            Fault::Blackhole => 2,
            Fault::Stall => 3,
            Fault::Flip => 4,
            Fault::Truncate => 5,
            Fault::Inject => 6,
            Fault::Delay(milliseconds) => 16 + milliseconds,
        }
    }

    fn decode(value: u64) -> Fault {
        match value {
            0 => Fault::Pass,
            1 => Fault::Cut,
            2 => Fault::Blackhole,
            3 => Fault::Stall,
            4 => Fault::Flip,
            5 => Fault::Truncate,
            6 => Fault::Inject,
            delay => Fault::Delay(delay - 16),
        }
    }
}

#[derive(Default)]
struct Shared {
    fault: AtomicU64,
    /// Node keys whose links and datagrams are dropped.
    blocked: Mutex<HashSet<[u8; 32]>>,
    /// Node keys whose links are stalled (as `Fault::Stall`, for their links only).
    stalled: Mutex<HashSet<[u8; 32]>>,
    /// (socket, its dialer's key once known) for every proxied connection.
    sockets: Mutex<Vec<(TcpStream, Option<[u8; 32]>)>>,
    /// Every byte forwarded over TCP, both ways, in the order forwarded.
    recorded: Mutex<Vec<u8>>,
    /// What each connection's dialer sent, preamble first, by connection.
    dialed: Mutex<Vec<Vec<u8>>>,
    /// Every membership datagram forwarded.
    datagrams: Mutex<Vec<Vec<u8>>>,
    /// A chunk seen past a handshake (and the pump it passed), for `Fault::Inject` on
    /// another connection.
    earlier_chunk: Mutex<Option<(usize, Vec<u8>)>>,
}

impl Shared {
    fn fault(&self) -> Fault {
        Fault::decode(self.fault.load(Ordering::SeqCst))
    }

    fn is_blocked(&self, key: &[u8; 32]) -> bool {
        self.blocked.lock().unwrap().contains(key)
    }

    fn is_stalled(&self, dialer: Option<[u8; 32]>) -> bool {
        self.fault() == Fault::Stall || dialer.is_some_and(|key| self.stalled.lock().unwrap().contains(&key))
    }
}

pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free loopback port (TCP and UDP) and forwards to `target` (host:port).
    pub fn start(target: String) -> Proxy {
        let (listener, datagrams) = bind_both();
        let port = listener.local_addr().expect("address").port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        let tcp_target = target.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let shared = accept_shared.clone();
                let target = tcp_target.clone();
                std::thread::spawn(move || proxy_connection(client, &target, shared));
            }
        });
        let udp_shared = shared.clone();
        std::thread::spawn(move || forward_datagrams(datagrams, &target, &udp_shared));
        Proxy { port, shared }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set(&self, fault: Fault) {
        self.shared.fault.store(fault.encode(), Ordering::SeqCst);
        if fault == Fault::Cut {
            for (socket, _) in self.shared.sockets.lock().unwrap().drain(..) {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
    }

    /// Drops the links and datagrams of the node with this key (and closes its open links).
    pub fn block(&self, key: [u8; 32]) {
        self.shared.blocked.lock().unwrap().insert(key);
        self.shared.sockets.lock().unwrap().retain(|(socket, dialer)| {
            let blocked = *dialer == Some(key);
            if blocked {
                let _ = socket.shutdown(Shutdown::Both);
            }
            !blocked
        });
    }

    /// Stalls the links the node with this key dialled (see `Fault::Stall`).
    pub fn stall(&self, key: [u8; 32]) {
        self.shared.stalled.lock().unwrap().insert(key);
    }

    /// Every byte forwarded over TCP so far, both ways.
    pub fn recorded(&self) -> Vec<u8> {
        self.shared.recorded.lock().unwrap().clone()
    }

    /// Every membership datagram forwarded so far.
    pub fn datagrams(&self) -> Vec<Vec<u8>> {
        self.shared.datagrams.lock().unwrap().clone()
    }

    /// What the dialer of each connection so far sent, preamble first.
    pub fn dialed(&self) -> Vec<Vec<u8>> {
        self.shared.dialed.lock().unwrap().clone()
    }

    pub fn unblock_all(&self) {
        self.shared.blocked.lock().unwrap().clear();
        self.shared.stalled.lock().unwrap().clear();
    }
}

/// A TCP listener and a UDP socket on the same free loopback port.
fn bind_both() -> (TcpListener, UdpSocket) {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("address").port();
        if let Ok(datagrams) = UdpSocket::bind(("127.0.0.1", port)) {
            return (listener, datagrams);
        }
    }
}

fn forward_datagrams(socket: UdpSocket, target: &str, shared: &Shared) {
    let mut buffer = vec![0; 64 * 1024];
    while let Ok((length, _)) = socket.recv_from(&mut buffer) {
        let datagram = &buffer[..length];
        // The envelope: "PRM2", cluster id length, cluster id, sender key.
        let sender = datagram.get(4).and_then(|&id_length| {
            let start = 5 + id_length as usize;
            datagram.get(start..start + 32).and_then(|key| <[u8; 32]>::try_from(key).ok())
        });
        if sender.is_some_and(|key| shared.is_blocked(&key)) {
            continue;
        }
        match shared.fault() {
            // Tampering is for links: datagrams carry their own signatures.
            Fault::Pass | Fault::Flip | Fault::Truncate | Fault::Inject => {}
            Fault::Cut | Fault::Blackhole | Fault::Stall => continue,
            Fault::Delay(milliseconds) => std::thread::sleep(Duration::from_millis(milliseconds)),
        }
        shared.datagrams.lock().unwrap().push(datagram.to_vec());
        let _ = socket.send_to(datagram, target);
    }
}

/// Reads the dialer's preamble to learn its key, then forwards both ways.
fn proxy_connection(mut client: TcpStream, target: &str, shared: Arc<Shared>) {
    if shared.fault() == Fault::Cut {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Some((preamble, dialer)) = read_preamble(&mut client) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    if dialer.is_some_and(|key| shared.is_blocked(&key)) || shared.fault() == Fault::Cut {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(mut server) = TcpStream::connect(target) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    if server.write_all(&preamble).is_err() {
        return;
    }
    let connection = {
        let mut dialed = shared.dialed.lock().unwrap();
        dialed.push(preamble.clone());
        dialed.len() - 1
    };
    shared.recorded.lock().unwrap().extend_from_slice(&preamble);
    {
        let mut sockets = shared.sockets.lock().unwrap();
        sockets.push((client.try_clone().expect("clone socket"), dialer));
        sockets.push((server.try_clone().expect("clone socket"), dialer));
    }
    let (from_client, to_server) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
    pump(from_client, to_server, dialer, Some(connection), PREAMBLE_BYTES, shared.clone());
    pump(server, client, dialer, None, 0, shared);
}

/// The first bytes of a link (its preamble) and the key they name (None if they are not a
/// preamble).
fn read_preamble(client: &mut TcpStream) -> Option<(Vec<u8>, Option<[u8; 32]>)> {
    client.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut preamble = vec![0; PREAMBLE_BYTES];
    client.read_exact(&mut preamble).ok()?;
    client.set_read_timeout(None).ok()?;
    let own = Preamble::new(Encryption::Required, [0; 32]);
    let off = Preamble::new(Encryption::Off, [0; 32]);
    let bytes: &[u8; PREAMBLE_BYTES] = preamble[..].try_into().ok()?;
    let dialer = own.decode_peer(bytes).or_else(|_| off.decode_peer(bytes)).ok().map(|peer| peer.key);
    Some((preamble, dialer))
}

/// Copies `from` to `to` under the current fault, on its own thread. `dialed` is the
/// connection whose dialer's bytes these are (recorded for replay); `forwarded` counts what
/// this direction let through before.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    dialer: Option<[u8; 32]>,
    dialed: Option<usize>,
    mut forwarded: usize,
    shared: Arc<Shared>,
) {
    static PUMPS: AtomicU64 = AtomicU64::new(0);
    let pump = PUMPS.fetch_add(1, Ordering::Relaxed) as usize;
    std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        let mut tampered = false;
        loop {
            while shared.is_stalled(dialer) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            // What was read before a stall began is held, not lost.
            while shared.is_stalled(dialer) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let past_handshake = forwarded >= TAMPER_AFTER;
            forwarded += read;
            let chunk = &mut buffer[..read];
            let earlier = match past_handshake {
                true => shared.earlier_chunk.lock().unwrap().get_or_insert_with(|| (pump, chunk.to_vec())).clone(),
                false => (pump, Vec::new()),
            };
            let fault = shared.fault();
            let tamper = past_handshake
                && !tampered
                && match fault {
                    Fault::Flip | Fault::Truncate => true,
                    Fault::Inject => earlier.0 != pump,
                    _ => false,
                };
            match fault {
                Fault::Pass | Fault::Stall => {}
                Fault::Cut => break,
                Fault::Blackhole => continue,
                Fault::Delay(milliseconds) => std::thread::sleep(Duration::from_millis(milliseconds)),
                Fault::Flip if tamper => chunk[read / 2] ^= 1,
                Fault::Truncate if tamper => {
                    let _ = to.write_all(&chunk[..read / 2]);
                    break;
                }
                Fault::Inject if tamper => {
                    if to.write_all(&earlier.1).is_err() {
                        break;
                    }
                }
                Fault::Flip | Fault::Truncate | Fault::Inject => {}
            }
            tampered |= tamper;
            shared.recorded.lock().unwrap().extend_from_slice(chunk);
            if let Some(connection) = dialed {
                shared.dialed.lock().unwrap()[connection].extend_from_slice(chunk);
            }
            if to.write_all(chunk).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
