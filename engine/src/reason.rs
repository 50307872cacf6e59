//! Machine-readable answers: the NIP-01 prefixes that start every `OK false`, `CLOSED` and
//! `NOTICE` message, and the `Reason` value that carries one with its human-readable detail.

use std::borrow::Cow;
use std::fmt;

/// The machine-readable prefix NIP-01 defines for `OK` and `CLOSED` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// The relay already has this event (or a newer version of it).
    Duplicate,
    /// Not enough proof of work (NIP-13).
    Pow,
    /// The relay refuses this pubkey, event or request by policy (deletion, vanish, blocklist).
    Blocked,
    /// The client is sending too fast.
    RateLimited,
    /// The message or event is malformed or breaks a protocol rule.
    Invalid,
    /// The client is not allowed to do this (for example after authenticating).
    Restricted,
    /// The relay mutes this author.
    Mute,
    /// The relay failed internally; the client may retry.
    Error,
    /// The client must authenticate (NIP-42) first.
    AuthRequired,
}

impl Prefix {
    pub const ALL: [Prefix; 9] = [
        Prefix::Duplicate,
        Prefix::Pow,
        Prefix::Blocked,
        Prefix::RateLimited,
        Prefix::Invalid,
        Prefix::Restricted,
        Prefix::Mute,
        Prefix::Error,
        Prefix::AuthRequired,
    ];

    /// The prefix a message starts with (`"blocked: spam"` -> `Blocked`), if any.
    pub fn of_message(message: &str) -> Option<Prefix> {
        let (head, _) = message.split_once(':')?;
        Prefix::ALL.into_iter().find(|prefix| prefix.as_str() == head)
    }

    /// The prefix as it appears on the wire, without the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Duplicate => "duplicate",
            Prefix::Pow => "pow",
            Prefix::Blocked => "blocked",
            Prefix::RateLimited => "rate-limited",
            Prefix::Invalid => "invalid",
            Prefix::Restricted => "restricted",
            Prefix::Mute => "mute",
            Prefix::Error => "error",
            Prefix::AuthRequired => "auth-required",
        }
    }
}

/// A refusal or remark the relay sends to a client: `"<prefix>: <detail>"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub prefix: Prefix,
    pub detail: Cow<'static, str>,
}

impl Reason {
    pub fn new(prefix: Prefix, detail: impl Into<Cow<'static, str>>) -> Reason {
        Reason { prefix, detail: detail.into() }
    }

    pub fn invalid(detail: impl Into<Cow<'static, str>>) -> Reason {
        Reason::new(Prefix::Invalid, detail)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.prefix.as_str(), self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_table() {
        let cases = [
            (Prefix::Duplicate, "duplicate: x"),
            (Prefix::Pow, "pow: x"),
            (Prefix::Blocked, "blocked: x"),
            (Prefix::RateLimited, "rate-limited: x"),
            (Prefix::Invalid, "invalid: x"),
            (Prefix::Restricted, "restricted: x"),
            (Prefix::Mute, "mute: x"),
            (Prefix::Error, "error: x"),
            (Prefix::AuthRequired, "auth-required: x"),
        ];
        for (prefix, expected) in cases {
            assert_eq!(Reason::new(prefix, "x").to_string(), expected);
        }
    }
}
