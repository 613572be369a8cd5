//! The rollup tiers' files in memory: which file holds each period and which raw buckets each
//! tier covers. A leaf the writer holds (`store.rs`) and the rollup code (`rollup_store.rs`)
//! fills, so neither imports the other for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::chunk_file::ChunkFile;
use super::rollup::Tier;

/// The files of one rollup tier. Replaced as a whole when a file comes or goes.
#[derive(Default)]
pub(crate) struct TierFiles {
    /// By period.
    pub(crate) files: BTreeMap<i64, Arc<ChunkFile>>,
    /// Raw bucket -> the sample count it had when rolled up.
    pub(crate) covered: BTreeMap<i64, u64>,
}

/// Both rollup tiers.
#[derive(Default)]
pub(crate) struct Rollups {
    /// Off when the chunk span does not allow rollups.
    pub(crate) enabled: bool,
    pub(crate) five_minutes: Arc<TierFiles>,
    pub(crate) one_hour: Arc<TierFiles>,
    /// The number of the next rollup file (both directories).
    pub(crate) next_number: u64,
}

impl Rollups {
    pub(crate) fn tier(&self, tier: Tier) -> Option<&Arc<TierFiles>> {
        match tier {
            Tier::Raw => None,
            Tier::FiveMinutes => Some(&self.five_minutes),
            Tier::OneHour => Some(&self.one_hour),
        }
    }

    pub(crate) fn tier_mut(&mut self, tier: Tier) -> Option<&mut Arc<TierFiles>> {
        match tier {
            Tier::Raw => None,
            Tier::FiveMinutes => Some(&mut self.five_minutes),
            Tier::OneHour => Some(&mut self.one_hour),
        }
    }
}
