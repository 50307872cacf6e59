//! NIP-98 HTTP auth: an `Authorization: Nostr <base64 event>` header, checked against the
//! request it came with and the time passed in. (Replays are the caller's to refuse: it keeps
//! the ids of the events it took.)

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::auth::same_relay_url;
use crate::event::Event;
use crate::hex;
use crate::limits::Limits;
use crate::reason::Reason;

pub const HTTP_AUTH_KIND: u16 = 27235;

/// What the header must match.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    /// The absolute URL the client called (an `http(s)` URL and its `ws(s)` twin are the same).
    pub url: &'a str,
    pub method: &'a str,
    pub body: &'a [u8],
}

/// Checks the header and returns its event (the caller's pubkey and the id to remember).
/// Every refusal is an `invalid:` reason saying which check failed.
pub fn check(header: &str, request: &HttpRequest, now: u64, window_seconds: u64) -> Result<Event, Reason> {
    let (scheme, encoded) = header.trim().split_once(' ').ok_or(Reason::invalid("expected `Nostr <base64 event>`"))?;
    if !scheme.eq_ignore_ascii_case("nostr") {
        return Err(Reason::invalid("the Authorization scheme must be Nostr (NIP-98)"));
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| Reason::invalid("the Authorization event is not base64"))?;
    let json = String::from_utf8(json).map_err(|_| Reason::invalid("the Authorization event is not UTF-8"))?;
    let event = Event::parse(&json, &Limits::default())?;
    if event.kind() != HTTP_AUTH_KIND {
        return Err(Reason::invalid(format!("the Authorization event must be kind {HTTP_AUTH_KIND}")));
    }
    if !event.tag_values("u").any(|url| same_url(url, request.url)) {
        return Err(Reason::invalid(format!("the u tag must be this request's URL ({})", request.url)));
    }
    if !event.tag_values("method").any(|method| method.eq_ignore_ascii_case(request.method)) {
        return Err(Reason::invalid(format!("the method tag must be {}", request.method)));
    }
    let payload = hex::encode(&Sha256::digest(request.body));
    if !request.body.is_empty() && !event.tag_values("payload").any(|hash| hash == payload) {
        return Err(Reason::invalid("the payload tag must be the sha256 of the body"));
    }
    if event.created_at().abs_diff(now) > window_seconds {
        return Err(Reason::invalid(format!("created_at is not within {window_seconds} seconds of now")));
    }
    event.verify_signature()?;
    Ok(event)
}

/// URLs compared as `same_relay_url` does, with `ws`/`http` and `wss`/`https` as one scheme.
fn same_url(one: &str, other: &str) -> bool {
    let http = |url: &str| {
        let (scheme, rest) = url.trim().split_once("://").unwrap_or(("", url));
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" => "http".to_string(),
            "wss" => "https".to_string(),
            other => other.to_string(),
        };
        format!("{scheme}://{rest}")
    };
    same_relay_url(&http(one), &http(other))
}

/// The header value for `event` (tools and tests).
pub fn header_value(event: &Event) -> String {
    format!("Nostr {}", base64::engine::general_purpose::STANDARD.encode(event.json().as_bytes()))
}

/// Signs a NIP-98 event for a request (tools and tests).
pub fn sign(keys: &crate::event::Keys, request: &HttpRequest, created_at: u64) -> Event {
    sign_until(keys, request, created_at, None)
}

/// `sign`, with a NIP-40 `expiration` if given (a policy entry made from it expires with it).
pub fn sign_until(keys: &crate::event::Keys, request: &HttpRequest, created_at: u64, expiration: Option<u64>) -> Event {
    let mut tags = vec![vec!["u".to_string(), request.url.to_string()], vec!["method".into(), request.method.into()]];
    if !request.body.is_empty() {
        tags.push(vec!["payload".into(), hex::encode(&Sha256::digest(request.body))]);
    }
    if let Some(expiration) = expiration {
        tags.push(vec!["expiration".into(), expiration.to_string()]);
    }
    keys.sign(created_at, HTTP_AUTH_KIND, tags, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;

    const URL: &str = "https://relay.example.com/";
    const NOW: u64 = 1_700_000_000;

    #[test]
    fn each_check_refuses_with_its_reason() {
        let keys = Keys::from_secret_bytes([5; 32]).expect("secret");
        let body = br#"{"method":"supportedmethods","params":[]}"#;
        let request = HttpRequest { url: URL, method: "POST", body };
        let good = sign(&keys, &request, NOW);
        assert_eq!(check(&header_value(&good), &request, NOW + 30, 60).map(|event| *event.id()), Ok(*good.id()));
        let ws_twin = HttpRequest { url: "wss://RELAY.example.com", ..request };
        assert!(check(&header_value(&good), &ws_twin, NOW, 60).is_ok(), "wss and https name one relay");
        let tagged = |tags: Vec<Vec<&str>>| {
            let tags = tags.into_iter().map(|tag| tag.into_iter().map(String::from).collect()).collect();
            header_value(&keys.sign(NOW, HTTP_AUTH_KIND, tags, String::new()))
        };
        let payload = hex::encode(&Sha256::digest(body));
        let cases: Vec<(String, &str)> = vec![
            ("Bearer abc".into(), "scheme must be Nostr"),
            ("Nostr".into(), "expected `Nostr <base64 event>`"),
            ("Nostr !!!".into(), "not base64"),
            (format!("Nostr {}", base64::engine::general_purpose::STANDARD.encode("{}")), "invalid:"),
            (header_value(&keys.sign(NOW, 1, vec![], String::new())), "kind 27235"),
            (
                tagged(vec![
                    vec!["u", "https://other.example.com/"],
                    vec!["method", "POST"],
                    vec!["payload", &payload],
                ]),
                "u tag",
            ),
            (tagged(vec![vec!["u", URL], vec!["method", "GET"], vec!["payload", &payload]]), "method tag"),
            (tagged(vec![vec!["u", URL], vec!["method", "POST"]]), "payload tag"),
            (tagged(vec![vec!["u", URL], vec!["method", "POST"], vec!["payload", &"00".repeat(32)]]), "payload tag"),
            (header_value(&sign(&keys, &request, NOW - 61)), "within 60 seconds"),
        ];
        for (header, part) in cases {
            let error = check(&header, &request, NOW, 60).expect_err(part).to_string();
            assert!(error.starts_with("invalid:") && error.contains(part), "{part}: {error}");
        }
        // A forged signature: the JSON of a good event with another event's signature.
        let other = sign(&keys, &HttpRequest { body: b"x", ..request }, NOW);
        let forged = good.json().replace(&hex::encode(good.sig()), &hex::encode(other.sig()));
        let header = format!("Nostr {}", base64::engine::general_purpose::STANDARD.encode(forged));
        assert!(check(&header, &request, NOW, 60).is_err());
    }
}
