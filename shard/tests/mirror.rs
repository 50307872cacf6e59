//! Mirror streams (`[[mirror]]`) against real relays on loopback, a second Parrhesia process
//! as the remote. Down: caught up by NIP-77, or by REQ pages when the remote's negentropy is
//! off (the negentropy reference implementation as a remote is in `negentropy.rs`); then live
//! events, a restart that resumes, what the write-policy plugin is told, a redial. Up: what
//! was accepted while the remote was down is published when it is back, refusals counted,
//! nothing published twice across a restart. Both: the two relays converge and nothing is
//! echoed back, by NIP-77 and by pages.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::metrics::{scrape, scrape_until, total};
use common::{Client, Relay, WAIT, hex, keys};
use parrhesia_engine::{Event, Keys, RelayMessage};

/// A relay whose configuration file mirrors `url` with `filter` (and `extra` keys for the
/// `[[mirror]]` table), in `dir`.
fn mirroring(dir: &Path, url: &str, filter: &str, extra: &str, args: &[&str]) -> Relay {
    mirroring_with_env(dir, url, filter, extra, args, &[])
}

/// As `mirroring`, with these environment variables for the relay (its plugins see them).
fn mirroring_with_env(dir: &Path, url: &str, filter: &str, extra: &str, args: &[&str], env: &[(&str, &str)]) -> Relay {
    let config = dir.join("parrhesia.toml");
    let text = format!("[[mirror]]\nname = \"upstream\"\nurls = [\"{url}\"]\nfilter = '{filter}'\n{extra}\n");
    std::fs::write(&config, text).unwrap();
    let mut all = vec!["--shards", "1", "--durability", "nosync", "--config", config.to_str().unwrap()];
    // `held` reads everything in one REQ.
    all.extend_from_slice(&["--set", "filter_limit_max=5000"]);
    all.extend_from_slice(args);
    Relay::start_in_with_env(&dir.join("data"), &all, env)
}

/// The tests' write-policy plugin (`tests/plugins/policy.py`, in Python as operators write
/// them), copied into `dir`, and the file it logs each request to.
fn policy_script(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = dir.join("policy.py");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/plugins/policy.py"), &script).unwrap();
    (script, dir.join("requests.jsonl"))
}

