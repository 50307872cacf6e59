//! NIP-45 HyperLogLog: 256 one-byte registers that a relay returns with a COUNT, so that a
//! client can merge the answers of several relays (register-wise maximum) into one estimate of
//! the distinct events behind them.
//!
//! The NIP fixes everything a relay computes, so that every relay's registers for one filter
//! line up: a filter with a single `#e`, `#p`, `#a` or `#q` value gives the offset, the byte at
//! position 32 of that value modulo 24; each counted event's pubkey gives the register (its
//! byte at the offset) and the rank (leading zero bits of the 7 bytes after it, plus one).
//! Pubkeys are uniformly distributed, so they serve as the hash.

use crate::filter::Filter;

pub const REGISTERS: usize = 256;
/// The tag letters whose single value sets the offset.
pub const OFFSET_LETTERS: [u8; 4] = [b'e', b'p', b'a', b'q'];

/// The offset for `filter` if it qualifies for HLL under NIP-45 (exactly one tag condition,
/// on `e`, `p`, `a` or `q`, with exactly one value long enough to have a 33rd character);
/// `None` otherwise: the answer then carries no registers.
pub fn offset_for(filter: &Filter) -> Option<usize> {
    let [condition] = filter.tags.as_slice() else { return None };
    let [value] = condition.values.as_slice() else { return None };
    offset_of(condition.letter, value)
}

/// The offset a tag value sets (`None` for another letter, or a value without a 33rd byte).
pub fn offset_of(letter: u8, value: &str) -> Option<usize> {
    if !OFFSET_LETTERS.contains(&letter) {
        return None;
    }
    value.as_bytes().get(32).map(|&byte| usize::from(byte % 24))
}

/// A COUNT filter the store answers from the counts and registers it keeps at write time:
/// exactly one kind and one `#e`/`#p`/`#a`/`#q` value, nothing else (a follower count
/// `{"kinds":[3],"#p":[x]}`, a reaction count `{"kinds":[7],"#e":[x]}`). Returns (kind,
/// letter, value).
pub fn kept(filter: &Filter) -> Option<(u16, u8, &str)> {
    let [kind] = filter.kinds.as_deref()? else { return None };
    let [condition] = filter.tags.as_slice() else { return None };
    let [value] = condition.values.as_slice() else { return None };
    let only = filter.ids.is_none()
        && filter.authors.is_none()
        && filter.since.is_none()
        && filter.until.is_none()
        && filter.search.is_none();
    (only && OFFSET_LETTERS.contains(&condition.letter)).then_some((*kind, condition.letter, value.as_str()))
}

/// 256 registers at one offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hll {
    offset: usize,
    registers: [u8; REGISTERS],
}

impl Hll {
    /// Empty registers for `offset` (0 to 23).
    pub fn new(offset: usize) -> Hll {
        assert!(offset < 24, "NIP-45 offsets are below 24");
        Hll { offset, registers: [0; REGISTERS] }
    }

    /// Counts one event by its author's pubkey.
    pub fn add(&mut self, pubkey: &[u8; 32]) {
        let window: [u8; 8] = pubkey[self.offset..self.offset + 8].try_into().expect("offset + 8 <= 32");
        let register = usize::from(window[0]);
        // The 56 bits after the register byte: leading zeros (56 when all are zero), plus one.
        let rest = u64::from_be_bytes(window) & ((1 << 56) - 1);
        let rank = (rest.leading_zeros() - 8 + 1) as u8;
        self.registers[register] = self.registers[register].max(rank);
    }

    /// Register-wise maximum: the registers of the union of what both counted.
    pub fn merge(&mut self, other: &Hll) {
        for (mine, theirs) in self.registers.iter_mut().zip(other.registers) {
            *mine = (*mine).max(theirs);
        }
    }

    pub fn registers(&self) -> &[u8; REGISTERS] {
        &self.registers
    }

