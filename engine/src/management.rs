//! NIP-86 relay management: the JSON-RPC-like request (`{"method": ..., "params": [...]}`)
//! decoded into a `Call`, and the `{"result": ...}` / `{"error": ...}` answers.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::event::Pubkey;
use crate::hex;
use crate::policy::{Change, Policy};

/// The methods served, as `supportedmethods` lists them.
pub const METHODS: [&str; 23] = [
    "supportedmethods",
    "banpubkey",
    "unbanpubkey",
    "listbannedpubkeys",
    "allowpubkey",
    "unallowpubkey",
    "listallowedpubkeys",
    "listeventsneedingmoderation",
    "allowevent",
    "banevent",
    "listbannedevents",
    "changerelayname",
    "changerelaydescription",
    "changerelayicon",
    "allowkind",
    "disallowkind",
    "listallowedkinds",
    "blockip",
    "unblockip",
    "listblockedips",
    "addmember",
    "removemember",
    "listmembers",
];

/// NIP-43's methods (served only with membership on).
pub const MEMBER_METHODS: [&str; 3] = ["addmember", "removemember", "listmembers"];

/// A decoded request: a change to the policy, or a question about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Change(Change),
    SupportedMethods,
    ListBannedPubkeys,
    ListAllowedPubkeys,
    ListEventsNeedingModeration,
    ListBannedEvents,
    ListAllowedKinds,
    ListBlockedIps,
    /// NIP-43: the relay publishes the addition (8000) or removal (8001) and its member list.
    AddMember(Pubkey),
    RemoveMember(Pubkey),
    ListMembers,
}

/// A request, as the audit log keeps it: the method and its params as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub params: Vec<Value>,
    pub call: Call,
}

impl Request {
    /// Decodes a request body; `Err` says what is wrong (answered with HTTP 400).
    pub fn decode(body: &[u8]) -> Result<Request, String> {
        let value: Value = serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))?;
        let method = value.get("method").and_then(Value::as_str).ok_or("the request needs a string `method`")?;
        let params = match value.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(params)) => params.clone(),
            Some(_) => return Err("`params` must be an array".into()),
        };
        let call = decode_call(method, &params)?;
        Ok(Request { method: method.to_string(), params, call })
    }
}

fn decode_call(method: &str, params: &[Value]) -> Result<Call, String> {
    let text = |index: usize| params.get(index).and_then(Value::as_str);
    let reason = || text(1).unwrap_or_default().to_string();
    let required = |index: usize, what: &str| text(index).ok_or(format!("`{method}` needs {what} as params[{index}]"));
    let pubkey = || -> Result<Pubkey, String> {
        hex::decode_array(required(0, "a 64-hex pubkey")?)
            .ok_or(format!("`{method}`: params[0] is not a 64-hex pubkey"))
    };
    let id = || -> Result<[u8; 32], String> {
        hex::decode_array(required(0, "a 64-hex event id")?).ok_or(format!("`{method}`: params[0] is not a 64-hex id"))
    };
    let kind = || -> Result<u16, String> {
        params
            .first()
            .and_then(Value::as_u64)
            .and_then(|kind| u16::try_from(kind).ok())
            .ok_or(format!("`{method}` needs a kind (0-65535) as params[0]"))
    };
    let ip = || -> Result<IpAddr, String> {
        required(0, "an IP address")?.parse().map_err(|_| format!("`{method}`: params[0] is not an IP address"))
    };
    let change = Call::Change;
    Ok(match method {
        "supportedmethods" => Call::SupportedMethods,
        "banpubkey" => change(Change::BanPubkey(pubkey()?, reason())),
        "unbanpubkey" => change(Change::UnbanPubkey(pubkey()?)),
        "listbannedpubkeys" => Call::ListBannedPubkeys,
        "allowpubkey" => change(Change::AllowPubkey(pubkey()?, reason())),
        "unallowpubkey" => change(Change::UnallowPubkey(pubkey()?)),
        "listallowedpubkeys" => Call::ListAllowedPubkeys,
        "listeventsneedingmoderation" => Call::ListEventsNeedingModeration,
        "allowevent" => change(Change::AllowEvent(id()?)),
        "banevent" => change(Change::BanEvent(id()?, reason())),
        "listbannedevents" => Call::ListBannedEvents,
        "changerelayname" => change(Change::RelayName(required(0, "a name")?.to_string())),
        "changerelaydescription" => change(Change::RelayDescription(required(0, "a description")?.to_string())),
        "changerelayicon" => change(Change::RelayIcon(required(0, "an icon URL")?.to_string())),
        "allowkind" => change(Change::AllowKind(kind()?)),
        "disallowkind" => change(Change::DisallowKind(kind()?)),
        "listallowedkinds" => Call::ListAllowedKinds,
        "blockip" => change(Change::BlockIp(ip()?, reason())),
        "unblockip" => change(Change::UnblockIp(ip()?)),
        "listblockedips" => Call::ListBlockedIps,
        "addmember" => Call::AddMember(pubkey()?),
        "removemember" => Call::RemoveMember(pubkey()?),
        "listmembers" => Call::ListMembers,
        other => return Err(format!("unknown method `{other}` (supportedmethods lists them)")),
    })
}

