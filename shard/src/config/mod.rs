//! The relay's one typed configuration schema and its layering: defaults < TOML file
//! (`--config`) < `PARRHESIA_*` environment < command-line flags. Every layer is merged as a
//! TOML table and validated once, so an unknown key or a bad value names the key it came from.
//! Long because it is the schema itself: every key with its doc (printed as the README's
//! sample) and its default, one place; the tests are in `tests.rs`.
//!
//! Here: `Config` with its defaults, the layering and the validation, and `--print-config`.
//! The `[cluster]` table lives in `cluster`, the typed values a key takes in `values`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use documented::DocumentedFields;
use parrhesia_engine::Limits;
use serde::{Deserialize, Serialize};

mod cluster;
mod mirror;
mod values;

pub use cluster::{ClusterConfig, POLICY_CLASS};
pub use mirror::{MirrorConfig, MirrorDirection};
use values::parse_rate;
pub use values::{AuthRequired, DurabilitySetting, LinkEncryption, LogFormat, OverflowPolicy};

/// The relay's configuration. Flat, so every key maps to one `PARRHESIA_<KEY>` variable. Each
/// field's doc comment is what `parrhesia --print-config` prints above it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, DocumentedFields)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address every shard binds (SO_REUSEPORT).
    pub listen: String,
    /// Directory of the LMDB store (created if missing; the relay locks it while it runs).
    pub data_dir: PathBuf,
    /// Shards (executors); 0 means one per available core. More than the cores is allowed.
    pub shards: usize,
    /// `fsync` (every group commit is durable) or `nosync` (flushed every flush_interval_ms).
    pub durability: DurabilitySetting,
    /// With `nosync`, how often the store is flushed, in milliseconds.
    pub flush_interval_ms: u64,
    /// LMDB map size: the most the data file may grow to (address space), in bytes.
    pub map_bytes_max: usize,
    /// Kinds whose content NIP-50 search indexes (at write time, one entry per distinct word
    /// per event). A store records the kinds it was built with and the relay refuses to start
    /// on a store built with others: `parrhesia-tools reindex --search-kinds` rebuilds it.
    pub search_kinds: Vec<u16>,
    /// Events a search filter ranks, at most: the newest that hold its rarest word.
    pub search_candidates_max: usize,
    /// Tracing filter, e.g. `info` or `parrhesia=debug`.
    pub log: String,
    /// `text` (human-readable lines) or `json` (one JSON object per line) on standard error.
    pub log_format: LogFormat,

    /// NIP-11 `name`.
    pub relay_name: String,
    /// NIP-11 `description`.
    pub relay_description: String,
    /// NIP-11 `contact`, e.g. "mailto:admin@example.com".
    pub relay_contact: Option<String>,
    /// NIP-11 `pubkey`: the operator's public key, 64 hex.
    pub relay_pubkey: Option<String>,
    /// The relay's own Nostr key: a file holding its secret key, 64 hex or `nsec1...`, readable
    /// by its owner only (`parrhesia-tools keygen --nostr --out FILE` makes one). Its public
    /// key is NIP-11 `self` (and `pubkey` when `relay_pubkey` is not set). Every node of a
    /// cluster uses the same relay key (one relay), distinct from their node keys.
    pub relay_key_file: Option<String>,
    /// The relay's own URL, e.g. "wss://relay.example.com"; NIP-62 requests naming it apply here.
    pub relay_url: Option<String>,

    /// Largest WebSocket message accepted, in bytes (NIP-11 `max_message_length`).
    pub frame_bytes_max: usize,
    /// Largest event accepted, in bytes of its JSON.
    pub event_bytes_max: usize,
    /// Longest subscription id, in bytes (NIP-11 `max_subid_length`).
    pub subscription_id_bytes_max: usize,
    /// Most filters in one REQ or COUNT (NIP-11 `max_filters`).
    pub filters_per_req_max: usize,
    /// Most open subscriptions per connection (NIP-11 `max_subscriptions`).
    pub subscriptions_per_connection_max: usize,
    /// Most tags on one event (NIP-11 `max_event_tags`).
    pub tags_per_event_max: usize,
    /// Most values in one filter field (ids, authors, kinds, one tag).
    pub values_per_filter_field_max: usize,
    /// How far in the future created_at may be, in seconds (NIP-11 `created_at_upper_limit`).
    pub created_at_future_seconds_max: u64,
    /// Largest `limit` honoured (larger ones are clamped); also the limit of a filter without one.
    pub filter_limit_max: u64,
    /// Events dated more than this many seconds in the past are refused (NIP-11
    /// `created_at_lower_limit`); 0 accepts any age.
    pub created_at_past_seconds_max: u64,
    /// NIP-13: the fewest leading zero bits an event id needs (and the target its `nonce` tag
    /// commits to, if any), else `pow:`; 0 asks for none (NIP-11 `min_pow_difficulty`).
    pub min_pow_difficulty: u32,

    /// Most WebSocket connections held at once (split evenly across shards); 0 derives it from
    /// the open-file limit, keeping 1024 files in reserve. Over it, sockets get 503 and close.
    pub connections_max: usize,
    /// Per-connection outbound queue bound, in bytes.
    pub outbound_bytes_max: usize,
    /// What happens to live events beyond the bound: `close`, `drop_oldest` or `drop_newest`.
    pub outbound_overflow: OverflowPolicy,
    /// Milliseconds a connection holds a live event before writing it, so that the events
    /// arriving meanwhile leave in the same write: fewer sends per delivery (the relay's main
    /// cost in fanout) for that much more latency. Replies queued behind a held event wait with
    /// it; REQ results and replies to an idle connection go at once. 0 (the default): at once.
    pub delivery_linger_ms: u64,
    /// NIP-42: `none`, `writes` or `all`; refused requests get `auth-required:` and the
    /// challenge again (NIP-11 `auth_required`). Set `relay_url` so AUTH events are checked
    /// against it (without it any `relay` tag is taken).
    pub auth_required: AuthRequired,
    /// Send `["AUTH", challenge]` as soon as a client connects; false (the default): only
    /// when a request needs it (an `auth-required:` answer), so clients that never
    /// authenticate are not prompted.
    pub auth_challenge_on_connect: bool,
    /// An AUTH event's created_at must be within this many seconds of now.
    pub auth_window_seconds: u64,
    /// Pubkeys one connection may authenticate as.
    pub auth_pubkeys_max: usize,
    /// Kinds served only to their author or a `p`-tagged recipient, authenticated (NIP-42):
    /// NIP-04 direct messages and NIP-59 gift wraps (NIP-17). A REQ, COUNT or NEG-OPEN naming
    /// one of them without AUTH is answered `auth-required:`; every other read (and live
    /// delivery) leaves out what its reader may not see. Empty: every kind is public.
    pub read_restricted_kinds: Vec<u16>,
    /// Pubkeys (64 hex) allowed to call the NIP-86 management API (`POST /` with
    /// `Content-Type: application/nostr+json+rpc` and a NIP-98 `Authorization` header; see
    /// `parrhesia-tools admin`). Empty: every call is refused.
    pub admin_pubkeys: Vec<String>,
    /// Largest management request body, in bytes (413 above it).
    pub management_body_bytes_max: usize,
    /// A NIP-98 authorization's created_at must be within this many seconds of now; each one
    /// is taken once.
    pub management_auth_window_seconds: u64,
    /// Rate limits, each "PER_SECOND/BURST" ("20/100": 20 a second, bursts of 100), empty for
    /// none; a request over one gets `rate-limited:` naming it (OK false for EVENT, CLOSED for
    /// REQ and COUNT). Limits per address (IPv4, or IPv6 /64), per pubkey and relay-wide are
    /// node-wide, split evenly across shards. This one: EVENTs per connection.
    pub rate_event_connection: String,
    /// EVENTs per client address.
    pub rate_event_address: String,
    /// EVENTs per authenticated pubkey (NIP-42; connections that did not authenticate are not
    /// counted here).
    pub rate_event_pubkey: String,
    /// EVENTs relay-wide.
    pub rate_event_relay: String,
    /// REQs (and NEG-OPENs) per connection.
    pub rate_req_connection: String,
    /// REQs (and NEG-OPENs) per client address.
    pub rate_req_address: String,
    /// REQs (and NEG-OPENs) per authenticated pubkey.
    pub rate_req_pubkey: String,
    /// REQs relay-wide.
    pub rate_req_relay: String,
    /// COUNTs per connection.
    pub rate_count_connection: String,
    /// COUNTs per client address.
    pub rate_count_address: String,
    /// COUNTs per authenticated pubkey.
    pub rate_count_pubkey: String,
    /// COUNTs relay-wide.
    pub rate_count_relay: String,
    /// New connections per client address (over it, the socket is closed at once).
    pub rate_connect_address: String,
    /// A connection refused this many requests in a row by rate limits is closed (1008); 0
    /// never closes.
    pub rate_limit_strikes_max: u32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` (its last address) or `X-Real-IP`
    /// names the client; from any other peer those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// Largest HTTP request head, in bytes.
    pub http_head_bytes_max: usize,
    /// Accept permessage-deflate (RFC 7692) when a client offers it: compressed client
    /// messages are inflated (bounded by twice frame_bytes_max), live events and replies of at
    /// least deflate_threshold_bytes go out compressed. Every message on its own (no context
    /// takeover), so a connection holds no compression state; a live event is compressed once
    /// per shard, whatever the number of subscribers.
    pub deflate: bool,
    /// Smaller messages go out uncompressed (they would barely shrink), in bytes.
    pub deflate_threshold_bytes: usize,
    /// zlib level, 1 to 9. Level 1 of the zlib-rs backend uses fixed Huffman codes only
    /// (measured on the bench's mix: 0.82 of the size); 2 is the first with dynamic codes (0.56).
    pub deflate_level: u32,
    /// Also compress stored events sent by REQ (scan and catch-up), each as it is written:
    /// measured here as about four times the CPU per event served, so off by default.
    pub deflate_stored_events: bool,
    /// host:port of a separate listener for `GET /metrics`; when set, the relay's port no
    /// longer serves metrics (so they need not be public). Unset: metrics on `listen`.
    pub metrics_listen: Option<String>,
    /// Time a new socket has to send its request head, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// WebSocket ping interval, in seconds.
    pub ping_interval_seconds: u64,
    /// A connection that has not answered a ping for this long is closed, in seconds.
    pub pong_timeout_seconds: u64,
    /// A connection with no subscription that sends nothing for this long is closed, in seconds.
    pub idle_timeout_seconds: u64,
    /// How long a closing connection may take to deliver its last frames, in seconds.
    pub close_drain_timeout_seconds: u64,

    /// Most events one group commit holds.
    pub writer_batch_events_max: usize,
    /// Capacity of each shard's queue to the writer, in events.
    pub writer_queue_events_max: usize,
    /// Capacity of each cross-shard channel, in messages.
    pub shard_channel_messages_max: usize,
    /// One scan slice examines at most this many index entries...
    pub scan_budget_candidates_max: usize,
    /// ...and runs at most this long, in microseconds; then the shard serves others.
    pub scan_budget_us: u64,
    /// Expired events (NIP-40) are swept this often, in seconds.
    pub expiration_sweep_interval_seconds: u64,
    /// A write-policy plugin, strfry's protocol (README "Write-policy plugins"): a path to an
    /// executable (restarted when the file changes) or a shell command. Every client event
    /// that passes the relay's own checks is put to it; each shard runs its own process.
    pub write_policy_plugin: Option<String>,
    /// How long the plugin may take to answer, in milliseconds; past it, it is killed and
    /// the event refused with `error:`.
    pub write_policy_timeout_ms: u64,
    /// Requests one shard's plugin may hold at once; past it, events get `rate-limited:`.
    pub write_policy_queue_max: usize,
    /// NIP-43 membership: members join with an invite claim (kind 28934) and leave (28936),
    /// members and admins ask for invites (a REQ for kind 28935), and the relay publishes its
    /// member list (13534) and each change (8000, 8001) signed by its key (`relay_key_file`,
    /// required).
    pub nip43: bool,
    /// `all`, or `members`: only NIP-43 members (and the relay itself) may publish.
    pub write_access: String,
    /// How long an invite's claim stays good, in seconds (it may be used until then).
    pub invite_ttl_seconds: u64,
    /// NIP-66: probe the relay's own listener this often, in seconds, and publish the result
    /// as a kind 30166 event for `relay_url` (and a 10166 announcement), signed by the relay
    /// key (`relay_key_file`, required, as is `relay_url`); 0 (the default): off.
    pub monitor_interval_seconds: u64,
    /// Retention: stored events older than this many seconds are removed while the relay runs
    /// (kinds that `retention_kinds` names follow their own rule); 0 keeps them forever.
    pub retention_max_age_seconds: u64,
    /// Per-kind retention, each "KINDS:SECONDS" (or "KINDS:forever"), KINDS a list of kinds
    /// and ranges: e.g. ["1, 7:2592000", "30000-39999:31536000", "4, 1059:forever"]. The first
    /// entry naming a kind decides it.
    pub retention_kinds: Vec<String>,
    /// `retention_max_age_seconds` leaves replaceable and addressable events alone (the store
    /// holds only the latest of each: profiles, contact lists, relay lists); a kind named in
    /// `retention_kinds` follows its rule anyway.
    pub retention_keep_replaceable: bool,
    /// Pubkeys (64 hex) whose events retention never removes.
    pub retention_protected_pubkeys: Vec<String>,
    /// Size budget, in bytes of the store in use (`parrhesia_store_map_used_bytes`); 0: none.
    /// Past it the oldest events go first (not those of protected authors, kinds kept
    /// `forever`, or kept replaceable events) until the store is back under the low-water mark.
    /// Checked every second; LMDB reuses the freed pages, so the data file stops growing
    /// near the budget (it never shrinks by itself: see `parrhesia-tools compact`).
    pub store_bytes_max: u64,
    /// The low-water mark, in percent of `store_bytes_max`.
    pub store_bytes_low_water_percent: u64,
    /// A retention pass starts this often, in seconds; it walks the events older than the
    /// shortest age, oldest first, in small paced slices between the writer's commits.
    pub retention_interval_seconds: u64,
    /// NIP-77 negentropy: sessions one connection may hold (or be opening) at once.
    pub negentropy_sessions_max: usize,
    /// Events one negentropy session may cover; a NEG-OPEN whose filter matches more is
    /// refused with `NEG-ERR blocked:` (as strfry does past its maximum).
    pub negentropy_items_max: usize,
    /// Largest negentropy message this relay sends, in bytes before hex (at least 4096; the
    /// protocol splits the rest over more rounds). Clients must accept twice this in a frame.
    pub negentropy_message_bytes_max: usize,
    /// A negentropy session without a message for this long is closed, in seconds.
    pub negentropy_idle_timeout_seconds: u64,

    /// The `[cluster]` table; absent, the relay runs single-node.
    pub cluster: Option<ClusterConfig>,
    /// `[[mirror]]` tables: other relays mirrored (README "Mirroring other relays").
    pub mirror: Vec<MirrorConfig>,
}

impl Default for Config {
    fn default() -> Config {
        let limits = Limits::default();
        Config {
            listen: "127.0.0.1:7777".into(),
            data_dir: PathBuf::from("./parrhesia-data"),
            shards: 0,
            durability: DurabilitySetting::Fsync,
            flush_interval_ms: 1000,
            map_bytes_max: 1 << 40,
            search_kinds: parrhesia_storage::search::DEFAULT_SEARCH_KINDS.to_vec(),
            search_candidates_max: 1024,
            log: "info".into(),
            log_format: LogFormat::Text,
            relay_name: "parrhesia".into(),
            relay_description: "A Parrhesia relay".into(),
            relay_contact: None,
            relay_pubkey: None,
            relay_key_file: None,
            relay_url: None,
            frame_bytes_max: limits.frame_bytes_max,
            event_bytes_max: limits.event_bytes_max,
            subscription_id_bytes_max: limits.subscription_id_bytes_max,
            filters_per_req_max: limits.filters_per_req_max,
            subscriptions_per_connection_max: limits.subscriptions_per_connection_max,
            tags_per_event_max: limits.tags_per_event_max,
            values_per_filter_field_max: limits.values_per_filter_field_max,
            created_at_future_seconds_max: limits.created_at_future_seconds_max,
            filter_limit_max: limits.filter_limit_max,
            created_at_past_seconds_max: limits.created_at_past_seconds_max,
            min_pow_difficulty: limits.min_pow_difficulty,
            connections_max: 0,
            outbound_bytes_max: 4 * 1024 * 1024,
            outbound_overflow: OverflowPolicy::Close,
            delivery_linger_ms: 0,
            auth_required: AuthRequired::None,
            auth_challenge_on_connect: false,
            auth_window_seconds: 600,
            auth_pubkeys_max: 16,
            read_restricted_kinds: parrhesia_engine::access::DEFAULT_RESTRICTED_KINDS.to_vec(),
            admin_pubkeys: Vec::new(),
            management_body_bytes_max: 64 * 1024,
            management_auth_window_seconds: 60,
            rate_event_connection: String::new(),
            rate_event_address: String::new(),
            rate_event_pubkey: String::new(),
            rate_event_relay: String::new(),
            rate_req_connection: String::new(),
            rate_req_address: String::new(),
            rate_req_pubkey: String::new(),
            rate_req_relay: String::new(),
            rate_count_connection: String::new(),
            rate_count_address: String::new(),
            rate_count_pubkey: String::new(),
            rate_count_relay: String::new(),
            rate_connect_address: String::new(),
            rate_limit_strikes_max: 50,
            trusted_proxies: Vec::new(),
            http_head_bytes_max: 8 * 1024,
            metrics_listen: None,
            deflate: true,
            deflate_threshold_bytes: 256,
            deflate_level: 2,
            deflate_stored_events: false,
            handshake_timeout_ms: 10_000,
            ping_interval_seconds: 30,
            pong_timeout_seconds: 10,
            idle_timeout_seconds: 600,
            close_drain_timeout_seconds: 30,
            writer_batch_events_max: 1000,
            writer_queue_events_max: 4096,
            shard_channel_messages_max: 1024,
            scan_budget_candidates_max: 2048,
            scan_budget_us: 2000,
            expiration_sweep_interval_seconds: 60,
            write_policy_plugin: None,
            write_policy_timeout_ms: 2000,
            write_policy_queue_max: 1024,
            nip43: false,
            write_access: "all".into(),
            invite_ttl_seconds: 900,
            monitor_interval_seconds: 0,
            retention_max_age_seconds: 0,
            retention_kinds: Vec::new(),
            retention_keep_replaceable: true,
            retention_protected_pubkeys: Vec::new(),
            retention_interval_seconds: 600,
            store_bytes_max: 0,
            store_bytes_low_water_percent: 90,
            negentropy_sessions_max: 4,
            negentropy_items_max: 1_000_000,
            negentropy_message_bytes_max: 256 * 1024,
            negentropy_idle_timeout_seconds: 300,
            cluster: None,
            mirror: Vec::new(),
        }
    }
}

/// Every key with its default and its doc comment, as TOML: what `parrhesia --print-config`
/// prints and the README's sample shows (a test keeps the two equal). Optional keys without a
/// default, and the whole `[cluster]` table, are commented out.
pub fn print_config() -> String {
    let mut out = String::from(
        "# parrhesia.toml: every key with its default. Later layers win: this file (--config),\n\
         # PARRHESIA_<KEY> environment variables, flags (--set KEY=VALUE).\n",
    );
    let defaults = toml::Table::try_from(Config::default()).expect("the defaults serialize");
    for (name, docs) in Config::FIELD_NAMES.iter().zip(Config::FIELD_DOCS) {
        if *name != "cluster" && *name != "mirror" {
            write_key(&mut out, name, docs, defaults.get(*name), "");
        }
    }
    out.push_str("\n# [cluster]: set node_key_file, listen and cluster_id to run as a cluster node.\n# [cluster]\n");
    let cluster = toml::Table::try_from(ClusterConfig::default()).expect("the defaults serialize");
    for (name, docs) in ClusterConfig::FIELD_NAMES.iter().zip(ClusterConfig::FIELD_DOCS) {
        write_key(&mut out, name, docs, cluster.get(*name), "# ");
    }
    out.push_str("\n# [[mirror]]: another relay mirrored (this file only; one table per mirror).\n# [[mirror]]\n");
    let mirror = toml::Table::try_from(MirrorConfig::default()).expect("the defaults serialize");
    for (name, docs) in MirrorConfig::FIELD_NAMES.iter().zip(MirrorConfig::FIELD_DOCS) {
        write_key(&mut out, name, docs, mirror.get(*name), "# ");
    }
    out
}

fn write_key(out: &mut String, name: &str, docs: &str, value: Option<&toml::Value>, prefix: &str) {
    out.push('\n');
    for line in docs.lines() {
        out.push_str(&format!("# {}\n", line.trim()).replace("# \n", "#\n"));
    }
    match value {
        Some(value) => out.push_str(&format!("{prefix}{name} = {value}\n")),
        None => out.push_str(&format!("# {name} =\n")),
    }
}

impl Config {
    /// Builds the configuration from its layers. `file` is the `--config` path, `environment`
    /// the process environment, `flags` the `key=value` pairs from the command line.
    pub fn load(
        file: Option<&std::path::Path>,
        environment: impl IntoIterator<Item = (String, String)>,
        flags: &[(String, String)],
    ) -> anyhow::Result<Config> {
        let mut layers =
            Layers { table: toml::Table::try_from(Config::default()).context("default configuration")?, cluster: None };
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let file_table: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            let source = format!("{}", path.display());
            for (key, value) in file_table {
                match (key.as_str(), value) {
                    ("cluster", toml::Value::Table(cluster)) => {
                        for (key, value) in cluster {
                            layers.set(&format!("cluster.{key}"), Given::Typed(value), &source)?;
                        }
                    }
                    (_, value) => layers.set(&key, Given::Typed(value), &source)?,
                }
            }
        }
        for (name, text) in environment {
            if let Some(key) = name.strip_prefix("PARRHESIA_") {
                let mut key = key.to_ascii_lowercase();
                if let Some(cluster_key) = key.strip_prefix("cluster_") {
                    key = format!("cluster.{cluster_key}");
                }
                layers.set(&key, Given::Text(&text), &format!("environment variable {name}"))?;
            }
        }
        for (key, text) in flags {
            layers.set(key, Given::Text(text), &format!("flag for {key}"))?;
        }
        let Layers { mut table, cluster } = layers;
        if let Some(cluster) = cluster {
            table.insert("cluster".into(), toml::Value::Table(cluster));
        }
        let config: Config = table.try_into().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let positive = [
            ("frame_bytes_max", self.frame_bytes_max),
            ("event_bytes_max", self.event_bytes_max),
            ("subscription_id_bytes_max", self.subscription_id_bytes_max),
            ("filters_per_req_max", self.filters_per_req_max),
            ("subscriptions_per_connection_max", self.subscriptions_per_connection_max),
            ("outbound_bytes_max", self.outbound_bytes_max),
            ("http_head_bytes_max", self.http_head_bytes_max),
            ("writer_batch_events_max", self.writer_batch_events_max),
            ("writer_queue_events_max", self.writer_queue_events_max),
            ("shard_channel_messages_max", self.shard_channel_messages_max),
            ("scan_budget_candidates_max", self.scan_budget_candidates_max),
            ("management_body_bytes_max", self.management_body_bytes_max),
            ("search_candidates_max", self.search_candidates_max),
        ];
        for (key, value) in positive {
            if value == 0 {
                bail!("configuration key `{key}` must be greater than 0");
            }
        }
        if self.event_bytes_max > self.frame_bytes_max {
            bail!("configuration key `event_bytes_max` must not exceed `frame_bytes_max`");
        }
        // The negentropy crate's smallest frame limit.
        if self.negentropy_message_bytes_max < 4096 {
            bail!("configuration key `negentropy_message_bytes_max` must be at least 4096");
        }
        if let Some(pubkey) = &self.relay_pubkey
            && parrhesia_engine::hex::decode_array::<32>(pubkey).is_none()
        {
            bail!("configuration key `relay_pubkey` must be 64 lowercase hex characters");
        }
        self.rate_limits()?;
        self.trusted_proxy_addresses()?;
        self.retention()?;
        if self.nip43 && self.relay_key_file.is_none() {
            bail!("configuration key `nip43` needs `relay_key_file` (the relay signs its member list)");
        }
        match self.write_access.as_str() {
            "all" => {}
            "members" if self.nip43 => {}
            "members" => bail!("configuration key `write_access = \"members\"` needs `nip43 = true`"),
            other => bail!("configuration key `write_access`: {other:?} is not `all` or `members`"),
        }
        if self.monitor_interval_seconds > 0 && (self.relay_key_file.is_none() || self.relay_url.is_none()) {
            bail!(
                "configuration key `monitor_interval_seconds` needs `relay_key_file` (it signs) and `relay_url` (it names)"
            );
        }
        self.relay_key()?;
        if self.retention_interval_seconds == 0 {
            bail!("configuration key `retention_interval_seconds` must be greater than 0");
        }
        if self.write_policy_timeout_ms == 0 || self.write_policy_queue_max == 0 {
            bail!("configuration keys `write_policy_timeout_ms` and `write_policy_queue_max` must be greater than 0");
        }
        if self.write_policy_timeout_ms > 3_600_000 {
            bail!("configuration key `write_policy_timeout_ms` must be at most 3600000 (an hour)");
        }
        if !(1..=99).contains(&self.store_bytes_low_water_percent) {
            bail!("configuration key `store_bytes_low_water_percent` must be between 1 and 99");
        }
        for admin in &self.admin_pubkeys {
            if parrhesia_engine::hex::decode_array::<32>(admin).is_none() {
                bail!("configuration key `admin_pubkeys`: {admin:?} is not 64 lowercase hex characters");
            }
        }
        if let Some(cluster) = &self.cluster {
            cluster.validate()?;
        }
        MirrorConfig::validate(&self.mirror)?;
        Ok(())
    }

    /// The rate limits, node-wide (`RateLimits::share` gives a shard its part).
    pub fn rate_limits(&self) -> anyhow::Result<crate::rate::RateLimits> {
        let rate = |key: &str, text: &str| parse_rate(text).with_context(|| format!("configuration key `{key}`"));
        Ok(crate::rate::RateLimits {
            connection: [
                rate("rate_event_connection", &self.rate_event_connection)?,
                rate("rate_req_connection", &self.rate_req_connection)?,
                rate("rate_count_connection", &self.rate_count_connection)?,
            ],
            address: [
                rate("rate_event_address", &self.rate_event_address)?,
                rate("rate_req_address", &self.rate_req_address)?,
                rate("rate_count_address", &self.rate_count_address)?,
            ],
            pubkey: [
                rate("rate_event_pubkey", &self.rate_event_pubkey)?,
                rate("rate_req_pubkey", &self.rate_req_pubkey)?,
                rate("rate_count_pubkey", &self.rate_count_pubkey)?,
            ],
            relay: [
                rate("rate_event_relay", &self.rate_event_relay)?,
                rate("rate_req_relay", &self.rate_req_relay)?,
                rate("rate_count_relay", &self.rate_count_relay)?,
            ],
            connect_address: rate("rate_connect_address", &self.rate_connect_address)?,
        })
    }

    /// The relay's own key (`relay_key_file`), read and checked: refused if others may read
    /// the file or it holds no valid secret key.
    pub fn relay_key(&self) -> anyhow::Result<Option<parrhesia_engine::Keys>> {
        let Some(path) = &self.relay_key_file else { return Ok(None) };
        let context = || format!("configuration key `relay_key_file`: {path}");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).with_context(context)?.permissions());
        if mode & 0o077 != 0 {
            bail!(
                "configuration key `relay_key_file`: {path} may be read by others (mode {:o}); chmod 600 it",
                mode & 0o777
            );
        }
        let text = std::fs::read_to_string(path).with_context(context)?;
        let keys = parrhesia_engine::Keys::from_secret_text(&text).with_context(|| {
            format!("configuration key `relay_key_file`: {path} holds no secret key (64 hex or nsec1...)")
        })?;
        Ok(Some(keys))
    }

    /// The retention rules (`retention_*`).
    pub fn retention(&self) -> anyhow::Result<parrhesia_engine::retention::Retention> {
        let kinds = self
            .retention_kinds
            .iter()
            .map(|rule| {
                parrhesia_engine::retention::KindRule::parse(rule)
                    .map_err(|why| anyhow::anyhow!("configuration key `retention_kinds`: {why}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let protected = self
            .retention_protected_pubkeys
            .iter()
            .map(|key| {
                parrhesia_engine::hex::decode_array::<32>(key).with_context(|| {
                    format!(
                        "configuration key `retention_protected_pubkeys`: {key:?} is not 64 lowercase hex characters"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let mut protected: std::collections::BTreeSet<[u8; 32]> = protected;
        // The relay's own events (its NIP-43 membership, its NIP-66 reports) are never removed:
        // its members are what they say.
        if let Ok(Some(keys)) = self.relay_key() {
            protected.insert(*keys.public_key());
        }
        Ok(parrhesia_engine::retention::Retention {
            default_age: (self.retention_max_age_seconds > 0).then_some(self.retention_max_age_seconds),
            kinds,
            keep_replaceable: self.retention_keep_replaceable,
            protected,
        })
    }

    pub fn trusted_proxy_addresses(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .iter()
            .map(|text| {
                let address: std::net::IpAddr = text
                    .trim()
                    .parse()
                    .with_context(|| format!("configuration key `trusted_proxies`: {text:?} is not an IP address"))?;
                Ok(parrhesia_engine::policy::ip_key(address))
            })
            .collect()
    }

    pub fn admin_keys(&self) -> Vec<[u8; 32]> {
        self.admin_pubkeys.iter().filter_map(|admin| parrhesia_engine::hex::decode_array::<32>(admin)).collect()
    }

    /// The engine limits this configuration sets.
    pub fn limits(&self) -> Limits {
        Limits {
            frame_bytes_max: self.frame_bytes_max,
            event_bytes_max: self.event_bytes_max,
            subscription_id_bytes_max: self.subscription_id_bytes_max,
            filters_per_req_max: self.filters_per_req_max,
            subscriptions_per_connection_max: self.subscriptions_per_connection_max,
            tags_per_event_max: self.tags_per_event_max,
            values_per_filter_field_max: self.values_per_filter_field_max,
            created_at_future_seconds_max: self.created_at_future_seconds_max,
            filter_limit_max: self.filter_limit_max,
            created_at_past_seconds_max: self.created_at_past_seconds_max,
            min_pow_difficulty: self.min_pow_difficulty,
        }
    }
}

/// A value from one layer: typed (TOML) or text (environment, flags).
enum Given<'a> {
    Typed(toml::Value),
    Text(&'a str),
}

/// The merged layers: the top-level table, and the `[cluster]` table once any layer sets a
/// cluster key (its presence is what turns clustering on).
struct Layers {
    table: toml::Table,
    cluster: Option<toml::Table>,
}

impl Layers {
    /// Sets `key` (`name` or `cluster.name`), refusing keys the schema does not have.
    fn set(&mut self, key: &str, value: Given, source: &str) -> anyhow::Result<()> {
        const OPTIONAL: [&str; 6] =
            ["relay_contact", "relay_pubkey", "relay_key_file", "relay_url", "metrics_listen", "write_policy_plugin"];
        const CLUSTER_OPTIONAL: [&str; 1] = ["advertise"];
        let (table, name, optional) = match key.strip_prefix("cluster.") {
            Some(name) => {
                let defaults = || toml::Table::try_from(ClusterConfig::default()).expect("the defaults serialize");
                (self.cluster.get_or_insert_with(defaults), name, &CLUSTER_OPTIONAL[..])
            }
            None => (&mut self.table, key, &OPTIONAL[..]),
        };
        if (!table.contains_key(name) && !optional.contains(&name)) || name == "cluster" {
            bail!("unknown configuration key `{key}` (from {source})");
        }
        if name == "mirror" && matches!(value, Given::Text(_)) {
            bail!(
                "configuration key `mirror` is set in the configuration file only, as [[mirror]] tables (from {source})"
            );
        }
        let value = match value {
            Given::Typed(value) => value,
            Given::Text(text) => typed_like(table, name, text),
        };
        table.insert(name.to_string(), value);
        Ok(())
    }
}

/// A value given as text (environment, flags), typed like the key's default: integers and
/// booleans are parsed when the default is one (text that does not parse stays text, and the
/// schema then refuses it naming the key), lists split on commas (integers when the default list holds integers); everything else stays a
/// string.
fn typed_like(table: &toml::Table, key: &str, text: &str) -> toml::Value {
    match table.get(key) {
        Some(toml::Value::Integer(_)) => {
            text.parse().map_or_else(|_| toml::Value::String(text.into()), toml::Value::Integer)
        }
        Some(toml::Value::Boolean(_)) => {
            text.parse().map_or_else(|_| toml::Value::String(text.into()), toml::Value::Boolean)
        }
        Some(toml::Value::Array(default)) => {
            let integers = matches!(default.first(), Some(toml::Value::Integer(_)));
            toml::Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| match item.parse() {
                        Ok(integer) if integers => toml::Value::Integer(integer),
                        _ => toml::Value::String(item.into()),
                    })
                    .collect(),
            )
        }
        _ => toml::Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests;
