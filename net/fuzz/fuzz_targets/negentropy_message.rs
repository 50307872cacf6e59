//! A relay's side of NIP-77 fed arbitrary bytes as a client's message: it must answer or
//! refuse (`Err`), never panic or allocate without bound, whatever the input. The relay runs
//! exactly this (shard/src/negentropy.rs) on every NEG-OPEN and NEG-MSG payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use negentropy::{Id, Negentropy, NegentropyStorageVector};

fuzz_target!(|data: &[u8]| {
    let mut storage = NegentropyStorageVector::new();
    for n in 0..64u8 {
        let _ = storage.insert(u64::from(n) * 1000, Id::from_byte_array([n; 32]));
    }
    storage.seal().expect("sealed once");
    let mut relay = Negentropy::owned(storage, 4096).expect("4096 is a valid frame limit");
    let _ = relay.reconcile(data);
    // A second message on the same session, as NEG-MSG would send.
    let _ = relay.reconcile(data);
});
