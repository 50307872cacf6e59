//! The front door of every socket: read the first request (with a deadline), answer plain HTTP
//! (NIP-11, health, readiness, 404) or upgrade to WebSocket and hand over to `connection`.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;
use parrhesia_net::http::write_all;
use parrhesia_net::{HttpError, Route};

use crate::shard::Shard;

const CORS: [(&str, &str); 3] = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
];

/// The socket's request head, read within the handshake deadline; `None` once a bad request
/// has been answered, or when the peer sent no complete request in time.
async fn read_request(shard: &Shard, stream: &mut TcpStream) -> Option<parrhesia_net::Request> {
    let deadline = Duration::from_millis(shard.config.handshake_timeout_ms);
    let head_bytes_max = shard.config.http_head_bytes_max;
    let read = glommio::timer::timeout(deadline, async {
        Ok(parrhesia_net::read_request(&mut *stream, head_bytes_max).await)
    })
    .await;
    match read {
        Ok(Ok(request)) => Some(request),
        Ok(Err(error)) => {
            answer_error(stream, &error).await;
            None
        }
        Err(_) => None,
    }
}

pub async fn serve(shard: Rc<Shard>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(peer) = stream.peer_addr().map(|address| address.ip()) else { return };
    // A blocked address (NIP-86 `blockip`) is closed before anything is read; behind a trusted
    // proxy, the client it names is checked once the request head is read.
    let proxied = shard.trusted_proxies.contains(&parrhesia_engine::policy::ip_key(peer));
    if !proxied && !admitted(&shard, peer) {
        let _ = stream.close().await;
        return;
    }
    // Boxed, as is the management call below: a task's future is as large as its largest
    // await, and this one lives as long as the connection; unboxed, these two (4.5 and 17 KB)
    // would make every idle WebSocket carry them.
    let Some(mut request) = Box::pin(read_request(&shard, &mut stream)).await else { return };
    let client = parrhesia_engine::rate::client_address(
        peer,
        &shard.trusted_proxies,
        request.header("x-forwarded-for"),
        request.header("x-real-ip"),
    );
    if proxied && !admitted(&shard, client) {
        let _ = stream.close().await;
        return;
    }
    let plain = |status: u16, body: &str| parrhesia_net::response(status, "text/plain", body.as_bytes(), &CORS);
    let reply = match parrhesia_net::route(&request) {
        Route::WebSocket { key } => {
            let offers = request.headers.iter().filter(|(name, _)| name == "sec-websocket-extensions");
            let deflate =
                shard.config.deflate && parrhesia_net::deflate::accepts_offer(offers.map(|(_, value)| value.as_str()));
            // The request's headers (~500 bytes on the heap) would otherwise live as long as
            // the connection.
            let leftover = std::mem::take(&mut request.leftover);
            drop(request);
            return crate::client::session::run(shard, stream, client, &key, leftover, deflate).await;
        }
        Route::RelayInfo => {
            parrhesia_net::response(200, "application/nostr+json", shard.relay_info_json.borrow().as_bytes(), &CORS)
        }
        Route::Preflight => parrhesia_net::response(204, "text/plain", b"", &CORS),
        Route::Health => plain(200, &format!("ok shard={}\n", shard.index)),
        Route::Ready if shard.stopping.get() => plain(503, "shutting down\n"),
        Route::Ready => plain(200, "ready\n"),
        Route::Metrics if shard.config.metrics_listen.is_some() => {
            plain(404, "metrics are served on the metrics listener (metrics_listen) only\n")
        }
        Route::Metrics => metrics_page(&shard),
        Route::Management => Box::pin(crate::client::management::serve(&shard, &mut stream, &request)).await,
        Route::BadUpgrade(reason) => plain(400, &format!("{reason}\n")),
        Route::NotFound => plain(404, "not found; this is a Nostr relay, connect with a WebSocket\n"),
    };
    let _ = write_all(&mut stream, &reply).await;
    let _ = stream.close().await;
}

/// Whether a connection from `address` is served: not blocked by the policy, and within the
/// connection rate per address (each refusal counted).
fn admitted(shard: &Shard, address: std::net::IpAddr) -> bool {
    if shard.policy.borrow().ip_blocked(address).is_some() {
        shard.metrics.blocked_ip_refusals.inc();
        return false;
    }
    if !shard.limiter.admit_connection(parrhesia_engine::rate::address_key(address), crate::system::unix_now_ms()) {
        shard.metrics.rate_limited_connections.inc();
        return false;
    }
    true
}

fn metrics_page(shard: &Shard) -> Vec<u8> {
    parrhesia_net::response(200, crate::metrics::CONTENT_TYPE, shard.metrics_page.render().as_bytes(), &[])
}

/// Serves `GET /metrics` (and health) on the separate metrics listener: no WebSocket, no
/// NIP-11, one request per connection.
pub async fn serve_metrics(shard: Rc<Shard>, mut stream: TcpStream) {
    let Some(request) = read_request(&shard, &mut stream).await else { return };
    let reply = match parrhesia_net::route(&request) {
        Route::Metrics => metrics_page(&shard),
        Route::Health => parrhesia_net::response(200, "text/plain", b"ok\n", &[]),
        _ => parrhesia_net::response(404, "text/plain", b"this listener serves /metrics only\n", &[]),
    };
    let _ = write_all(&mut stream, &reply).await;
    let _ = stream.close().await;
}

/// Answers a connection over the limit with 503 and closes it, without reading its request.
pub async fn refuse(mut stream: TcpStream) {
    let reply = parrhesia_net::response(503, "text/plain", b"too many connections\n", &[]);
    let _ = write_all(&mut stream, &reply).await;
    let _ = stream.close().await;
}

async fn answer_error(stream: &mut TcpStream, error: &HttpError) {
    if let Some(status) = error.status() {
        let reply = parrhesia_net::response(status, "text/plain", format!("{error}\n").as_bytes(), &[]);
        let _ = write_all(stream, &reply).await;
    }
    let _ = stream.close().await;
}
