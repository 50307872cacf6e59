//! `gen`: a seeded, realistic event mix, signed once (in parallel) into a JSONL file that the
//! other workloads replay. The plan (who posts what, when, referring to which earlier event) is
//! drawn sequentially from one seed; only signing runs on threads, so a seed always yields the
//! same bytes.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use parrhesia_engine::{Id, Keys, KindClass, Pubkey, compute_id, hex};

use crate::progress::Progress;
use crate::random::{Random, Zipf};
use crate::report::Report;

/// Events planned, signed and written per round (bounds the memory of a large run).
const BATCH_EVENTS: usize = 10_000;
/// Earlier events that reactions, reposts and replies may refer to.
const RECENT_EVENTS_MAX: usize = 20_000;
/// Zipf exponent of posting activity: a few authors write most events.
const AUTHOR_SKEW: f64 = 1.1;
/// At most this many `p` tags in a contact list: the relay's default `tags_per_event_max` is
/// 256, and a bench file every relay accepts is more useful than the longest real lists.
const CONTACTS_MAX: u64 = 250;
/// Distinct relays that relay lists name.
const RELAY_POOL_COUNT: usize = 50;

/// Salts that keep the seed's streams apart (author secrets, the plan).
const AUTHOR_SALT: u64 = 0xa17d_0125_5eed_0001;
const PLAN_SALT: u64 = 0x9a11_7e5e_ed00_0002;

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub events: u64,
    pub authors: usize,
    pub seed: u64,
    /// created_at of the first event; the others follow in order over `span_seconds`.
    pub start_unix_seconds: u64,
    pub span_seconds: u64,
    pub threads: usize,
    pub out: PathBuf,
}

/// What an event is for, with its share of the mix in per mille.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    Note,
    Reaction,
    Repost,
    Metadata,
    Contacts,
    RelayList,
    Article,
    Ephemeral,
}

pub const MIX_PER_MILLE: [(Shape, u32); 8] = [
    (Shape::Note, 560),
    (Shape::Reaction, 250),
    (Shape::Repost, 40),
    (Shape::Metadata, 20),
    (Shape::Contacts, 30),
    (Shape::RelayList, 20),
    (Shape::Article, 50),
    (Shape::Ephemeral, 30),
];

impl Shape {
    pub fn kind(self) -> u16 {
        match self {
            Shape::Note => 1,
            Shape::Reaction => 7,
            Shape::Repost => 6,
            Shape::Metadata => 0,
            Shape::Contacts => 3,
            Shape::RelayList => 10002,
            Shape::Article => 30023,
            Shape::Ephemeral => 20001,
        }
    }
}

/// One event before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub author: usize,
    pub created_at: u64,
    pub kind: u16,
    pub tags: Vec<Vec<String>>,
    pub content: String,
}

/// An earlier event that later ones may refer to.
#[derive(Clone, Copy, Debug)]
struct Earlier {
    id: Id,
    author: usize,
}

/// Draws the event mix, one event at a time, from one seed.
pub struct Planner {
    random: Random,
    pubkeys: Vec<Pubkey>,
    activity: Zipf,
    words: Zipf,
    hashtags: Zipf,
    relays: Zipf,
    recent: VecDeque<Earlier>,
    /// Per author, how many articles (distinct `d` tags) it has written.
    articles: Vec<u32>,
    planned: u64,
    events_total: u64,
    start_unix_seconds: u64,
    span_seconds: u64,
}

const WORDS: [&str; 64] = [
    "the",
    "a",
    "nostr",
    "relay",
    "is",
    "to",
    "of",
    "and",
    "in",
    "it",
    "this",
    "that",
    "for",
    "on",
    "you",
    "with",
    "zap",
    "sats",
    "bitcoin",
    "note",
    "just",
    "gm",
    "pv",
    "freedom",
    "speech",
    "keys",
    "client",
    "post",
    "today",
    "why",
    "how",
    "what",
    "we",
    "they",
    "build",
    "run",
    "open",
    "source",
    "protocol",
    "event",
    "signed",
    "fast",
    "slow",
    "good",
    "morning",
    "night",
    "love",
    "coffee",
    "café",
    "naïve",
    "日本語",
    "🤙",
    "🔥",
    "\"quoted\"",
    "line\nbreak",
    "tab\there",
    "back\\slash",
    "<html>",
    "emoji😀",
    "ü",
    "über",
    "ok",
    "yes",
    "no",
];

const REACTIONS: [&str; 6] = ["🤙", "❤️", "🔥", "😂", "⚡", "👀"];

