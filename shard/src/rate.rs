//! Rate limits on one shard: token buckets for EVENT, REQ and COUNT per connection, per client
//! address (IPv4, or IPv6 /64), per authenticated pubkey and relay-wide, and for new
//! connections per address. A node-wide limit is split evenly across the shards (each keeps its
//! share; SO_REUSEPORT spreads a client's connections over them), so no state is shared.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;

use parrhesia_engine::Pubkey;
use parrhesia_engine::rate::{Bucket, Rate};

/// The verbs limited, as indices into each bucket triple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Event = 0,
    Req = 1,
    Count = 2,
}

pub const VERBS: [&str; 3] = ["EVENT", "REQ", "COUNT"];

/// Every limit, by verb: per connection, per address, per pubkey, relay-wide, and new
/// connections per address.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    pub connection: [Rate; 3],
    pub address: [Rate; 3],
    pub pubkey: [Rate; 3],
    pub relay: [Rate; 3],
    pub connect_address: Rate,
}

impl RateLimits {
    /// This shard's share: per-connection limits as they are (a connection stays on one
    /// shard), the others divided among `shards`.
    pub fn share(&self, shards: usize) -> RateLimits {
        let split = |rates: [Rate; 3]| rates.map(|rate| rate.split(shards));
        RateLimits {
            connection: self.connection,
            address: split(self.address),
            pubkey: split(self.pubkey),
            relay: split(self.relay),
            connect_address: self.connect_address.split(shards),
        }
    }
}

/// A request over a limit: which one, for the `rate-limited:` answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Refusal {
    pub verb: Verb,
    pub scope: &'static str,
    pub rate: Rate,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "rate-limited: more than {} {}s per second {} (burst {})",
            self.rate.per_second, VERBS[self.verb as usize], self.scope, self.rate.burst
        )
    }
}

type Triple = [Bucket; 3];

pub struct Limiter {
    limits: RateLimits,
    addresses: RefCell<HashMap<IpAddr, Triple>>,
    pubkeys: RefCell<HashMap<Pubkey, Triple>>,
    relay: RefCell<Triple>,
    connects: RefCell<HashMap<IpAddr, Bucket>>,
}

impl Limiter {
    pub fn new(limits: RateLimits, now_ms: u64) -> Limiter {
        Limiter {
            limits,
            addresses: RefCell::default(),
            pubkeys: RefCell::default(),
            relay: RefCell::new(full(&limits.relay, now_ms)),
            connects: RefCell::default(),
        }
    }

    /// A new connection's buckets.
    pub fn connection_buckets(&self, now_ms: u64) -> Triple {
        full(&self.limits.connection, now_ms)
    }

    /// Takes one `verb` from every scope that applies, in order (connection, pubkey, address,
    /// relay); the first that is empty refuses (tokens taken from the scopes before it stay
    /// taken).
    pub fn take(
        &self,
        verb: Verb,
        connection: &RefCell<Triple>,
        address: IpAddr,
        pubkey: Option<&Pubkey>,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let index = verb as usize;
        let refuse = |scope, rate| Err(Refusal { verb, scope, rate });
        let limits = &self.limits;
        if !connection.borrow_mut()[index].take(limits.connection[index], now_ms) {
            return refuse("per connection", limits.connection[index]);
        }
        if let Some(pubkey) = pubkey
            && !limits.pubkey[index].is_off()
        {
            let mut pubkeys = self.pubkeys.borrow_mut();
            let buckets = pubkeys.entry(*pubkey).or_insert_with(|| full(&limits.pubkey, now_ms));
            if !buckets[index].take(limits.pubkey[index], now_ms) {
                return refuse("per pubkey (on this shard)", limits.pubkey[index]);
            }
        }
        if !limits.address[index].is_off() {
            let mut addresses = self.addresses.borrow_mut();
            let buckets = addresses.entry(address).or_insert_with(|| full(&limits.address, now_ms));
            if !buckets[index].take(limits.address[index], now_ms) {
                return refuse("per address (on this shard)", limits.address[index]);
            }
        }
        if !self.relay.borrow_mut()[index].take(limits.relay[index], now_ms) {
            return refuse("relay-wide (on this shard)", limits.relay[index]);
        }
        Ok(())
    }

    /// Whether a new connection from `address` is within its rate.
    pub fn admit_connection(&self, address: IpAddr, now_ms: u64) -> bool {
        let rate = self.limits.connect_address;
        if rate.is_off() {
            return true;
        }
        self.connects.borrow_mut().entry(address).or_insert_with(|| Bucket::full(rate, now_ms)).take(rate, now_ms)
    }

