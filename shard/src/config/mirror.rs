//! `[[mirror]]` tables: other relays this one mirrors, each a name, its remote URLs (a stream
//! each), a direction and a NIP-01 filter. Set in the configuration file only.

use anyhow::bail;
use documented::DocumentedFields;
use serde::{Deserialize, Serialize};

/// `[[mirror]]`: one or more remote relays this relay mirrors, with one filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, DocumentedFields)]
#[serde(deny_unknown_fields, default)]
pub struct MirrorConfig {
    /// Names the mirror in metrics, logs and its progress files (letters, digits, `-`, `_`).
    /// Required.
    pub name: String,
    /// The remote relays (`wss://host/path` or `ws://host:port`), each mirrored by a stream
    /// of its own. Required.
    pub urls: Vec<String>,
    /// `down`: the remote's events matching the filter are fetched (caught up first, then
    /// live) and taken as a client's would be (sourceType "Stream" to the write-policy plugin).
    /// `up`: this relay's events matching the filter are published to the remote, from a
    /// cursor kept across restarts. `both`: both, never sending back what came from it.
    pub dir: MirrorDirection,
    /// The NIP-01 filter of what is mirrored, as JSON (its `limit` is ignored).
    pub filter: String,
    /// How far back a stream's first catch-up reaches, in seconds (0: everything the remote
    /// holds), and the oldest events its first run publishes up. A stream resumes where it
    /// stopped (down: less 10 minutes), whatever this says.
    pub catch_up_seconds: u64,
    /// A write-policy plugin of this mirror's own (strfry's protocol, as `write_policy_plugin`;
    /// one process per stream): asked about every event received (sourceType "Stream", after
    /// the relay's own plugin) and every event about to be published up (sourceType "Stored";
    /// what it rejects is not published).
    pub plugin: Option<String>,
    /// PEM certificates trusted for this mirror's `wss://` URLs instead of the built-in roots
    /// (Mozilla's): a private relay's own certificate authority.
    pub ca_file: Option<String>,
}

impl Default for MirrorConfig {
    fn default() -> MirrorConfig {
        MirrorConfig {
            name: String::new(),
            urls: Vec::new(),
            dir: MirrorDirection::Down,
            filter: "{}".into(),
            catch_up_seconds: 7 * 86_400,
            ca_file: None,
            plugin: None,
        }
    }
}

/// `mirror.dir`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MirrorDirection {
    Down,
    Up,
    Both,
}

impl MirrorDirection {
    pub fn down(self) -> bool {
        self != MirrorDirection::Up
    }

    pub fn up(self) -> bool {
        self != MirrorDirection::Down
    }
}

impl MirrorConfig {
    /// The filter, decoded (its `limit` dropped).
    pub fn decoded_filter(&self) -> anyhow::Result<parrhesia_engine::Filter> {
        let mut filter = parrhesia_engine::Filter::parse(&self.filter, &parrhesia_engine::Limits::default())
            .map_err(|reason| anyhow::anyhow!("configuration key `mirror.filter` of `{}`: {reason}", self.name))?;
        filter.limit = None;
        Ok(filter)
    }

    pub(super) fn validate(mirrors: &[MirrorConfig]) -> anyhow::Result<()> {
        for (index, mirror) in mirrors.iter().enumerate() {
            let name = &mirror.name;
            let valid_name = |name: &str| {
                !name.is_empty()
                    && name.len() <= 64
                    && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
            };
            if !valid_name(name) {
                bail!("configuration key `mirror.name` ({name:?}): 1 to 64 letters, digits, `-` or `_`");
            }
            if mirrors[..index].iter().any(|other| &other.name == name) {
                bail!("configuration key `mirror.name`: two mirrors are named {name:?}");
            }
            if mirror.urls.is_empty() {
                bail!("configuration key `mirror.urls` of `{name}` must list at least one URL");
            }
            for (position, url) in mirror.urls.iter().enumerate() {
                if let Err(error) = parrhesia_net::relay_client::remote(url) {
                    bail!("configuration key `mirror.urls` of `{name}`: {error}");
                }
                if mirror.urls[..position].contains(url) {
                    bail!("configuration key `mirror.urls` of `{name}` lists {url} twice");
                }
            }
            if let Some(path) = &mirror.ca_file
                && let Err(error) = std::fs::metadata(path)
            {
                bail!("configuration key `mirror.ca_file` of `{name}`: {path}: {error}");
            }
            mirror.decoded_filter()?;
        }
        Ok(())
    }
}