    /// The registers as NIP-45 sends them: 512 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.registers)
    }

    /// Registers kept elsewhere (the store's), at `offset`.
    pub fn from_registers(offset: usize, registers: [u8; REGISTERS]) -> Hll {
        assert!(offset < 24, "NIP-45 offsets are below 24");
        Hll { offset, registers }
    }

    /// Registers a relay sent; `None` unless 512 hex characters.
    pub fn from_hex(offset: usize, text: &str) -> Option<Hll> {
        let registers = crate::hex::decode_array::<REGISTERS>(text)?;
        Some(Hll { offset, registers })
    }

    /// The cardinality estimate (HyperLogLog with linear counting for small counts).
    pub fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self.registers.iter().map(|&rank| 2f64.powi(-i32::from(rank))).sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|&&rank| rank == 0).count();
        if raw <= 2.5 * m && zeros > 0 {
            return (m * (m / zeros as f64).ln()).round() as u64;
        }
        raw.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::random::SeededRandom;

    fn filter(text: &str) -> Filter {
        Filter::parse(text, &Limits::default()).unwrap()
    }

    #[test]
    fn kept_counts_answer_one_kind_and_one_value_only() {
        let id = "ab".repeat(32);
        assert_eq!(kept(&filter(&format!(r##"{{"kinds":[3],"#p":["{id}"]}}"##))), Some((3, b'p', id.as_str())));
        assert_eq!(
            kept(&filter(&format!(r##"{{"kinds":[7],"#e":["{id}"],"limit":5}}"##))),
            Some((7, b'e', id.as_str()))
        );
        for text in [
            format!(r##"{{"#p":["{id}"]}}"##),
            format!(r##"{{"kinds":[3,7],"#p":["{id}"]}}"##),
            format!(r##"{{"kinds":[3],"#p":["{id}"],"since":5}}"##),
            format!(r##"{{"kinds":[3],"#t":["{id}"]}}"##),
            format!(r##"{{"kinds":[3],"#p":["{id}"],"authors":["{id}"]}}"##),
            format!(r##"{{"kinds":[3],"#p":["{id}","{}"]}}"##, "cd".repeat(32)),
        ] {
            assert_eq!(kept(&filter(&text)), None, "{text}");
        }
    }

    #[test]
    fn only_a_single_e_p_a_or_q_value_sets_an_offset() {
        let id = format!("{}{}", "0".repeat(32), "f".repeat(32)); // character 32 is 'f' (102)
        assert_eq!(offset_for(&filter(&format!(r##"{{"kinds":[7],"#e":["{id}"]}}"##))), Some(102 % 24));
        let address = format!("30023:{}:slug", "1".repeat(64)); // character 32 is '1' (49)
        assert_eq!(offset_for(&filter(&format!(r##"{{"#a":["{address}"]}}"##))), Some(49 % 24));
        for text in [
            format!(r##"{{"#e":["{id}","{}"]}}"##, "a".repeat(64)),
            format!(r##"{{"#e":["{id}"],"#p":["{id}"]}}"##),
            format!(r##"{{"#t":["{id}"]}}"##),
            r##"{"#q":["short"]}"##.to_string(),
            r#"{"kinds":[3]}"#.to_string(),
        ] {
            assert_eq!(offset_for(&filter(&text)), None, "{text}");
        }
    }

    #[test]
    fn ranks_follow_the_leading_zeros_after_the_register_byte() {
        let mut hll = Hll::new(0);
        let mut pubkey = [0u8; 32];
        pubkey[0] = 5;
        pubkey[1] = 0b0001_0000; // 3 leading zeros in the 56 bits: rank 4
        hll.add(&pubkey);
        assert_eq!(hll.registers()[5], 4);
        pubkey[1] = 0;
        pubkey[2] = 0;
        hll.add(&pubkey);
        assert_eq!(hll.registers()[5], 57, "all 56 bits zero: rank 57");
        let mut at_offset = Hll::new(23);
        let mut last = [0xffu8; 32];
        last[23] = 9;
        at_offset.add(&last);
        assert_eq!(at_offset.registers()[9], 1);
        assert_eq!(Hll::from_hex(23, &at_offset.to_hex()), Some(at_offset));
    }

    #[test]
    fn estimates_stay_within_the_expected_error_and_merging_is_the_union() {
        // Standard error 1.04 / sqrt(256) = 6.5%: every estimate within three of them.
        for (seed, count) in [(1, 50), (2, 1_000), (3, 20_000), (4, 200_000)] {
            let mut random = SeededRandom::new(seed);
            let keys: Vec<[u8; 32]> = (0..count).map(|_| random.bytes32()).collect();
            for offset in [0, 16, 23] {
                let mut hll = Hll::new(offset);
                keys.iter().for_each(|key| hll.add(key));
                let error = (hll.estimate() as f64 - count as f64).abs() / count as f64;
                assert!(error < 0.195, "{count} keys at offset {offset}: estimate {} ({error:.3})", hll.estimate());
            }
            // Two overlapping halves merged equal the whole.
            let (mut first, mut second, mut whole) = (Hll::new(7), Hll::new(7), Hll::new(7));
            keys[..count * 2 / 3].iter().for_each(|key| first.add(key));
            keys[count / 3..].iter().for_each(|key| second.add(key));
            keys.iter().for_each(|key| whole.add(key));
            first.merge(&second);
            assert_eq!(first, whole);
        }
    }
}