impl Planner {
    pub fn new(
        seed: u64,
        pubkeys: Vec<Pubkey>,
        events_total: u64,
        start_unix_seconds: u64,
        span_seconds: u64,
    ) -> Planner {
        assert!(!pubkeys.is_empty(), "at least one author");
        let author_count = pubkeys.len();
        Planner {
            random: Random::new(seed ^ PLAN_SALT),
            activity: Zipf::new(author_count, AUTHOR_SKEW),
            words: Zipf::new(WORDS.len(), 1.0),
            hashtags: Zipf::new(200, 1.0),
            relays: Zipf::new(RELAY_POOL_COUNT, 1.2),
            recent: VecDeque::with_capacity(RECENT_EVENTS_MAX),
            articles: vec![0; author_count],
            pubkeys,
            planned: 0,
            events_total: events_total.max(1),
            start_unix_seconds,
            span_seconds,
        }
    }

    /// The next event of the mix.
    pub fn next_plan(&mut self) -> Plan {
        let created_at = self.start_unix_seconds
            + (u128::from(self.planned) * u128::from(self.span_seconds) / u128::from(self.events_total)) as u64;
        self.planned += 1;
        let author = self.activity.sample(&mut self.random);
        let shape = self.draw_shape();
        let (tags, content) = match shape {
            Shape::Note => self.note(),
            Shape::Reaction => self.reaction(),
            Shape::Repost => self.repost(),
            Shape::Metadata => self.metadata(author),
            Shape::Contacts => self.contacts(),
            Shape::RelayList => self.relay_list(),
            Shape::Article => self.article(author, created_at),
            Shape::Ephemeral => (self.hashtag_tags(0.5), self.text(40.0, 0.8, 1, 500)),
        };
        let plan = Plan { author, created_at, kind: shape.kind(), tags, content };
        if matches!(shape, Shape::Note | Shape::Article) {
            let id = compute_id(&self.pubkeys[author], plan.created_at, plan.kind, &plan.tags, &plan.content);
            if self.recent.len() == RECENT_EVENTS_MAX {
                self.recent.pop_front();
            }
            self.recent.push_back(Earlier { id, author });
        }
        plan
    }

    fn draw_shape(&mut self) -> Shape {
        let mut ticket = self.random.below(1000) as u32;
        let mut shape = Shape::Note;
        for (candidate, share) in MIX_PER_MILLE {
            if ticket < share {
                shape = candidate;
                break;
            }
            ticket -= share;
        }
        // Reactions and reposts need something to point at.
        if self.recent.is_empty() && matches!(shape, Shape::Reaction | Shape::Repost) { Shape::Note } else { shape }
    }

    /// An earlier event, favouring recent ones (the newest tenth gets about half the picks).
    fn earlier(&mut self) -> Option<Earlier> {
        let count = self.recent.len();
        if count == 0 {
            return None;
        }
        let offset = ((count as f64) * self.random.unit().powi(3)) as usize;
        Some(self.recent[count - 1 - offset.min(count - 1)])
    }

    fn reference_tags(&mut self, marker: Option<&str>) -> Vec<Vec<String>> {
        let Some(earlier) = self.earlier() else { return Vec::new() };
        let mut e_tag = vec!["e".to_string(), hex::encode(&earlier.id)];
        if let Some(marker) = marker {
            e_tag.extend(["".to_string(), marker.to_string()]);
        }
        vec![e_tag, vec!["p".to_string(), hex::encode(&self.pubkeys[earlier.author])]]
    }

    fn note(&mut self) -> (Vec<Vec<String>>, String) {
        let mut tags = if self.random.chance(0.25) { self.reference_tags(Some("root")) } else { Vec::new() };
        if self.random.chance(0.15) {
            for _ in 0..self.random.between(1, 3) {
                let mentioned = self.activity.sample(&mut self.random);
                tags.push(vec!["p".to_string(), hex::encode(&self.pubkeys[mentioned])]);
            }
        }
        tags.extend(self.hashtag_tags(0.2));
        (tags, self.text(90.0, 1.1, 1, 8000))
    }

    fn reaction(&mut self) -> (Vec<Vec<String>>, String) {
        let tags = self.reference_tags(None);
        let roll = self.random.unit();
        let content = if roll < 0.75 {
            "+".to_string()
        } else if roll < 0.80 {
            "-".to_string()
        } else {
            self.random.pick(&REACTIONS).to_string()
        };
        (tags, content)
    }

    fn repost(&mut self) -> (Vec<Vec<String>>, String) {
        (self.reference_tags(None), String::new())
    }