/// The requests a plugin logged (`policy_script`'s file).
fn plugin_requests(log: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Publishes `events` on `client`, each accepted.
fn publish_all(client: &mut Client, events: &[Event]) {
    for event in events {
        let (accepted, message) = client.publish(event);
        assert!(accepted, "{message}");
    }
}

/// `keys`' notes of kind 1 dated `ages_seconds` ago each.
fn notes_aged(keys: &Keys, label: &str, ages_seconds: impl Iterator<Item = u64>) -> Vec<Event> {
    let now = common::now();
    ages_seconds.enumerate().map(|(n, age)| keys.sign(now - age, 1, vec![], format!("{label} {n}"))).collect()
}

/// The ids of `author`'s events `relay` serves.
fn held(relay: &Relay, author: &Keys) -> BTreeSet<[u8; 32]> {
    let filter = format!(r#"{{"authors":["{}"],"limit":5000}}"#, hex(author.public_key()));
    relay.connect().req("held", &[&filter]).iter().map(|event| *event.id()).collect()
}

/// Waits until `relay` holds every event of `expected` (by `author`), then returns what it holds.
fn wait_for(relay: &Relay, author: &Keys, expected: &[Event]) -> BTreeSet<[u8; 32]> {
    let want: BTreeSet<[u8; 32]> = expected.iter().map(|event| *event.id()).collect();
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let holds = held(relay, author);
        if want.is_subset(&holds) {
            return holds;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events arrived: {}",
            want.intersection(&holds).count(),
            want.len(),
            relay.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stream_total(relay: &Relay, metric: &str, extra: &[(&str, &str)]) -> f64 {
    let mut labels = vec![("mirror", "upstream")];
    labels.extend_from_slice(extra);
    total(&scrape(relay), metric, &labels)
}

/// Down by NIP-77: the remote's matching events within `catch_up_seconds` arrive, older and
/// unmatched ones do not; then live events; a restart resumes from the progress file and
/// fetches only what the remote took meanwhile.
#[test]
fn a_down_stream_catches_up_by_negentropy_then_follows_live_and_resumes() {
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let author = keys(90);
    let recent = notes_aged(&author, "recent", (0..300).map(|n| 60 + n));
    let old = notes_aged(&author, "old", (0..20).map(|n| 3 * 86_400 + n));
    let reactions: Vec<Event> =
        (0..30).map(|n| author.sign(common::now(), 7, vec![], format!("reaction {n}"))).collect();
    let mut publisher = remote.connect();
    publish_all(&mut publisher, &recent);
    publish_all(&mut publisher, &old);
    publish_all(&mut publisher, &reactions);

    let dir = tempfile::tempdir().unwrap();
    let local = mirroring(dir.path(), &remote.url(), r#"{"kinds":[1]}"#, "catch_up_seconds = 86400", &[]);
    let holds = wait_for(&local, &author, &recent);
    assert_eq!(holds.len(), recent.len(), "only recent kind-1 notes: none older than catch_up_seconds, no reactions");
    scrape_until(&local, "the stream went live", |scrape| {
        total(scrape, "parrhesia_mirror_catching_up", &[("mirror", "upstream")]) == 0.0
            && total(scrape, "parrhesia_mirror_connected", &[("mirror", "upstream")]) == 1.0
    });
    assert_eq!(stream_total(&local, "parrhesia_mirror_catch_ups_negentropy_total", &[]), 1.0);
    assert_eq!(stream_total(&local, "parrhesia_mirror_catch_ups_pages_total", &[]), 0.0);
    assert_eq!(stream_total(&local, "parrhesia_mirror_catch_up_ids_left", &[]), 0.0, "every id fetched");
    assert_eq!(stream_total(&local, "parrhesia_mirror_events_down_total", &[("outcome", "stored")]), 300.0);

    // Live: a new note on the remote arrives; a reaction does not.
    let live = notes_aged(&author, "live", 0..5);
    publish_all(&mut publisher, &live);
    publish_all(&mut publisher, &[author.sign(common::now(), 7, vec![], "live reaction".into())]);
    let holds = wait_for(&local, &author, &live);
    assert_eq!(holds.len(), recent.len() + live.len());

    // Stopped, the remote takes more; restarted, the stream resumes and fetches only those.
    let mut local = local;
    local.stop();
    let meanwhile = notes_aged(&author, "meanwhile", (0..40).map(|n| 30 + n));
    publish_all(&mut publisher, &meanwhile);
    let progress: Vec<_> = std::fs::read_dir(local.data_dir.join("mirrors")).unwrap().collect();
    assert_eq!(progress.len(), 1, "one progress file per stream");
    let local = local.restart();
    let holds = wait_for(&local, &author, &meanwhile);
    assert_eq!(holds.len(), recent.len() + live.len() + meanwhile.len());
    scrape_until(&local, "the resumed stream went live", |scrape| {
        total(scrape, "parrhesia_mirror_catching_up", &[("mirror", "upstream")]) == 0.0
    });
    assert_eq!(
        stream_total(&local, "parrhesia_mirror_catch_up_events_total", &[]),
        40.0,
        "the resumed catch-up fetched only what the remote took meanwhile"
    );
}

/// Down by REQ pages, against a remote whose NIP-77 is off (every NEG-OPEN refused): more
/// events than a page, every one arrives, nothing older than `catch_up_seconds`.
#[test]
fn a_down_stream_walks_back_by_pages_when_the_remote_does_not_reconcile() {
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync", "--set", "negentropy_sessions_max=0"]);
    let author = keys(91);
    // 1,200 notes, 3 per second over 400 seconds (pages of 500 split seconds), and 10 too old.
    let recent = notes_aged(&author, "paged", (0..1_200).map(|n| 10 + n / 3));
    let old = notes_aged(&author, "too old", (0..10).map(|n| 7_200 + n));
    let mut publisher = remote.connect();
    publish_all(&mut publisher, &recent);
    publish_all(&mut publisher, &old);

    let dir = tempfile::tempdir().unwrap();
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let local = mirroring(dir.path(), &remote.url(), &filter, "catch_up_seconds = 3600", &[]);
    let holds = wait_for(&local, &author, &recent);
    assert_eq!(holds.len(), recent.len(), "nothing older than catch_up_seconds");
    scrape_until(&local, "the stream went live", |scrape| {
        total(scrape, "parrhesia_mirror_catching_up", &[("mirror", "upstream")]) == 0.0
            && total(scrape, "parrhesia_mirror_connected", &[("mirror", "upstream")]) == 1.0
    });
    assert_eq!(stream_total(&local, "parrhesia_mirror_catch_ups_pages_total", &[]), 1.0);
    assert_eq!(stream_total(&local, "parrhesia_mirror_events_down_total", &[("outcome", "stored")]), 1_200.0);
    assert_eq!(stream_total(&local, "parrhesia_mirror_catch_up_seconds_left", &[]), 0.0, "the walk is done");
    let live = notes_aged(&author, "live", 0..3);
    publish_all(&mut publisher, &live);
    wait_for(&local, &author, &live);
}

/// Authenticates `client` as `keys` (NIP-42; the relay sends its challenge when a REQ for a
/// restricted kind needs it).
fn authenticate(client: &mut Client, keys: &Keys) {
    client.send_text(r#"["REQ","dm",{"kinds":[4]}]"#);
    let challenge = loop {
        if let RelayMessage::Auth { challenge } = client.recv() {
            break challenge.to_string();
        }
    };
    let tags = vec![vec!["relay".into(), "ws://remote".into()], vec!["challenge".into(), challenge]];
    client.send_text(&format!(r#"["AUTH",{}]"#, keys.sign(common::now(), 22242, tags, String::new()).json()));
    loop {
        if let RelayMessage::Ok { accepted, message, .. } = client.recv() {
            assert!(accepted, "{message}");
            return;
        }
    }
}

/// A stream's events go through the relay's write-policy plugin as sourceType "Stream" with
/// the remote's URL, and its refusals are counted by reason; a protected event (NIP-70) is
/// refused before it (its author is not here). A remote that goes away is dialled again.
#[test]
fn stream_events_meet_the_plugin_as_stream_and_a_lost_remote_is_redialled() {
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let author = keys(92);
    let fine = notes_aged(&author, "fine", 0..5);
    let rejected = author.sign(common::now(), 1, vec![], "reject-me".into());
    let protected = author.sign(common::now(), 1, vec![vec!["-".into()]], "protected".into());
    let mut publisher = remote.connect();
    publish_all(&mut publisher, &fine);
    publish_all(&mut publisher, std::slice::from_ref(&rejected));
    authenticate(&mut publisher, &author);
    publish_all(&mut publisher, std::slice::from_ref(&protected));
    drop(publisher);

    let dir = tempfile::tempdir().unwrap();
    let (script, seen) = policy_script(dir.path());
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let plugin = format!("write_policy_plugin={}", script.display());
    let env = [("PLUGIN_LOG", seen.to_str().unwrap())];
    let local = mirroring_with_env(dir.path(), &remote.url(), &filter, "", &["--set", &plugin], &env);
    wait_for(&local, &author, &fine);
    let scrape = scrape_until(&local, "the stream went live", |scrape| {
        total(scrape, "parrhesia_mirror_catching_up", &[("mirror", "upstream")]) == 0.0
            && total(scrape, "parrhesia_mirror_connected", &[("mirror", "upstream")]) == 1.0
    });
    let outcome = |name: &str| total(&scrape, "parrhesia_mirror_events_down_total", &[("outcome", name)]);
    assert_eq!((outcome("stored"), outcome("blocked"), outcome("restricted")), (5.0, 1.0, 1.0));
    let held_here = held(&local, &author);
    assert!(!held_here.contains(rejected.id()) && !held_here.contains(protected.id()));
    let requests = plugin_requests(&seen);
    assert_eq!(requests.len(), 6, "the five fine notes and the rejected one; the protected one never reached it");
    for request in &requests {
        assert_eq!(request["sourceType"], "Stream");
        assert_eq!(request["sourceInfo"], remote.url());
        assert!(request.get("authed").is_none());
    }

    // The remote restarts: the stream dials it again and follows its new events.
    let remote = remote.restart();
    scrape_until(&local, "the stream dialled again", |scrape| {
        total(scrape, "parrhesia_mirror_connects_total", &[("mirror", "upstream")]) >= 2.0
            && total(scrape, "parrhesia_mirror_catching_up", &[("mirror", "upstream")]) == 0.0
            && total(scrape, "parrhesia_mirror_connected", &[("mirror", "upstream")]) == 1.0
    });
    let after = notes_aged(&author, "after the restart", 0..2);
    publish_all(&mut remote.connect(), &after);
    wait_for(&local, &author, &after);
}

/// Up: events accepted here reach the remote, also those accepted while it was down; an event
/// the remote refuses is counted by its reason and not sent again; a restart resumes from the
/// kept cursor (nothing published twice); older events held before the first run are not sent.
#[test]
fn an_up_stream_publishes_what_was_accepted_while_the_remote_was_down() {
    // The remote refuses events dated more than 30 minutes ago.
    let remote =
        Relay::start(&["--shards", "1", "--durability", "nosync", "--set", "created_at_past_seconds_max=1800"]);
    let author = keys(93);
    let dir = tempfile::tempdir().unwrap();
    let filter = format!(r#"{{"authors":["{}"],"kinds":[1]}}"#, hex(author.public_key()));
    // Held before the stream's first run: one recent note (sent), one 2 hours old (not).
    let mut before = Relay::start_in(&dir.path().join("data"), &["--shards", "1", "--durability", "nosync"]);
    let held_before = notes_aged(&author, "held before", [60, 7_200].into_iter());
    publish_all(&mut before.connect(), &held_before);
    before.stop();
    let local = mirroring(dir.path(), &remote.url(), &filter, "dir = \"up\"\ncatch_up_seconds = 3600", &[]);
    let mut client = local.connect();
    let first = notes_aged(&author, "first", 0..20);
    publish_all(&mut client, &first);
    // A reaction does not match the filter; a note 40 minutes old is refused by the remote.
    publish_all(&mut client, &[author.sign(common::now(), 7, vec![], "reaction".into())]);
    let refused = notes_aged(&author, "too old there", [2_400].into_iter());
    publish_all(&mut client, &refused);
    let mut expected = first.clone();
    expected.push(held_before[0].clone());
    let on_remote = wait_for(&remote, &author, &expected);
    assert_eq!(on_remote.len(), 21, "the 20 notes and the recent one held before; not the old one, not the reaction");

    // The remote goes down; the relay takes more; the remote comes back and gets them.
    let mut remote = remote;
    remote.stop();
    let while_down = notes_aged(&author, "while down", 0..30);
    publish_all(&mut client, &while_down);
    let remote = remote.restart();
    let on_remote = wait_for(&remote, &author, &while_down);
    assert_eq!(on_remote.len(), 51);
    let scrape = scrape_until(&local, "every published event answered", |scrape| {
        let up = |outcome: &str| total(scrape, "parrhesia_mirror_events_up_total", &[("outcome", outcome)]);
        up("stored") + up("duplicate") >= 51.0 && up("invalid") >= 1.0
    });
    let up = |outcome: &str| total(&scrape, "parrhesia_mirror_events_up_total", &[("outcome", outcome)]);
    // An event whose answer was lost when the remote stopped is published again once it is
    // back (answered `duplicate:`, or for the refused one `invalid:` again); none is lost and
    // none is counted twice as stored.
    assert_eq!(up("stored") + up("duplicate"), 51.0);
    assert!((1.0..=2.0).contains(&up("invalid")), "the refused one, not retried beyond a lost answer");

    // A restart resumes from the cursor: nothing is published again.
    drop(client);
    let local = local.restart();
    let after = notes_aged(&author, "after the restart", 0..3);
    publish_all(&mut local.connect(), &after);
    wait_for(&remote, &author, &after);
    let scrape = common::metrics::scrape(&local);
    let up = |outcome: &str| total(&scrape, "parrhesia_mirror_events_up_total", &[("outcome", outcome)]);
    assert_eq!((up("stored"), up("duplicate"), up("invalid")), (3.0, 0.0, 0.0), "only the new ones");
}

/// Both, by NIP-77 and (the remote's negentropy off) by pages: each side's events reach the
/// other, before and after going live, and nothing the remote sent is published back to it.
#[test]
fn a_both_stream_converges_the_two_relays_without_echoes() {
    for remote_args in [&[][..], &["--set", "negentropy_sessions_max=0"][..]] {
        let mut args = vec!["--shards", "1", "--durability", "nosync", "--set", "filter_limit_max=5000"];
        args.extend_from_slice(remote_args);
        let remote = Relay::start(&args);
        let author = keys(94);
        let there = notes_aged(&author, "there", 0..30);
        let here = notes_aged(&author, "here", 0..20);
        publish_all(&mut remote.connect(), &there);
        let dir = tempfile::tempdir().unwrap();
        let mut before = Relay::start_in(&dir.path().join("data"), &["--shards", "1", "--durability", "nosync"]);
        publish_all(&mut before.connect(), &here);
        before.stop();
        let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
        let local = mirroring(dir.path(), &remote.url(), &filter, "dir = \"both\"", &[]);
        let all: Vec<Event> = there.iter().chain(&here).cloned().collect();
        assert_eq!(wait_for(&local, &author, &all).len(), 50);
        assert_eq!(wait_for(&remote, &author, &all).len(), 50);
        let live_there = notes_aged(&author, "live there", 0..5);
        let live_here = notes_aged(&author, "live here", 0..5);
        publish_all(&mut remote.connect(), &live_there);
        publish_all(&mut local.connect(), &live_here);
        wait_for(&local, &author, &live_there);
        wait_for(&remote, &author, &live_here);
        let scrape = scrape_until(&local, "every published event answered", |scrape| {
            total(scrape, "parrhesia_mirror_events_up_total", &[]) >= 25.0
        });
        let up = |outcome: &str| total(&scrape, "parrhesia_mirror_events_up_total", &[("outcome", outcome)]);
        assert_eq!((up("stored"), up("duplicate")), (25.0, 0.0), "with {remote_args:?}: nothing echoed back");
        let down = |outcome: &str| total(&scrape, "parrhesia_mirror_events_down_total", &[("outcome", outcome)]);
        assert_eq!(down("stored"), 35.0, "with {remote_args:?}");
    }
}

/// A certificate authority and a certificate for 127.0.0.1 it signed (openssl), in `dir`:
/// (the CA's PEM, the certificate, its key).
fn certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let output = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca"]]
        .concat());
    run(&[&["req"][..], &ec, &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (dir.join("ca.pem"), dir.join("leaf.pem"), dir.join("leaf.key"))
}

/// `wss://`: through a TLS front (Python's ssl, as an operator's proxy) with a certificate of a
/// private authority, a stream whose `ca_file` names that authority mirrors the remote; one
/// trusting only the built-in roots refuses the certificate and never connects.
#[test]
fn a_stream_mirrors_a_wss_remote_whose_authority_it_is_told() {
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let author = keys(95);
    let notes = notes_aged(&author, "over tls", 0..10);
    publish_all(&mut remote.connect(), &notes);
    let dir = tempfile::tempdir().unwrap();
    let (authority, certificate, key) = certificates(dir.path());
    let mut front = std::process::Command::new("python3");
    front.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/tls_proxy.py"));
    front.args([&certificate, &key]).arg(remote.port.to_string());
    let (_front, port) = common::spawn_listening(&mut front);
    let url = format!("wss://127.0.0.1:{port}");
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));

    let untrusting = tempfile::tempdir().unwrap();
    let refusing = mirroring(untrusting.path(), &url, &filter, "", &[]);
    let trusting = tempfile::tempdir().unwrap();
    let ca_file = format!("ca_file = \"{}\"", authority.display());
    let local = mirroring(trusting.path(), &url, &filter, &ca_file, &[]);
    wait_for(&local, &author, &notes);
    let live = notes_aged(&author, "live over tls", 0..2);
    publish_all(&mut remote.connect(), &live);
    wait_for(&local, &author, &live);

    assert!(held(&refusing, &author).is_empty());
    assert_eq!(stream_total(&refusing, "parrhesia_mirror_connects_total", &[]), 0.0);
    let deadline = Instant::now() + WAIT;
    while !refusing.log_text().contains("UnknownIssuer") {
        assert!(Instant::now() < deadline, "no certificate error logged: {}", refusing.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A mirror's own plugin judges what comes down (sourceType "Stream", after the relay's) and
/// what goes up (sourceType "Stored"): what it rejects is neither stored nor published.
#[test]
fn a_mirrors_own_plugin_judges_both_directions() {
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let author = keys(96);
    let there = notes_aged(&author, "there", 0..3);
    let rejected_there = author.sign(common::now(), 1, vec![], "reject-me".into());
    publish_all(&mut remote.connect(), &there);
    publish_all(&mut remote.connect(), std::slice::from_ref(&rejected_there));
    let dir = tempfile::tempdir().unwrap();
    let (script, seen) = policy_script(dir.path());
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let extra = format!("dir = \"both\"\nplugin = \"{}\"", script.display());
    let env = [("PLUGIN_LOG", seen.to_str().unwrap())];
    let local = mirroring_with_env(dir.path(), &remote.url(), &filter, &extra, &[], &env);
    wait_for(&local, &author, &there);
    let here = notes_aged(&author, "here", 0..2);
    let local_tag = vec![vec!["t".to_string(), "here".to_string()]];
    let withheld = [
        author.sign(common::now(), 1, local_tag.clone(), "reject-me".into()),
        author.sign(common::now(), 1, local_tag, "shadow".into()),
    ];
    let mut client = local.connect();
    publish_all(&mut client, &here);
    // The relay has no plugin of its own: both are stored here, and kept from the remote.
    publish_all(&mut client, &withheld);
    wait_for(&remote, &author, &here);
    let scrape = scrape_until(&local, "both withheld", |scrape| {
        total(scrape, "parrhesia_mirror_up_withheld_total", &[("mirror", "upstream")]) == 2.0
    });
    let down = |outcome: &str| total(&scrape, "parrhesia_mirror_events_down_total", &[("outcome", outcome)]);
    assert_eq!(down("blocked"), 1.0);
    assert_eq!(down("duplicate"), 0.0, "what went up is not taken again when the remote sends it back live");
    assert!(!held(&local, &author).contains(rejected_there.id()));
    let on_remote = held(&remote, &author);
    assert!(withheld.iter().all(|event| !on_remote.contains(event.id())));
    let requests = plugin_requests(&seen);
    let of = |kind: &str| requests.iter().filter(|request| request["sourceType"] == kind).count();
    assert_eq!((of("Stream"), of("Stored")), (4, 4), "the four events there, the four published here");
    assert!(requests.iter().all(|request| request["sourceInfo"] == remote.url()));
}

/// `parrhesia-tools mirror`, once, on a stopped relay's store, with a remote that does not
/// reconcile: by pages both ways within `--since-seconds`, then nothing left to do.
#[test]
fn the_tools_mirror_catches_a_store_up_by_pages_both_ways() {
    let limit = ["--set", "filter_limit_max=5000"];
    let remote = Relay::start(&[&["--shards", "1", "--set", "negentropy_sessions_max=0"][..], &limit].concat());
    let author = keys(97);
    let there = notes_aged(&author, "there", (0..700).map(|n| 10 + n));
    let too_old = notes_aged(&author, "too old", [7_200].into_iter());
    publish_all(&mut remote.connect(), &there);
    publish_all(&mut remote.connect(), &too_old);
    let dir = tempfile::tempdir().unwrap();
    let mut local = Relay::start_in(&dir.path().join("data"), &[&["--shards", "1"][..], &limit].concat());
    let here = notes_aged(&author, "here", 0..40);
    publish_all(&mut local.connect(), &here);
    local.stop();
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let mirror = || {
        let output = std::process::Command::new(common::tools_binary())
            .args(["mirror", &remote.url(), "--dir", "both", "--since-seconds", "3600", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--filter", &filter])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{report}");
        report
    };
    let report = mirror();
    assert!(report.contains("catching up by REQ pages"), "{report}");
    assert!(report.contains("downloaded 700, uploaded 40, already present 0, failed 0"), "{report}");
    let report = mirror();
    assert!(report.contains("downloaded 0, uploaded 0, already present 740, failed 0"), "{report}");
    let on_remote = held(&remote, &author);
    assert_eq!(on_remote.len(), 741, "its 700 and the old one, and the 40 from here");
    let local = local.restart();
    assert_eq!(held(&local, &author).len(), 740, "not the old one");
}

/// Events refused for a reason that may pass (`error:`: the plugin crashed on one, and was
/// restarting while the next ones came) are asked for again by a new catch-up, so none is
/// lost; an event the plugin fails on every time counts as refused after three tries, and the
/// stream's progress moves on.
#[test]
fn failures_that_may_pass_are_retried_and_a_poisonous_event_is_given_up() {
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let author = keys(98);
    let fine = notes_aged(&author, "fine", 0..5);
    let crashing = author.sign(common::now(), 1, vec![], "crash".into());
    publish_all(&mut remote.connect(), &fine);
    publish_all(&mut remote.connect(), std::slice::from_ref(&crashing));
    let dir = tempfile::tempdir().unwrap();
    let (script, _) = policy_script(dir.path());
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let plugin = format!("write_policy_plugin={}", script.display());
    let local = mirroring(dir.path(), &remote.url(), &filter, "", &["--set", &plugin]);
    wait_for(&local, &author, &fine);
    let scrape = scrape_until(&local, "the stream gave the crashing event up and went live", |scrape| {
        total(scrape, "parrhesia_mirror_down_through_seconds", &[]) > 0.0
            && total(scrape, "parrhesia_mirror_catching_up", &[("mirror", "upstream")]) == 0.0
    });
    assert!(total(&scrape, "parrhesia_mirror_connects_total", &[]) >= 3.0, "a new catch-up per retry");
    assert!(!held(&local, &author).contains(crashing.id()));
    assert!(local.log_text().contains("failed 3 times"), "{}", local.log_text());
}