/// The `result` of a call, after any change was applied to `policy`.
pub fn result(call: &Call, policy: &Policy) -> Value {
    let listed = |entries: Vec<(String, &String)>, key: &str| {
        Value::Array(entries.into_iter().map(|(value, reason)| json!({ key: value, "reason": reason })).collect())
    };
    match call {
        Call::Change(_) => Value::Bool(true),
        Call::SupportedMethods => json!(METHODS),
        Call::ListBannedPubkeys => {
            listed(policy.banned_pubkeys.iter().map(|(key, reason)| (hex::encode(key), reason)).collect(), "pubkey")
        }
        Call::ListAllowedPubkeys => {
            listed(policy.allowed_pubkeys.iter().map(|(key, reason)| (hex::encode(key), reason)).collect(), "pubkey")
        }
        // Nothing is held for moderation: events are accepted or refused as they arrive.
        Call::ListEventsNeedingModeration => json!([]),
        Call::ListBannedEvents => {
            listed(policy.banned_events.iter().map(|(id, reason)| (hex::encode(id), reason)).collect(), "id")
        }
        Call::ListAllowedKinds => json!(policy.allowed_kinds),
        Call::ListBlockedIps => {
            listed(policy.blocked_ips.iter().map(|(ip, reason)| (ip.to_string(), reason)).collect(), "ip")
        }
        // The members are the shard's to answer (they live in events, not in the policy).
        Call::AddMember(_) | Call::RemoveMember(_) => Value::Bool(true),
        Call::ListMembers => Value::Array(Vec::new()),
    }
}

/// The request body that makes `change` (what tools and tests send; `Request::decode` gives
/// the change back).
pub fn body(change: &Change) -> String {
    let with_reason = |key: String, reason: &String| json!([key, reason]);
    let (method, params) = match change {
        Change::BanPubkey(pubkey, reason) => ("banpubkey", with_reason(hex::encode(pubkey), reason)),
        Change::UnbanPubkey(pubkey) => ("unbanpubkey", json!([hex::encode(pubkey)])),
        Change::AllowPubkey(pubkey, reason) => ("allowpubkey", with_reason(hex::encode(pubkey), reason)),
        Change::UnallowPubkey(pubkey) => ("unallowpubkey", json!([hex::encode(pubkey)])),
        Change::BanEvent(id, reason) => ("banevent", with_reason(hex::encode(id), reason)),
        Change::AllowEvent(id) => ("allowevent", json!([hex::encode(id)])),
        Change::AllowKind(kind) => ("allowkind", json!([kind])),
        Change::DisallowKind(kind) => ("disallowkind", json!([kind])),
        Change::BlockIp(ip, reason) => ("blockip", with_reason(ip.to_string(), reason)),
        Change::UnblockIp(ip) => ("unblockip", json!([ip.to_string()])),
        Change::RelayName(name) => ("changerelayname", json!([name])),
        Change::RelayDescription(text) => ("changerelaydescription", json!([text])),
        Change::RelayIcon(icon) => ("changerelayicon", json!([icon])),
    };
    json!({ "method": method, "params": params }).to_string()
}

/// `{"result": ...}`.
pub fn success(result: Value) -> String {
    json!({ "result": result }).to_string()
}