    fn metadata(&mut self, author: usize) -> (Vec<Vec<String>>, String) {
        let about = self.text(60.0, 0.8, 0, 400);
        let content = serde_json::json!({
            "name": format!("bench-user-{author}"),
            "about": about,
            "picture": format!("https://example.com/avatars/{author}.png"),
        });
        (Vec::new(), content.to_string())
    }

    fn contacts(&mut self) -> (Vec<Vec<String>>, String) {
        let wanted = self.random.log_normal(120.0, 1.0, 1, CONTACTS_MAX.min(self.pubkeys.len() as u64));
        let mut followed = HashSet::new();
        let mut tags = Vec::new();
        // Popular authors are followed more; give up on duplicates after a bounded number of draws.
        for _ in 0..wanted * 4 {
            if tags.len() as u64 >= wanted {
                break;
            }
            let target = self.activity.sample(&mut self.random);
            if followed.insert(target) {
                tags.push(vec!["p".to_string(), hex::encode(&self.pubkeys[target])]);
            }
        }
        (tags, String::new())
    }

    fn relay_list(&mut self) -> (Vec<Vec<String>>, String) {
        let mut named = HashSet::new();
        let mut tags = Vec::new();
        for _ in 0..self.random.between(2, 6) {
            let relay = self.relays.sample(&mut self.random);
            if !named.insert(relay) {
                continue;
            }
            let mut tag = vec!["r".to_string(), format!("wss://relay{relay}.example.com")];
            match self.random.below(4) {
                0 => tag.push("read".to_string()),
                1 => tag.push("write".to_string()),
                _ => {}
            }
            tags.push(tag);
        }
        (tags, String::new())
    }

    fn article(&mut self, author: usize, created_at: u64) -> (Vec<Vec<String>>, String) {
        let written = self.articles[author];
        // A third of the time an author revises one of its articles (same `d`: a replacement).
        let number = if written > 0 && self.random.chance(0.3) {
            self.random.below(u64::from(written)) as u32
        } else {
            self.articles[author] += 1;
            written
        };
        let mut tags = vec![
            vec!["d".to_string(), format!("article-{number}")],
            vec!["title".to_string(), self.text(30.0, 0.4, 3, 120)],
            vec!["published_at".to_string(), created_at.to_string()],
        ];
        tags.extend(self.hashtag_tags(0.7));
        (tags, self.text(3000.0, 0.6, 200, 60_000))
    }

    /// With probability `probability`, one to three `t` tags from a skewed vocabulary.
    fn hashtag_tags(&mut self, probability: f64) -> Vec<Vec<String>> {
        if !self.random.chance(probability) {
            return Vec::new();
        }
        (0..self.random.between(1, 3))
            .map(|_| vec!["t".to_string(), format!("topic{}", self.hashtags.sample(&mut self.random))])
            .collect()
    }

    /// Text of a log-normal length (in characters) made of skewed words.
    fn text(&mut self, median: f64, sigma: f64, low: u64, high: u64) -> String {
        let length = self.random.log_normal(median, sigma, low, high) as usize;
        let mut text = String::with_capacity(length + 16);
        let mut characters = 0;
        while characters < length {
            if characters > 0 {
                text.push(' ');
                characters += 1;
            }
            let word = WORDS[self.words.sample(&mut self.random)];
            for character in word.chars().take(length.saturating_sub(characters)) {
                text.push(character);
                characters += 1;
            }
        }
        text
    }
}

/// Runs `map` over `items` on `threads` threads; results keep the items' order.
fn parallel_map<T: Sync, R: Send>(items: &[T], threads: usize, map: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.is_empty() {
        return Vec::new();
    }
    let chunk = items.len().div_ceil(threads.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| scope.spawn(|| part.iter().map(&map).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|handle| handle.join().expect("signing thread panicked")).collect()
    })
}

/// The authors' keys for a seed (secrets drawn in order, keypairs built in parallel).
pub fn author_keys(seed: u64, authors: usize, threads: usize) -> Vec<Keys> {
    let mut random = Random::new(seed ^ AUTHOR_SALT);
    let secrets: Vec<[u8; 32]> = (0..authors).map(|_| random.bytes32()).collect();
    parallel_map(&secrets, threads, |secret| {
        let mut secret = *secret;
        loop {
            if let Some(keys) = Keys::from_secret_bytes(secret) {
                return keys;
            }
            // Zero or above the curve order (probability ~2^-128): derive another, deterministically.
            secret[0] = secret[0].wrapping_add(1);
        }
    })
}

/// Counts of what was written, for the report.
#[derive(Debug, Default)]
pub struct Written {
    pub events: u64,
    pub bytes: u64,
    pub kinds: BTreeMap<u16, u64>,
}

