//! Event ids for messages whose producer did not send one.
//!
//! The inbox deduplicates by event id, so a message without `event_id` still needs one that
//! is the same on every redelivery. The broker's message id is that stable fact; the id is a
//! name-based UUID of (topic, message id).
//!
//! RFC 9562's name-based versions need SHA-1 or MD5 (uuid's `v5`/`v3` features, not enabled
//! here). Collisions only have to be improbable, nobody forges them, so a hash written here is
//! enough: 128-bit FNV-1a followed by a bijective mixer, stored as a version 8 ("custom") UUID.
//! The output is part of the stored data (processed-event ids): never change the algorithm or
//! the namespace without a migration.
//!
//! Recipe, for reimplementing it elsewhere: FNV-1a 128 (offset basis and prime of the FNV
//! spec) over `alpes-partners/derived-event-id/v1`, NUL, the topic's full name, NUL, the
//! message id (UTF-8); then `h ^= h >> 67; h *= MIX_1; h ^= h >> 59; h *= MIX_2; h ^= h >> 64`
//! (wrapping, mod 2^128); big-endian bytes, with version 8 and variant `10` set as in
//! RFC 9562.

use uuid::{Builder, Uuid};

use super::topic::Topic;

/// Keeps these ids apart from any other use of the same hash.
const NAMESPACE: &[u8] = b"alpes-partners/derived-event-id/v1";

const FNV_OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// Odd multipliers for the final mix (digits of the golden ratio and of pi); any odd
/// constant keeps the mix a bijection.
const MIX_1: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
const MIX_2: u128 = 0x243f_6a88_85a3_08d3_1319_8a2e_0370_7345;

/// The event id of a message that carries none: the same for the same topic and broker
/// message id, different for any other pair.
pub fn derived_event_id(topic: Topic, message_id: &str) -> Uuid {
    // NUL-separated, and no topic name contains NUL, so no two (topic, message id) pairs
    // hash the same bytes.
    let digest = hash128(&[
        NAMESPACE,
        topic.full_name().as_bytes(),
        message_id.as_bytes(),
    ]);
    Builder::from_custom_bytes(digest.to_be_bytes()).into_uuid()
}

fn hash128(parts: &[&[u8]]) -> u128 {
    let mut hash = FNV_OFFSET_BASIS;
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            hash = fnv1a_step(hash, 0);
        }
        hash = part.iter().fold(hash, |hash, &byte| fnv1a_step(hash, byte));
    }
    mix(hash)
}

fn fnv1a_step(hash: u128, byte: u8) -> u128 {
    (hash ^ u128::from(byte)).wrapping_mul(FNV_PRIME)
}

/// FNV's last bytes only reach a few output bits, and message ids differ mostly at the end
/// (`ledger:entry:...`); xor-shift-multiply rounds spread every input bit over the whole
/// output before the version bits overwrite some of it.
fn mix(mut hash: u128) -> u128 {
    hash ^= hash >> 67;
    hash = hash.wrapping_mul(MIX_1);
    hash ^= hash >> 59;
    hash = hash.wrapping_mul(MIX_2);
    hash ^ (hash >> 64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use uuid::{Variant, Version};

    use super::*;

    #[test]
    fn is_a_custom_rfc9562_uuid() {
        let id = derived_event_id(Topic::Campanas, "123:45:-1:0");
        assert_eq!(id.get_version(), Some(Version::Custom));
        assert_eq!(id.get_variant(), Variant::RFC4122);
    }

    // Pinned: processed-event ids in the database depend on these exact values. They were
    // checked against an independent implementation of the recipe in the module docs.
    const PINNED_CAMPANAS_ID: &str = "7af74e51-df7b-81bf-ab43-70ce1523337b";
    const PINNED_EMPTY_MESSAGE_ID: &str = "d4da3df6-cbc6-8b2c-abac-325c4ae4dd19";

    #[test]
    fn is_stable_across_calls_and_releases() {
        let id = derived_event_id(Topic::Campanas, "123:45:-1:0");
        assert_eq!(id, derived_event_id(Topic::Campanas, "123:45:-1:0"));
        assert_eq!(id.to_string(), PINNED_CAMPANAS_ID);
        assert_eq!(
            derived_event_id(Topic::CrearInfluencer, "").to_string(),
            PINNED_EMPTY_MESSAGE_ID
        );
    }

    #[test]
    fn depends_on_topic_and_message_id() {
        let campanas = derived_event_id(Topic::Campanas, "123:45:-1:0");
        assert_ne!(campanas, derived_event_id(Topic::Contratos, "123:45:-1:0"));
        assert_ne!(campanas, derived_event_id(Topic::Campanas, "123:45:-1:1"));
        assert_ne!(campanas, derived_event_id(Topic::Campanas, "123:46:-1:0"));
    }

    #[test]
    fn many_message_ids_give_distinct_ids() {
        let mut seen = HashSet::new();
        for topic in Topic::ALL {
            for ledger in 0..20 {
                for entry in 0..500 {
                    let id = derived_event_id(topic, &format!("{ledger}:{entry}:-1:-1"));
                    assert!(seen.insert(id), "collision for {topic} {ledger}:{entry}");
                }
            }
        }
    }

    #[test]
    fn ids_differing_in_the_last_character_differ_in_many_bits() {
        let a = derived_event_id(Topic::Reportes, "7:1:-1:0").as_u128();
        let b = derived_event_id(Topic::Reportes, "7:1:-1:1").as_u128();
        assert!((a ^ b).count_ones() > 32, "{:032x} vs {:032x}", a, b);
    }
}
