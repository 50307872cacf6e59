//! A fault-injection TCP proxy for cluster tests: forwards a listening port to a target, and
//! on command cuts every connection (and refuses new ones), blackholes them (bytes are read
//! and dropped both ways, sockets stay open: a silent peer), or delays every chunk.
//! Threads and blocking sockets; for tests only.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Close every connection; accept new ones and close them at once.
    Cut,
    /// Keep connections open but forward nothing.
    Blackhole,
    /// Forward every chunk after this many milliseconds.
    Delay(u64),
}

impl Fault {
    fn encode(self) -> u64 {
        match self {
            Fault::Pass => 0,
            Fault::Cut => 1,
            Fault::Blackhole => 2,
            Fault::Delay(milliseconds) => 3 + milliseconds,
        }
    }

    fn decode(value: u64) -> Fault {
        match value {
            0 => Fault::Pass,
            1 => Fault::Cut,
            2 => Fault::Blackhole,
            delay => Fault::Delay(delay - 3),
        }
    }
}

pub struct Proxy {
    pub port: u16,
    fault: Arc<AtomicU64>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("address").port();
        let fault = Arc::new(AtomicU64::new(Fault::Pass.encode()));
        let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accept_fault, accept_sockets) = (fault.clone(), sockets.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if Fault::decode(accept_fault.load(Ordering::SeqCst)) == Fault::Cut {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                for socket in [&client, &server] {
                    accept_sockets.lock().unwrap().push(socket.try_clone().expect("clone socket"));
                }
                pump(client.try_clone().expect("clone"), server.try_clone().expect("clone"), accept_fault.clone());
                pump(server, client, accept_fault.clone());
            }
        });
        Proxy { port, fault, sockets }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set(&self, fault: Fault) {
        self.fault.store(fault.encode(), Ordering::SeqCst);
        if fault == Fault::Cut {
            for socket in self.sockets.lock().unwrap().drain(..) {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` under the current fault, on its own thread.
fn pump(mut from: TcpStream, mut to: TcpStream, fault: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            match Fault::decode(fault.load(Ordering::SeqCst)) {
                Fault::Pass => {}
                Fault::Cut => break,
                Fault::Blackhole => continue,
                Fault::Delay(milliseconds) => std::thread::sleep(Duration::from_millis(milliseconds)),
            }
            if to.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
