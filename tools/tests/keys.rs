//! `parrhesia-tools keygen` and `pubkey` through the real binary.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn tools(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parrhesia-tools")).args(arguments).output().expect("runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

#[test]
fn keygen_writes_a_private_key_once_and_pubkey_repeats_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.key");
    let path = path.to_str().unwrap();
    let made = tools(&["keygen", "--out", path]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let public = stdout(&made).trim_end().to_string();
    assert_eq!(public.len(), 64);
    assert!(public.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)), "{public}");
    assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);

    let shown = tools(&["pubkey", path]);
    assert!(shown.status.success());
    assert_eq!(stdout(&shown).trim_end(), public);

    let before = std::fs::read(path).unwrap();
    let again = tools(&["keygen", "--out", path]);
    assert_eq!(again.status.code(), Some(1), "refuses to overwrite");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read(path).unwrap(), before, "the key is untouched");

    let other = dir.path().join("other.key");
    let other_public = stdout(&tools(&["keygen", "--out", other.to_str().unwrap()]));
    assert_ne!(other_public.trim_end(), public, "each keygen makes a new key");
}

#[test]
fn pubkey_refuses_a_readable_or_malformed_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.key");
    std::fs::write(&path, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = tools(&["pubkey", path.to_str().unwrap()]);
    assert_eq!(exposed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&exposed.stderr).contains("0600"));
    std::fs::write(&path, "not a key").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let malformed = tools(&["pubkey", path.to_str().unwrap()]);
    assert_eq!(malformed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("does not hold a node key"));
}

#[test]
fn keygen_nostr_writes_a_secp256k1_key_whose_pubkey_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.key");
    let made = tools(&["keygen", "--nostr", "--out", path.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let secret = std::fs::read_to_string(&path).unwrap();
    let secret = parrhesia_engine::hex::decode_array::<32>(secret.trim_end()).expect("64 hex");
    let keys = parrhesia_engine::Keys::from_secret_bytes(secret).expect("a secp256k1 secret");
    assert_eq!(stdout(&made).trim_end(), parrhesia_engine::hex::encode(keys.public_key()));
    let again = tools(&["keygen", "--nostr", "--out", path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "refuses to overwrite");
}
