//! Mutual authentication of a link: each side sends a `Hello`, then its signature over the
//! transcript of the link's channel (the Noise handshake hash of `secure.rs`, which covers both
//! ephemeral keys and both preambles), both hellos (dialer's first) and its own role. The
//! channel and both nonces are fresh, so a recorded signature never verifies on another
//! connection, and a party in the middle (two channels, two hashes) gets none that verifies on
//! either; the role byte keeps a node's own signature from being reflected back to it.

use sha2::{Digest, Sha256};

use super::frame::{Hello, PROTOCOL_VERSION};
use crate::identity::{NodeKey, verify};

/// Which end of the connection a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Dialer,
    Acceptor,
}

/// Why a handshake failed; the link is closed and the reason logged. Nothing else changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("peer speaks link protocol version {0}, this node {PROTOCOL_VERSION}")]
    Version(u32),
    #[error("peer belongs to cluster {0:?}")]
    OtherCluster(String),
    #[error("peer key {0} is not in allowed_peers")]
    NotAllowed(String),
    #[error("peer presented this node's own key")]
    OwnKey,
    #[error("peer echoed this node's nonce (a reflected hello)")]
    ReflectedNonce,
    #[error("peer's signature over the handshake does not verify")]
    BadSignature,
    #[error("peer sent {0} where the handshake expected another frame")]
    Unexpected(&'static str),
    #[error("peer's hello names another key than its preamble")]
    PreambleKey,
}

/// What a node checks a peer's hello against.
#[derive(Clone, Debug)]
pub struct Admission {
    pub cluster_id: String,
    pub own_key: [u8; 32],
    pub allowed_peers: Vec<[u8; 32]>,
}

impl Admission {
    /// Checks a key the peer claims (in its preamble, then its hello): not this node's own, and
    /// allowed.
    pub fn check_key(&self, key: &[u8; 32]) -> Result<(), HandshakeError> {
        if *key == self.own_key {
            return Err(HandshakeError::OwnKey);
        }
        if !self.allowed_peers.contains(key) {
            return Err(HandshakeError::NotAllowed(crate::identity_hex(key)));
        }
        Ok(())
    }

    /// Checks the peer's hello (before its signature arrives).
    pub fn check_hello(&self, own: &Hello, peer: &Hello) -> Result<(), HandshakeError> {
        if peer.version != PROTOCOL_VERSION {
            return Err(HandshakeError::Version(peer.version));
        }
        if peer.cluster_id != self.cluster_id {
            return Err(HandshakeError::OtherCluster(peer.cluster_id.clone()));
        }
        self.check_key(&peer.public_key)?;
        if peer.nonce == own.nonce {
            return Err(HandshakeError::ReflectedNonce);
        }
        Ok(())
    }
}

/// A fresh random nonce for a hello.
pub fn fresh_nonce() -> Result<[u8; 32], getrandom::Error> {
    let mut nonce = [0; 32];
    getrandom::fill(&mut nonce)?;
    Ok(nonce)
}

/// The bytes a side signs: a domain tag, the signer's role, the channel's handshake hash
/// (empty on a link without encryption), and the digests of both hellos' frames (the dialer's
/// first).
pub fn transcript(signer: Role, channel: &[u8], dialer_hello: &[u8], acceptor_hello: &[u8]) -> Vec<u8> {
    let mut message = b"parrhesia-link-v3".to_vec();
    message.push(match signer {
        Role::Dialer => b'D',
        Role::Acceptor => b'A',
    });
    message.push(channel.len() as u8);
    message.extend_from_slice(channel);
    message.extend_from_slice(&Sha256::digest(dialer_hello));
    message.extend_from_slice(&Sha256::digest(acceptor_hello));
    message
}

/// The hellos a link exchanged, and the channel they travelled in.
#[derive(Clone, Copy, Debug)]
pub struct Exchanged<'a> {
    pub channel: &'a [u8],
    pub dialer_hello: &'a [u8],
    pub acceptor_hello: &'a [u8],
}

/// This node's signature for the handshake.
pub fn sign(key: &NodeKey, own_role: Role, exchanged: Exchanged<'_>) -> [u8; 64] {
    key.sign(&transcript(own_role, exchanged.channel, exchanged.dialer_hello, exchanged.acceptor_hello))
}

