//! A node's identity: an ed25519 key pair (the cluster signs membership datagrams and link
//! handshakes with it; its public key names the node and becomes its store's node id). The
//! key file holds the 32-byte secret as 64 lowercase hex characters and a newline, mode 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The file exists; it was left as it was.
    #[error("{0} already exists; refusing to overwrite a node key")]
    Exists(PathBuf),
    /// Reading or writing the file failed; a file being written is removed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not a key this code wrote. Nothing was changed.
    #[error("{0} does not hold a node key (64 lowercase hex characters)")]
    Malformed(PathBuf),
    /// Others than the owner may read the file. Nothing was changed.
    #[error("{path} may be read by others (mode {mode:o}); make it 0600")]
    Exposed { path: PathBuf, mode: u32 },
    /// The system's random source failed. Nothing was written.
    #[error("no randomness from the system: {0}")]
    Random(getrandom::Error),
}

/// A node's ed25519 key pair.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "NodeKey({})", self.public_hex())
    }
}

impl NodeKey {
    /// A new key from the system's random source.
    pub fn generate() -> Result<NodeKey, IdentityError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(IdentityError::Random)?;
        Ok(NodeKey::from_secret(secret))
    }

    pub fn from_secret(secret: [u8; 32]) -> NodeKey {
        NodeKey { signing: SigningKey::from_bytes(&secret) }
    }

    /// The public key: the node's name in the cluster and its store's node id.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// An ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing.sign(message).to_bytes()
    }

    pub fn public_hex(&self) -> String {
        parrhesia_engine::hex::encode(&self.public())
    }

    /// Writes the key to a new file with mode 0600; refuses an existing file.
    pub fn write_new(&self, path: &Path) -> Result<(), IdentityError> {
        write_secret_file(path, self.signing.as_bytes())
    }

    /// Reads a key file; refuses one that others may read.
    pub fn load(path: &Path) -> Result<NodeKey, IdentityError> {
        read_secret_file(path).map(NodeKey::from_secret)
    }
}

/// Whether `signature` is `public`'s ed25519 signature over `message` (strict: no malleable
/// or small-order forms).
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else { return false };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature)).is_ok()
}

/// Writes a 32-byte secret as 64 lowercase hex and a newline to a new file of mode 0600 (never
/// overwriting; the file is removed again if the write fails). Node keys and the Nostr keys
/// of `parrhesia-tools admin` are kept this way.
pub fn write_secret_file(path: &Path, secret: &[u8; 32]) -> Result<(), IdentityError> {
    let io = |source| IdentityError::Io { path: path.into(), source };
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(IdentityError::Exists(path.into()));
        }
        Err(error) => return Err(io(error)),
    };
    let text = format!("{}\n", parrhesia_engine::hex::encode(secret));
    if let Err(error) = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
        let _ = std::fs::remove_file(path);
        return Err(io(error));
    }
    Ok(())
}

/// Reads a secret written by `write_secret_file`; refuses a file others may read.
pub fn read_secret_file(path: &Path) -> Result<[u8; 32], IdentityError> {
    let io = |source| IdentityError::Io { path: path.into(), source };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Exposed { path: path.into(), mode });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parrhesia_engine::hex::decode_array::<32>(text.trim_end_matches('\n'))
        .ok_or_else(|| IdentityError::Malformed(path.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_its_file_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = NodeKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(NodeKey::load(&path).unwrap().public(), key.public());
        let other = NodeKey::generate().unwrap();
        assert_ne!(other.public(), key.public(), "two keys from the random source differ");
        assert!(matches!(other.write_new(&path), Err(IdentityError::Exists(_))));
        assert_eq!(NodeKey::load(&path).unwrap().public(), key.public(), "the first key stays");
    }

    #[test]
    fn bad_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &str, u32); 4] = [
            ("short", "abcd\n", 0o600),
            ("uppercase", &"AB".repeat(32), 0o600),
            ("exposed", &"ab".repeat(32), 0o644),
            ("missing", "", 0),
        ];
        for (name, text, mode) in cases {
            let path = dir.path().join(name);
            if mode != 0 {
                std::fs::write(&path, text).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            let error = NodeKey::load(&path).unwrap_err();
            let expected = match name {
                "exposed" => matches!(error, IdentityError::Exposed { mode: 0o644, .. }),
                "missing" => matches!(error, IdentityError::Io { .. }),
                _ => matches!(error, IdentityError::Malformed(_)),
            };
            assert!(expected, "{name}: {error}");
        }
    }

    /// RFC 8032, test 1: the public key of a known secret.
    #[test]
    fn the_public_key_is_ed25519() {
        let secret = parrhesia_engine::hex::decode_array::<32>(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        )
        .unwrap();
        assert_eq!(
            NodeKey::from_secret(secret).public_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }
}