/// `{"error": "..."}`.
pub fn failure(message: &str) -> String {
    json!({ "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_decode_to_calls_and_bad_ones_say_why() {
        let key = "ab".repeat(32);
        let cases: Vec<(String, Result<Call, &str>)> = vec![
            (r#"{"method":"supportedmethods","params":[]}"#.into(), Ok(Call::SupportedMethods)),
            (r#"{"method":"listbannedpubkeys"}"#.into(), Ok(Call::ListBannedPubkeys)),
            (
                format!(r#"{{"method":"banpubkey","params":["{key}","spam"]}}"#),
                Ok(Call::Change(Change::BanPubkey([0xab; 32], "spam".into()))),
            ),
            (
                format!(r#"{{"method":"banevent","params":["{key}"]}}"#),
                Ok(Call::Change(Change::BanEvent([0xab; 32], String::new()))),
            ),
            (r#"{"method":"allowkind","params":[30023]}"#.into(), Ok(Call::Change(Change::AllowKind(30023)))),
            (
                r#"{"method":"blockip","params":["2001:db8::1","x"]}"#.into(),
                Ok(Call::Change(Change::BlockIp("2001:db8::1".parse().unwrap(), "x".into()))),
            ),
            (
                r#"{"method":"changerelayname","params":["Mine"]}"#.into(),
                Ok(Call::Change(Change::RelayName("Mine".into()))),
            ),
            ("not json".into(), Err("not JSON")),
            (r#"{"params":[]}"#.into(), Err("string `method`")),
            (r#"{"method":"dance","params":[]}"#.into(), Err("unknown method `dance`")),
            (r#"{"method":"banpubkey","params":"x"}"#.into(), Err("must be an array")),
            (r#"{"method":"banpubkey","params":[]}"#.into(), Err("needs a 64-hex pubkey")),
            (r#"{"method":"banpubkey","params":["AB"]}"#.into(), Err("not a 64-hex pubkey")),
            (r#"{"method":"allowkind","params":[70000]}"#.into(), Err("needs a kind")),
            (r#"{"method":"blockip","params":["300.1.1.1"]}"#.into(), Err("not an IP address")),
        ];
        for (body, expected) in cases {
            match (Request::decode(body.as_bytes()), expected) {
                (Ok(request), Ok(call)) => assert_eq!(request.call, call, "{body}"),
                (Err(error), Err(part)) => assert!(error.contains(part), "{body}: {error}"),
                (got, expected) => panic!("{body}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn every_change_has_a_body_that_decodes_to_it() {
        let changes = [
            Change::BanPubkey([1; 32], "spam".into()),
            Change::UnbanPubkey([1; 32]),
            Change::AllowPubkey([2; 32], String::new()),
            Change::UnallowPubkey([2; 32]),
            Change::BanEvent([3; 32], "x".into()),
            Change::AllowEvent([3; 32]),
            Change::AllowKind(7),
            Change::DisallowKind(7),
            Change::BlockIp("2001:db8::1".parse().unwrap(), "abuse".into()),
            Change::UnblockIp("192.0.2.1".parse().unwrap()),
            Change::RelayName("Mine".into()),
            Change::RelayDescription("About".into()),
            Change::RelayIcon("https://example.com/i.png".into()),
        ];
        for change in changes {
            let decoded = Request::decode(body(&change).as_bytes()).expect("decodes");
            assert_eq!(decoded.call, Call::Change(change));
        }
    }

    #[test]
    fn results_list_the_policy_as_the_spec_shapes_them() {
        let mut policy = Policy::default();
        policy.apply(&Change::BanPubkey([1; 32], "spam".into()));
        policy.apply(&Change::AllowKind(1));
        policy.apply(&Change::BlockIp("192.0.2.1".parse().unwrap(), String::new()));
        assert_eq!(result(&Call::ListBannedPubkeys, &policy), json!([{ "pubkey": "01".repeat(32), "reason": "spam" }]));
        assert_eq!(result(&Call::ListAllowedKinds, &policy), json!([1]));
        assert_eq!(result(&Call::ListBlockedIps, &policy), json!([{ "ip": "192.0.2.1", "reason": "" }]));
        assert_eq!(result(&Call::SupportedMethods, &policy).as_array().unwrap().len(), METHODS.len());
        assert_eq!(success(Value::Bool(true)), r#"{"result":true}"#);
        assert_eq!(failure("no"), r#"{"error":"no"}"#);
    }
}
