//! NIP-86 relay management over HTTP: `POST` on the relay's URL with
//! `Content-Type: application/nostr+json+rpc`, authorized by a NIP-98 header from a pubkey in
//! `admin_pubkeys`. The shard checks the header, the caller and the body; the writer refuses a
//! reused authorization, records the call (audit log), stores its change as a policy entry
//! (replicated to every node of a cluster, each of which checks the admin's signature again)
//! and hands the new policy to every shard.

use std::time::Duration;

use glommio::net::TcpStream;
use parrhesia_engine::management::{Call, Request, failure, success};
use parrhesia_engine::nip98::{self, HttpRequest};

use crate::messages::{ManageAnswer, ManageRequest};
use crate::shard::Shard;

const CONTENT_TYPE: &str = "application/nostr+json+rpc";
const CORS: [(&str, &str); 3] = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
];

/// The whole HTTP response to one management request (empty if the peer went away).
pub async fn serve(shard: &Shard, stream: &mut TcpStream, request: &parrhesia_net::Request) -> Vec<u8> {
    let answer = |status: u16, body: String| parrhesia_net::response(status, CONTENT_TYPE, body.as_bytes(), &CORS);
    let deadline = Duration::from_millis(shard.config.handshake_timeout_ms);
    let read = parrhesia_net::read_body(&mut *stream, request, shard.config.management_body_bytes_max);
    let body = match glommio::timer::timeout(deadline, async { Ok(read.await) }).await {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => {
            return match error.status() {
                Some(413) => answer(413, failure("the request body is too large")),
                Some(status) => answer(status, failure("the request needs a Content-Length")),
                None => Vec::new(),
            };
        }
        Err(_) => return answer(400, failure("the request body did not arrive in time")),
    };
    let url = match &shard.config.relay_url {
        Some(url) => url.clone(),
        None => format!("http://{}{}", request.header("host").unwrap_or_default(), request.path),
    };
    let Some(header) = request.header("authorization") else {
        return answer(401, failure("auth-required: a NIP-98 Authorization header is required"));
    };
    let http = HttpRequest { url: &url, method: "POST", body: &body };
    let event =
        match nip98::check(header, &http, crate::system::unix_now(), shard.config.management_auth_window_seconds) {
            Ok(event) => event,
            Err(reason) => return answer(401, failure(&reason.to_string())),
        };
    if !shard.admins.contains(event.pubkey()) {
        return answer(403, failure("restricted: this pubkey may not manage the relay"));
    }
    let request = match Request::decode(&body) {
        Ok(request) => request,
        Err(why) => return answer(400, failure(&format!("invalid: {why}"))),
    };
    let member_call = matches!(request.call, Call::AddMember(_) | Call::RemoveMember(_) | Call::ListMembers);
    if member_call && shard.members.is_none() {
        return answer(400, failure("invalid: membership (NIP-43) is off on this relay (nip43 = false)"));
    }
    // `Request::decode` read the body as JSON, so it is UTF-8.
    let body = String::from_utf8_lossy(&body).into_owned();
    let call = ManageRequest { ticket: 0, auth: event, body, request };
    let asked = call.request.call.clone();
    match shard.manage(call).await {
        Some(ManageAnswer::Done(result, generation)) => {
            every_shard_took(shard, generation).await;
            // Recorded (and its authorization taken) by the writer; the members are this
            // shard's to change and list.
            let result = match (&asked, &shard.members) {
                (Call::AddMember(member), Some(members)) | (Call::RemoveMember(member), Some(members)) => {
                    let added = matches!(asked, Call::AddMember(_));
                    let now = crate::system::unix_now();
                    for published in members.change(&shard.store, member, added, None, now) {
                        if shard.submit(crate::shard::RELAY_ITSELF, published).await.is_err() {
                            return answer(503, failure("error: the relay is shutting down"));
                        }
                    }
                    result
                }
                (Call::ListMembers, Some(members)) => serde_json::Value::Array(
                    members
                        .current(&shard.store)
                        .iter()
                        .map(|member| serde_json::json!({ "pubkey": parrhesia_engine::hex::encode(member) }))
                        .collect(),
                ),
                (Call::SupportedMethods, None) => serde_json::json!(
                    parrhesia_engine::management::METHODS
                        .iter()
                        .filter(|method| !parrhesia_engine::management::MEMBER_METHODS.contains(method))
                        .collect::<Vec<_>>()
                ),
                _ => result,
            };
            answer(200, success(result))
        }
        Some(ManageAnswer::Replayed) => answer(401, failure("invalid: this authorization was used already")),
        Some(ManageAnswer::Failed) => answer(500, failure("error: the relay could not record the call")),
        None => answer(503, failure("error: the relay is shutting down")),
    }
}

/// Waits until every shard has taken policy `generation` (each takes it from the writer's
/// `Commit` within a turn of its executor), so the change holds on all of them once the
/// caller has its answer; gives up after a few seconds (a shard that stopped).
async fn every_shard_took(shard: &Shard, generation: u64) {
    let taken =
        || shard.policy_generations.iter().all(|taken| taken.load(std::sync::atomic::Ordering::Acquire) >= generation);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !taken() && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}
