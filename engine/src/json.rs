//! JSON string writing with exactly NIP-01's escaping: `\n \" \\ \r \t \b \f` as short escapes,
//! the other control characters below 0x20 as `\u00XX` (verbatim would not be JSON; this is what
//! serde_json and JavaScript's `JSON.stringify` write too), everything else verbatim.

/// Appends `text` to `out` as a quoted JSON string.
pub fn write_string(text: &str, out: &mut Vec<u8>) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'\n' => b"\\n",
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        start = index + 1;
        if escape.is_empty() {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(DIGITS[(byte >> 4) as usize]);
            out.push(DIGITS[(byte & 0x0f) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `value` in decimal.
pub fn write_u64(value: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut position = digits.len();
    let mut rest = value;
    loop {
        position -= 1;
        digits[position] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[position..]);
}

/// Appends `["a","b"],["c"]` style nested string arrays as one JSON array of arrays.
pub fn write_string_arrays(arrays: &[Vec<String>], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, array) in arrays.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (position, item) in array.iter().enumerate() {
            if position > 0 {
                out.push(b',');
            }
            write_string(item, out);
        }
        out.push(b']');
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_string(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_exactly_as_nip01_and_serde_json() {
        let cases = [
            "plain",
            "line\nbreak",
            "quote\"",
            "back\\slash",
            "cr\r",
            "tab\t",
            "bs\u{8}",
            "ff\u{c}",
            "nul\u{0}ctl\u{1f}",
            "del\u{7f}",
            "slash/ unicode ☃ \u{2028} 🦀",
            "",
        ];
        for text in cases {
            assert_eq!(escaped(text), serde_json::to_string(text).unwrap(), "input {text:?}");
        }
        assert_eq!(escaped("a\nb\"c\\d\re\tf\u{8}g\u{c}"), r#""a\nb\"c\\d\re\tf\bg\f""#);
    }

    #[test]
    fn numbers() {
        for value in [0u64, 7, 10, 1_700_000_000, u64::MAX] {
            let mut out = Vec::new();
            write_u64(value, &mut out);
            assert_eq!(out, value.to_string().into_bytes());
        }
    }
}