    /// Forgets buckets that are full again (a new one would be the same): the maps hold only
    /// clients active in the last burst's worth of time.
    pub fn prune(&self, now_ms: u64) {
        let limits = &self.limits;
        let is_full = |buckets: &Triple, rates: &[Rate; 3]| {
            buckets.iter().zip(rates).all(|(bucket, rate)| rate.is_off() || bucket.is_full(*rate, now_ms))
        };
        self.addresses.borrow_mut().retain(|_, buckets| !is_full(buckets, &limits.address));
        self.pubkeys.borrow_mut().retain(|_, buckets| !is_full(buckets, &limits.pubkey));
        self.connects.borrow_mut().retain(|_, bucket| !bucket.is_full(limits.connect_address, now_ms));
    }

    /// Addresses and pubkeys with buckets held (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        (self.addresses.borrow().len() + self.connects.borrow().len(), self.pubkeys.borrow().len())
    }
}

fn full(rates: &[Rate; 3], now_ms: u64) -> Triple {
    rates.map(|rate| Bucket::full(rate, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: f64, burst: f64) -> Rate {
        Rate { per_second, burst }
    }

    #[test]
    fn each_scope_refuses_with_its_name_and_recovers() {
        let off = [Rate::OFF; 3];
        let scopes: [(&str, RateLimits); 4] = [
            ("per connection", RateLimits { connection: [rate(1.0, 2.0); 3], ..limits(off) }),
            ("per pubkey (on this shard)", RateLimits { pubkey: [rate(1.0, 2.0); 3], ..limits(off) }),
            ("per address (on this shard)", RateLimits { address: [rate(1.0, 2.0); 3], ..limits(off) }),
            ("relay-wide (on this shard)", RateLimits { relay: [rate(1.0, 2.0); 3], ..limits(off) }),
        ];
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        for (scope, limits) in scopes {
            let limiter = Limiter::new(limits, 0);
            let connection = RefCell::new(limiter.connection_buckets(0));
            let pubkey = [7; 32];
            let take = |now| limiter.take(Verb::Event, &connection, address, Some(&pubkey), now);
            assert!(take(0).is_ok() && take(0).is_ok(), "{scope}: the burst");
            let refusal = take(0).unwrap_err();
            assert_eq!(refusal.scope, scope);
            assert_eq!(refusal.to_string(), format!("rate-limited: more than 1 EVENTs per second {scope} (burst 2)"));
            assert!(
                limiter.take(Verb::Req, &connection, address, Some(&pubkey), 0).is_ok(),
                "{scope}: REQ has its own"
            );
            assert!(take(1_000).is_ok(), "{scope}: a token a second later");
        }
    }

    #[test]
    fn addresses_are_limited_apart_and_forgotten_once_full() {
        let limits =
            RateLimits { address: [rate(10.0, 1.0); 3], connect_address: rate(1.0, 1.0), ..limits([Rate::OFF; 3]) };
        let limiter = Limiter::new(limits, 0);
        let connection = RefCell::new(limiter.connection_buckets(0));
        let (one, two): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(limiter.take(Verb::Event, &connection, one, None, 0).is_ok());
        assert!(limiter.take(Verb::Event, &connection, one, None, 0).is_err());
        assert!(limiter.take(Verb::Event, &connection, two, None, 0).is_ok(), "another address has its own");
        assert!(limiter.admit_connection(one, 0) && !limiter.admit_connection(one, 0));
        assert_eq!(limiter.tracked(), (3, 0));
        limiter.prune(500);
        assert_eq!(limiter.tracked(), (1, 0), "event buckets full again after 100 ms, the connect one not yet");
        limiter.prune(1_000);
        assert_eq!(limiter.tracked(), (0, 0));
        assert!(limiter.admit_connection(one, 1_000));
    }

    #[test]
    fn node_wide_limits_are_shared_by_the_shards() {
        let node = RateLimits { connection: [rate(8.0, 8.0); 3], relay: [rate(8.0, 8.0); 3], ..limits([Rate::OFF; 3]) };
        let share = node.share(2);
        assert_eq!(share.connection, node.connection, "a connection lives on one shard");
        assert_eq!(share.relay, [rate(4.0, 4.0); 3]);
    }

    fn limits(rates: [Rate; 3]) -> RateLimits {
        RateLimits { connection: rates, address: rates, pubkey: rates, relay: rates, connect_address: Rate::OFF }
    }
}