/// Checks the peer's signature (the peer has the other role).
pub fn verify_peer(
    peer_key: &[u8; 32],
    own_role: Role,
    exchanged: Exchanged<'_>,
    signature: &[u8; 64],
) -> Result<(), HandshakeError> {
    let peer_role = match own_role {
        Role::Dialer => Role::Acceptor,
        Role::Acceptor => Role::Dialer,
    };
    let Exchanged { channel, dialer_hello, acceptor_hello } = exchanged;
    if verify(peer_key, &transcript(peer_role, channel, dialer_hello, acceptor_hello), signature) {
        Ok(())
    } else {
        Err(HandshakeError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::frame::Message;

    fn hello(key: &NodeKey, nonce: u8, cluster: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            cluster_id: cluster.into(),
            public_key: key.public(),
            nonce: [nonce; 32],
            epoch: 1,
            advertise: String::new(),
            heads: Vec::new(),
            settings: Vec::new(),
        }
    }

    #[test]
    fn both_sides_verify_and_nothing_else_does() {
        let (dialer, acceptor, stranger) =
            (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]), NodeKey::from_secret([3; 32]));
        let admission = |own: &NodeKey, peers: &[&NodeKey]| Admission {
            cluster_id: "c".into(),
            own_key: own.public(),
            allowed_peers: peers.iter().map(|key| key.public()).collect(),
        };
        let (dialer_hello, acceptor_hello) = (hello(&dialer, 1, "c"), hello(&acceptor, 2, "c"));
        let d = Message::Hello(dialer_hello.clone()).encode();
        let a = Message::Hello(acceptor_hello.clone()).encode();
        admission(&acceptor, &[&dialer]).check_hello(&acceptor_hello, &dialer_hello).unwrap();
        admission(&dialer, &[&acceptor]).check_hello(&dialer_hello, &acceptor_hello).unwrap();
        let channel = [7; 32];
        let exchanged = Exchanged { channel: &channel, dialer_hello: &d, acceptor_hello: &a };
        let dialer_signature = sign(&dialer, Role::Dialer, exchanged);
        let acceptor_signature = sign(&acceptor, Role::Acceptor, exchanged);
        verify_peer(&dialer.public(), Role::Acceptor, exchanged, &dialer_signature).unwrap();
        verify_peer(&acceptor.public(), Role::Dialer, exchanged, &acceptor_signature).unwrap();

        // A reflected signature, a replayed one (other nonce) and a stranger's all fail.
        let reflected = verify_peer(&acceptor.public(), Role::Acceptor, exchanged, &acceptor_signature);
        assert_eq!(reflected, Err(HandshakeError::BadSignature));
        let fresh = Message::Hello(hello(&acceptor, 9, "c")).encode();
        let replayed = Exchanged { acceptor_hello: &fresh, ..exchanged };
        assert_eq!(
            verify_peer(&dialer.public(), Role::Acceptor, replayed, &dialer_signature),
            Err(HandshakeError::BadSignature)
        );
        let forged = sign(&stranger, Role::Dialer, exchanged);
        assert_eq!(
            verify_peer(&dialer.public(), Role::Acceptor, exchanged, &forged),
            Err(HandshakeError::BadSignature)
        );
        // A party in the middle relays the hellos between two channels of its own: the
        // signatures name the dialer's channel, and the acceptor's is another.
        let middle = Exchanged { channel: &[8; 32], ..exchanged };
        assert_eq!(
            verify_peer(&dialer.public(), Role::Acceptor, middle, &dialer_signature),
            Err(HandshakeError::BadSignature)
        );
        let unencrypted = Exchanged { channel: &[], ..exchanged };
        assert_eq!(
            verify_peer(&dialer.public(), Role::Acceptor, unencrypted, &dialer_signature),
            Err(HandshakeError::BadSignature)
        );

        let checks = admission(&acceptor, &[&dialer]);
        let refused = [
            (hello(&stranger, 5, "c"), "not allowed"),
            (hello(&dialer, 5, "other"), "cluster"),
            (hello(&acceptor, 5, "c"), "own key"),
            (hello(&dialer, 2, "c"), "reflected nonce"),
            (Hello { version: PROTOCOL_VERSION + 1, ..hello(&dialer, 5, "c") }, "version"),
        ];
        for (peer, what) in refused {
            assert!(checks.check_hello(&acceptor_hello, &peer).is_err(), "{what}");
        }
    }
}
