//! NIP-42: checking a client's AUTH event against the connection's challenge and the relay's
//! URL, with the time passed in.

use crate::event::Event;
use crate::reason::Reason;

pub const AUTH_KIND: u16 = 22242;

/// Whether two relay URLs name the same relay: scheme and host compared without case, the
/// scheme's default port made explicit, a trailing slash ignored; the path compared as is.
pub fn same_relay_url(one: &str, other: &str) -> bool {
    match (canonical_url(one), canonical_url(other)) {
        (Some(one), Some(other)) => one == other,
        _ => false,
    }
}

fn canonical_url(url: &str) -> Option<(String, String, u16, String)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(authority, path)| (authority, path));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.is_empty() => (host, port.parse().ok()?),
        _ => (authority, if scheme == "wss" || scheme == "https" { 443 } else { 80 }),
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme, host.to_ascii_lowercase(), port, path.trim_end_matches('/').to_string()))
}

/// Checks an AUTH event: kind 22242, the connection's `challenge`, a `relay` tag naming
/// `relay_url` (any `relay` tag when the relay does not know its URL), `created_at` within
/// `window_seconds` of `now`, and the signature.
pub fn check_auth(
    event: &Event,
    challenge: &str,
    relay_url: Option<&str>,
    now: u64,
    window_seconds: u64,
) -> Result<(), Reason> {
    if event.kind() != AUTH_KIND {
        return Err(Reason::invalid(format!("AUTH takes a kind {AUTH_KIND} event")));
    }
    if !event.tag_values("challenge").any(|value| value == challenge) {
        return Err(Reason::invalid("the challenge tag does not match this connection's challenge"));
    }
    let mut relays = event.tag_values("relay").peekable();
    if relays.peek().is_none() {
        return Err(Reason::invalid("AUTH needs a relay tag"));
    }
    if let Some(own) = relay_url
        && !relays.any(|value| same_relay_url(value, own))
    {
        return Err(Reason::invalid(format!("the relay tag does not name this relay ({own})")));
    }
    if event.created_at().abs_diff(now) > window_seconds {
        return Err(Reason::invalid(format!("created_at is not within {window_seconds} seconds of now")));
    }
    event.verify_signature()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;

    #[test]
    fn relay_urls_compare_as_the_nip_asks() {
        for (one, other, same) in [
            ("wss://Relay.Example.com", "wss://relay.example.com/", true),
            ("WSS://relay.example.com:443/", "wss://relay.example.com", true),
            ("ws://127.0.0.1:7777", "ws://127.0.0.1:7777/", true),
            ("wss://relay.example.com/nostr", "wss://relay.example.com/nostr/", true),
            ("wss://relay.example.com/Nostr", "wss://relay.example.com/nostr", false),
            ("wss://relay.example.com", "ws://relay.example.com", false),
            ("wss://relay.example.com:444", "wss://relay.example.com", false),
            ("relay.example.com", "relay.example.com", false),
        ] {
            assert_eq!(same_relay_url(one, other), same, "{one} vs {other}");
        }
    }

    #[test]
    fn auth_events_are_checked_field_by_field() {
        let keys = Keys::from_secret_bytes([42; 32]).unwrap();
        let auth = |kind: u16, challenge: &str, relay: &str, created_at: u64| {
            let tags = vec![vec!["relay".into(), relay.into()], vec!["challenge".into(), challenge.into()]];
            keys.sign(created_at, kind, tags, String::new())
        };
        let url = Some("wss://relay.example.com");
        assert!(check_auth(&auth(22242, "c1", "wss://relay.example.com/", 1000), "c1", url, 1100, 600).is_ok());
        assert!(check_auth(&auth(22242, "c1", "wss://anywhere", 1000), "c1", None, 1000, 600).is_ok());
        for (event, expected) in [
            (auth(1, "c1", "wss://relay.example.com", 1000), "kind 22242"),
            (auth(22242, "c2", "wss://relay.example.com", 1000), "challenge"),
            (auth(22242, "c1", "wss://other.example.com", 1000), "relay tag"),
            (auth(22242, "c1", "wss://relay.example.com", 300), "within 600 seconds"),
        ] {
            let refused = check_auth(&event, "c1", url, 1000, 600).unwrap_err().to_string();
            assert!(refused.starts_with("invalid:") && refused.contains(expected), "{refused}");
        }
    }
}
