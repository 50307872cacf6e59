//! A deterministic signer for the `nostr` crate, shared by the interop tests (engine and shard
//! include this file): nostr's `EventBuilder::finalize` computes the id and checks the
//! signature, and the BIP-340 signature comes from fixed secret bytes without auxiliary
//! randomness, because nostr's `Keys` only signs with operating-system randomness (feature
//! `os-rng`, not enabled here).

use std::convert::Infallible;

use nostr::event::{Event, EventBuilder, FinalizeEvent, SignEvent, UnsignedEvent};
use nostr::key::{GetPublicKey, PublicKey, SecretKey};

#[derive(Debug)]
pub struct FixedSigner {
    pub public_key: PublicKey,
    keypair: secp256k1::Keypair,
}

impl FixedSigner {
    /// The signer whose secret key is 32 bytes of `seed`.
    pub fn new(seed: u8) -> FixedSigner {
        let secret = [seed; 32];
        let keys = nostr::key::Keys::new(SecretKey::from_slice(&secret).expect("valid secret"));
        let keypair = secp256k1::Keypair::from_secret_bytes(secret).expect("valid secret");
        FixedSigner { public_key: keys.public_key(), keypair }
    }

    /// Builds, signs and verifies through nostr's own pipeline.
    #[allow(dead_code)] // not every including test uses it
    pub fn sign(&self, builder: EventBuilder) -> Event {
        builder.finalize(self).expect("nostr signs and verifies")
    }
}

impl GetPublicKey for FixedSigner {
    type Error = Infallible;
    fn get_public_key(&self) -> Result<PublicKey, Infallible> {
        Ok(self.public_key)
    }
}

impl SignEvent for FixedSigner {
    type Error = nostr::error::Error;
    fn sign_event(&self, mut unsigned: UnsignedEvent) -> Result<Event, nostr::error::Error> {
        let id = unsigned.id();
        let signature = secp256k1::schnorr::sign_no_aux_rand(id.as_bytes(), &self.keypair);
        unsigned.add_signature(nostr::event::Signature::from_byte_array(signature.to_byte_array()))
    }
}
