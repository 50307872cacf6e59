//! Cross-shard behaviour with `--shards 2`: connections land on both shards (the relay says
//! which in its `X-Parrhesia-Shard` handshake header) and events published through one shard
//! reach subscribers on the other, stored and ephemeral alike.

mod common;

use common::{Client, Relay, hex, keys, note, now, one_per_shard};

#[test]
fn events_cross_shards() {
    let relay = Relay::start(&["--shards", "2"]);
    let (mut on_zero, mut on_one) = one_per_shard(&relay);
    assert_eq!((on_zero.shard, on_one.shard), (0, 1));
    let author = keys(3);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    on_zero.req("live", &[&filter]);
    on_one.req("live", &[&filter]);

    // Stored: published on shard 1, delivered on both.
    let stored = note(&author, "via shard one");
    assert!(on_one.publish(&stored).0);
    assert_eq!(on_zero.next_event("live").id(), stored.id());
    assert_eq!(on_one.next_event("live").id(), stored.id());

    // Ephemeral: published on shard 0, delivered on shard 1 without being stored.
    let ephemeral = author.sign(now(), 20001, vec![], "typing".into());
    assert!(on_zero.publish(&ephemeral).0);
    assert_eq!(on_one.next_event("live").id(), ephemeral.id());
    assert_eq!(on_zero.next_event("live").id(), ephemeral.id());
    let kind_filter = format!(r#"{{"ids":["{}"]}}"#, hex(ephemeral.id()));
    assert!(on_one.req("stored?", &[&kind_filter]).is_empty(), "ephemeral events are not stored");

    // Both shards read the same store.
    let found = on_zero.req("both", &[&format!(r#"{{"ids":["{}"]}}"#, hex(stored.id()))]);
    assert_eq!(found.len(), 1);
}

#[test]
fn more_shards_than_cores_still_work() {
    let relay = Relay::start(&["--shards", "5"]);
    let mut clients: Vec<Client> = (0..10).map(|_| relay.connect()).collect();
    let author = keys(4);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    for client in &mut clients {
        client.req("s", &[&filter]);
    }
    let event = note(&author, "to everyone");
    assert!(clients[0].publish(&event).0);
    for client in &mut clients {
        assert_eq!(client.next_event("s").id(), event.id());
    }
}