/// Plans, signs and writes `options.events` events to `out`; `signed` counts progress.
pub fn generate_into(options: &GenerateOptions, out: &mut impl Write, signed: &AtomicU64) -> anyhow::Result<Written> {
    let keys = author_keys(options.seed, options.authors.max(1), options.threads);
    let pubkeys = keys.iter().map(|keys| *keys.public_key()).collect();
    let mut planner =
        Planner::new(options.seed, pubkeys, options.events, options.start_unix_seconds, options.span_seconds);
    let mut written = Written::default();
    while written.events < options.events {
        let batch = (options.events - written.events).min(BATCH_EVENTS as u64) as usize;
        let plans: Vec<Plan> = (0..batch).map(|_| planner.next_plan()).collect();
        let lines = parallel_map(&plans, options.threads, |plan| {
            let event = keys[plan.author].sign(plan.created_at, plan.kind, plan.tags.clone(), plan.content.clone());
            signed.fetch_add(1, Ordering::Relaxed);
            event.json().to_string()
        });
        for (plan, line) in plans.iter().zip(&lines) {
            out.write_all(line.as_bytes()).context("writing an event")?;
            out.write_all(b"\n").context("writing an event")?;
            written.bytes += line.len() as u64 + 1;
            *written.kinds.entry(plan.kind).or_default() += 1;
        }
        written.events += batch as u64;
    }
    out.flush().context("flushing the event file")?;
    Ok(written)
}

