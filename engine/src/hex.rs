//! Lowercase hexadecimal, the only hex NIP-01 allows for ids, pubkeys and signatures.

/// Decodes exactly `N` bytes from `text`; `None` unless `text` is `2 * N` lowercase hex digits.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Decodes any even-length lowercase hex string; `None` on odd length or a bad digit.
pub fn decode_vec(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks_exact(2).map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?)).collect()
}

/// Appends the lowercase hex of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + bytes.len() * 2, 0);
    encode_to_slice(bytes, &mut out[start..]);
}

/// Writes the lowercase hex of `bytes` into `out`, which must be twice as long. SIMD where the
/// CPU has it (`const-hex`): the read path hex-encodes id, pubkey, sig and every packed tag
/// value of each event it serves, and this was 11% of a `query` run's CPU done a byte at a time.
pub fn encode_to_slice(bytes: &[u8], out: &mut [u8]) {
    const_hex::encode_to_slice(bytes, out).expect("hex output is twice the input");
}

/// The lowercase hex of `bytes` as a `String`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut out);
    // Only ASCII digits were written.
    String::from_utf8(out).expect("hex digits are ASCII")
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let cases: &[(&str, Option<[u8; 2]>)] = &[
            ("00ff", Some([0x00, 0xff])),
            ("a1b2", Some([0xa1, 0xb2])),
            ("A1B2", None), // uppercase is not NIP-01 hex
            ("a1b", None),
            ("a1b2c3", None),
            ("zz00", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(decode_array::<2>(text), *expected, "input {text:?}");
        }
    }

    #[test]
    fn round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_vec(&encode(&bytes)).unwrap(), bytes);
        assert_eq!(decode_vec("abc"), None);
    }
}
