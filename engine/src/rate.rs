//! Rate limits as token buckets, with the clock passed in (milliseconds), and the address a
//! limit is kept per: an IPv4 address, or an IPv6 address's /64 (one subscriber's prefix).

use std::net::IpAddr;

/// A rate and a burst. A rate of 0 turns the limit off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const OFF: Rate = Rate { per_second: 0.0, burst: 0.0 };

    pub fn is_off(&self) -> bool {
        self.per_second <= 0.0
    }

    /// The same limit shared by `parts` independent holders (each shard keeps its own bucket
    /// for a limit that is node-wide): each gets its share of the rate and of the burst, at
    /// least one token of burst.
    pub fn split(&self, parts: usize) -> Rate {
        let parts = parts.max(1) as f64;
        Rate { per_second: self.per_second / parts, burst: (self.burst / parts).max(1.0) }
    }
}

/// A token bucket: starts full (`burst` tokens), refills at `per_second`, one token per
/// request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    pub fn full(rate: Rate, now_ms: u64) -> Bucket {
        Bucket { tokens: rate.burst, last_ms: now_ms }
    }

    /// Takes a token if there is one; a limit that is off always allows.
    pub fn take(&mut self, rate: Rate, now_ms: u64) -> bool {
        if rate.is_off() {
            return true;
        }
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.last_ms = self.last_ms.max(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket is full again at `now_ms` (it may be forgotten: a new one is the same).
    pub fn is_full(&self, rate: Rate, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens + elapsed * rate.per_second >= rate.burst
    }
}

/// The key an address's limits are kept under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64 (the rest zeroed).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match crate::policy::ip_key(ip) {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
        v4 => v4,
    }
}

/// The client's address: the socket's peer, or, when that peer is a trusted proxy, the last
/// address of `X-Forwarded-For` (the one the proxy added) or `X-Real-IP`.
pub fn client_address(
    peer: IpAddr,
    trusted_proxies: &[IpAddr],
    forwarded_for: Option<&str>,
    real_ip: Option<&str>,
) -> IpAddr {
    if !trusted_proxies.contains(&crate::policy::ip_key(peer)) {
        return peer;
    }
    let forwarded = forwarded_for.and_then(|list| list.rsplit(',').next()).and_then(|last| last.trim().parse().ok());
    forwarded.or_else(|| real_ip.and_then(|ip| ip.trim().parse().ok())).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let rate = Rate { per_second: 2.0, burst: 3.0 };
        let mut bucket = Bucket::full(rate, 1_000);
        let taken: Vec<bool> = (0..4).map(|_| bucket.take(rate, 1_000)).collect();
        assert_eq!(taken, [true, true, true, false], "the burst, then empty");
        assert!(!bucket.take(rate, 1_400), "0.8 tokens after 400 ms");
        assert!(bucket.take(rate, 1_500), "1 token after 500 ms");
        assert!(!bucket.take(rate, 1_500));
        assert!(bucket.take(rate, 60_000) && bucket.take(rate, 60_000) && bucket.take(rate, 60_000));
        assert!(!bucket.take(rate, 60_000), "refills no further than the burst");
        assert!(!bucket.is_full(rate, 60_000) && bucket.is_full(rate, 61_500));
        assert!(!bucket.take(rate, 59_000), "a clock that goes back gives nothing");
        let mut off = Bucket::full(Rate::OFF, 0);
        assert!((0..1000).all(|_| off.take(Rate::OFF, 0)), "off allows everything");
    }

    #[test]
    fn split_rates_share_the_limit() {
        let rate = Rate { per_second: 10.0, burst: 4.0 };
        assert_eq!(rate.split(2), Rate { per_second: 5.0, burst: 2.0 });
        assert_eq!(rate.split(8), Rate { per_second: 1.25, burst: 1.0 }, "at least one token of burst");
        assert_eq!(rate.split(0), rate);
    }

    #[test]
    fn addresses_group_by_v4_and_v6_slash_64() {
        let cases = [
            ("192.0.2.7", "192.0.2.7"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::"),
        ];
        for (address, key) in cases {
            assert_eq!(address_key(address.parse().unwrap()), key.parse::<IpAddr>().unwrap(), "{address}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "198.51.100.9".parse().unwrap();
        let trusted = [proxy];
        /// (peer, trusted proxies, X-Forwarded-For, X-Real-IP, the client)
        type Case<'a> = (IpAddr, &'a [IpAddr], Option<&'a str>, Option<&'a str>, IpAddr);
        let cases: [Case; 6] = [
            (client, &trusted, Some("203.0.113.5"), None, client),
            (proxy, &[], Some("203.0.113.5"), None, proxy),
            (proxy, &trusted, Some("203.0.113.5, 198.51.100.9"), None, client),
            (proxy, &trusted, None, Some(" 198.51.100.9 "), client),
            (proxy, &trusted, Some("garbage"), Some("198.51.100.9"), client),
            (proxy, &trusted, None, None, proxy),
        ];
        for (peer, trusted, forwarded, real, expected) in cases {
            assert_eq!(client_address(peer, trusted, forwarded, real), expected, "{peer} {forwarded:?} {real:?}");
        }
    }
}
