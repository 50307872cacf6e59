//! The NIP-11 document: as configured, and as the operator's policy (NIP-86) reshapes it.

use parrhesia_net::{Limitation, RelayInfo};

use crate::config::Config;

/// The NIPs this relay serves, as NIP-11 lists them (ascending).
pub const SUPPORTED_NIPS: [u16; 11] = [1, 9, 11, 13, 40, 42, 45, 50, 62, 70, 77];

/// The document as configured (NIP-11).
pub fn relay_info(config: &Config) -> RelayInfo {
    let mut supported_nips = SUPPORTED_NIPS.to_vec();
    // NIP-17/59: gift wraps served only to their recipient, authenticated.
    if config.read_restricted_kinds.contains(&1059) {
        supported_nips.extend([17, 59]);
    }
    if !config.admin_pubkeys.is_empty() {
        supported_nips.extend([86, 98]);
    }
    if config.monitor_interval_seconds > 0 {
        supported_nips.push(66);
    }
    if config.nip43 {
        supported_nips.push(43);
    }
    supported_nips.sort_unstable();
    // Loaded and checked when the configuration loaded.
    let own = config.relay_key().ok().flatten().map(|keys| parrhesia_engine::hex::encode(keys.public_key()));
    RelayInfo {
        name: config.relay_name.clone(),
        description: config.relay_description.clone(),
        icon: None,
        pubkey: config.relay_pubkey.clone().or_else(|| own.clone()),
        self_pubkey: own,
        contact: config.relay_contact.clone(),
        software: "https://github.com/parrhesia/parrhesia-rs".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        supported_nips,
        limitation: Limitation {
            auth_required: config.auth_required != crate::config::AuthRequired::None,
            restricted_writes: config.write_access == "members",
            ..Limitation::from_limits(&config.limits())
        },
        retention: config.retention().ok().filter(|retention| !retention.is_off()).map(|retention| retention.nip11()),
    }
}

/// The NIP-11 document as the operator's policy shapes it: a name, description or icon set
/// through NIP-86 replaces the configured one; allow-lists make writes restricted.
pub fn relay_info_json(base: &RelayInfo, policy: &parrhesia_engine::policy::Policy) -> String {
    let mut info = base.clone();
    if let Some(name) = &policy.relay_name {
        info.name = name.clone();
    }
    if let Some(description) = &policy.relay_description {
        info.description = description.clone();
    }
    if let Some(icon) = &policy.relay_icon {
        info.icon = Some(icon.clone());
    }
    info.limitation.restricted_writes |= !policy.allowed_pubkeys.is_empty() || !policy.allowed_kinds.is_empty();
    info.to_json()
}