/// The `gen` subcommand.
pub fn run(options: &GenerateOptions) -> anyhow::Result<Report> {
    let started = Instant::now();
    let file = std::fs::File::create(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let signed = Arc::new(AtomicU64::new(0));
    let counter = signed.clone();
    let total = options.events;
    let progress = Progress::start(None, move |elapsed| {
        let done = counter.load(Ordering::Relaxed);
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
        format!("gen: signed {done}/{total} events ({rate:.0}/s)")
    });
    let written = generate_into(options, &mut out, &signed);
    progress.finish();
    let written = written.with_context(|| format!("writing {}", options.out.display()))?;
    let seconds = started.elapsed().as_secs_f64();

    let mut report = Report::new("gen", "");
    report.parameter("events", options.events);
    report.parameter("authors", options.authors);
    report.parameter("seed", options.seed);
    report.parameter("start_unix_seconds", options.start_unix_seconds);
    report.parameter("span_seconds", options.span_seconds);
    report.parameter("threads", options.threads);
    report.parameter("out", options.out.display().to_string());
    report.count("gen.events", written.events, "events");
    report.count("gen.bytes", written.bytes, "bytes");
    report.metric("gen.event_bytes_mean", written.bytes as f64 / written.events.max(1) as f64, "bytes");
    report.metric("gen.seconds", seconds, "s");
    report.rate("gen.signed_per_second", written.events, seconds, "events/s");
    for (kind, count) in &written.kinds {
        report.count(format!("gen.kind.{kind}"), *count, "events");
    }
    let ephemeral = written.kinds.iter().filter(|(kind, _)| KindClass::of(**kind) == KindClass::Ephemeral);
    report.count("gen.ephemeral", ephemeral.map(|(_, count)| count).sum(), "events");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parrhesia_engine::{Event, Limits};

    fn options(events: u64, seed: u64) -> GenerateOptions {
        GenerateOptions {
            events,
            authors: 40,
            seed,
            start_unix_seconds: 1_700_000_000,
            span_seconds: 86_400,
            threads: 3,
            out: PathBuf::from("unused"),
        }
    }

    fn generate(events: u64, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let signed = AtomicU64::new(0);
        let written = generate_into(&options(events, seed), &mut out, &signed).expect("generates");
        assert_eq!(written.events, events);
        assert_eq!(signed.load(Ordering::Relaxed), events);
        assert_eq!(written.bytes, out.len() as u64);
        out
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let first = generate(300, 7);
        assert_eq!(first, generate(300, 7));
        assert_ne!(first, generate(300, 8));
    }

    #[test]
    fn every_line_is_a_valid_signed_event_the_relay_accepts() {
        let out = String::from_utf8(generate(400, 11)).expect("UTF-8");
        let limits = Limits::default();
        let mut previous_created_at = 0;
        for line in out.lines() {
            let event = Event::parse(line, &limits).unwrap_or_else(|reason| panic!("{reason}: {line}"));
            event.verify_signature().expect("signed");
            assert!(event.created_at() >= previous_created_at, "created_at never goes back");
            previous_created_at = event.created_at();
            assert!(event.created_at() < 1_700_000_000 + 86_400);
        }
        assert_eq!(out.lines().count(), 400);
    }

    fn plans(count: usize, seed: u64) -> (Vec<Pubkey>, Vec<Plan>) {
        let pubkeys: Vec<Pubkey> = author_keys(seed, 200, 2).iter().map(|keys| *keys.public_key()).collect();
        let mut planner = Planner::new(seed, pubkeys.clone(), count as u64, 1_700_000_000, 1_000_000);
        (pubkeys, (0..count).map(|_| planner.next_plan()).collect())
    }

    #[test]
    fn the_mix_follows_the_table() {
        let (_, plans) = plans(20_000, 3);
        for (shape, per_mille) in MIX_PER_MILLE {
            let count = plans.iter().filter(|plan| plan.kind == shape.kind()).count() as f64;
            let share = count / plans.len() as f64 * 1000.0;
            let tolerance = (f64::from(per_mille) * 0.15).max(5.0);
            assert!((share - f64::from(per_mille)).abs() < tolerance, "{shape:?}: {share:.1} per mille");
        }
    }

    #[test]
    fn authors_are_skewed() {
        let (_, plans) = plans(20_000, 4);
        let mut per_author = vec![0usize; 200];
        for plan in &plans {
            per_author[plan.author] += 1;
        }
        per_author.sort_unstable_by(|left, right| right.cmp(left));
        let top_ten: usize = per_author[..10].iter().sum();
        assert!(top_ten * 2 > plans.len(), "the top 5% of authors write most events ({top_ten})");
        assert!(per_author[199] < per_author[0] / 20);
    }

    #[test]
    fn references_point_to_earlier_notes_and_name_their_author() {
        let (pubkeys, plans) = plans(5_000, 5);
        let mut earlier: std::collections::HashMap<String, usize> = Default::default();
        let mut references = 0;
        for plan in &plans {
            for tag in plan.tags.iter().filter(|tag| tag[0] == "e") {
                let author = earlier.get(&tag[1]).unwrap_or_else(|| panic!("e tag to an unknown event: {plan:?}"));
                let p_tag = plan.tags.iter().find(|tag| tag[0] == "p").expect("a p tag with the e tag");
                assert_eq!(p_tag[1], hex::encode(&pubkeys[*author]));
                references += 1;
            }
            let id = compute_id(&pubkeys[plan.author], plan.created_at, plan.kind, &plan.tags, &plan.content);
            earlier.insert(hex::encode(&id), plan.author);
        }
        assert!(references > 1_000, "reactions, reposts and replies refer to earlier events ({references})");
    }

    #[test]
    fn sizes_and_tags_stay_within_relay_defaults() {
        let (_, plans) = plans(20_000, 6);
        let limits = Limits::default();
        let mut note_lengths: Vec<usize> = Vec::new();
        for plan in &plans {
            assert!(plan.tags.len() <= limits.tags_per_event_max, "{} tags", plan.tags.len());
            assert!(plan.content.len() < limits.event_bytes_max / 2);
            assert!(plan.tags.iter().all(|tag| !tag.is_empty() && !tag[0].is_empty()));
            if plan.kind == 1 {
                note_lengths.push(plan.content.chars().count());
            }
            if plan.kind == 30023 {
                let d = plan.tags.iter().find(|tag| tag[0] == "d").expect("articles have a d tag");
                assert!(d[1].starts_with("article-"));
            }
        }
        note_lengths.sort_unstable();
        let median = note_lengths[note_lengths.len() / 2];
        let p99 = note_lengths[note_lengths.len() * 99 / 100];
        assert!((70..=110).contains(&median), "note median {median} characters");
        assert!(p99 > 5 * median, "a long tail of long notes (p99 {p99})");
    }

    #[test]
    fn replaceable_and_addressable_events_recur_per_author() {
        let (_, plans) = plans(20_000, 8);
        let mut coordinates: std::collections::HashMap<(usize, u16, String), u32> = Default::default();
        for plan in plans.iter().filter(|plan| KindClass::of(plan.kind) != KindClass::Regular) {
            let d = plan.tags.iter().find(|tag| tag[0] == "d").map_or(String::new(), |tag| tag[1].clone());
            *coordinates.entry((plan.author, plan.kind, d)).or_default() += 1;
        }
        let replaced = coordinates.iter().filter(|((_, kind, _), count)| *kind != 20001 && **count > 1).count();
        assert!(replaced > 20, "some replaceable coordinates are written more than once ({replaced})");
    }
}
