//! Crawl statistics, as glustershd keeps them per index and full healer
//! (afr-self-heald.c `crawl_event_t`, `afr_shd_dict_add_crawl_event`), persisted in a small JSON
//! file per volume so `gluster-rs heal URL statistics` can show what the daemon did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{HealError, Result};

/// `AFR_STATISTICS_HISTORY_SIZE`: crawls remembered per replica set.
pub const HISTORY: usize = 50;

/// Where statistics live unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/gluster-rs/heal";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CrawlType {
    Index,
    Full,
}

impl CrawlType {
    pub fn as_str(self) -> &'static str {
        match self {
            CrawlType::Index => "INDEX",
            CrawlType::Full => "FULL",
        }
    }
}

/// One crawl of one replica set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlEvent {
    pub replica: String,
    pub crawl_type: CrawlType,
    /// Seconds since the epoch.
    pub start: u64,
    /// None while running.
    pub end: Option<u64>,
    pub healed: u64,
    pub split_brain: u64,
    pub heal_failed: u64,
    /// Index entries that pointed to inodes no longer present, dropped.
    pub stale: u64,
    pub bytes_copied: u64,
    pub blocks_skipped: u64,
    pub entries_fixed: u64,
}

impl CrawlEvent {
    pub fn begin(replica: &str, crawl_type: CrawlType) -> Self {
        CrawlEvent {
            replica: replica.to_string(),
            crawl_type,
            start: now(),
            end: None,
            healed: 0,
            split_brain: 0,
            heal_failed: 0,
            stale: 0,
            bytes_copied: 0,
            blocks_skipped: 0,
            entries_fixed: 0,
        }
    }

    pub fn finish(&mut self) {
        self.end = Some(now());
    }

    pub fn add(&mut self, o: &CrawlEvent) {
        self.healed += o.healed;
        self.split_brain += o.split_brain;
        self.heal_failed += o.heal_failed;
        self.stale += o.stale;
        self.bytes_copied += o.bytes_copied;
        self.blocks_skipped += o.blocks_skipped;
        self.entries_fixed += o.entries_fixed;
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The statistics file of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Per replica set, oldest first.
    pub crawls: BTreeMap<String, Vec<CrawlEvent>>,
}

impl History {
    pub fn path(dir: &Path, volume: &str) -> PathBuf {
        dir.join(format!("{volume}.json"))
    }

    pub fn load(dir: &Path, volume: &str) -> Result<Option<History>> {
        let p = Self::path(dir, volume);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HealError::Io {
                path: p.display().to_string(),
                source: e,
            }),
        }
    }

    pub fn record(&mut self, ev: CrawlEvent) {
        let v = self.crawls.entry(ev.replica.clone()).or_default();
        v.push(ev);
        if v.len() > HISTORY {
            let drop = v.len() - HISTORY;
            v.drain(..drop);
        }
    }

    /// Write atomically (temp file + rename).
    pub fn save(&self, dir: &Path, volume: &str) -> Result<()> {
        let io = |p: &Path, e: std::io::Error| HealError::Io {
            path: p.display().to_string(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let p = Self::path(dir, volume);
        let tmp = dir.join(format!(".{volume}.json.{}", std::process::id()));
        let data = serde_json::to_vec_pretty(self)?;
        std::fs::write(&tmp, data).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| io(&p, e))?;
        Ok(())
    }

    /// Load, add `events`, save: best effort for the CLI (a read-only or missing state directory
    /// is not an error of the heal).
    pub fn append(dir: &Path, volume: &str, events: &[CrawlEvent]) -> Result<()> {
        let mut h = Self::load(dir, volume)?.unwrap_or_default();
        for e in events {
            h.record(e.clone());
        }
        h.save(dir, volume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_persists() {
        let dir = std::env::temp_dir().join(format!("heal-stats-test-{}", std::process::id()));
        let mut h = History::default();
        for i in 0..(HISTORY + 5) {
            let mut e = CrawlEvent::begin("v-replicate-0", CrawlType::Index);
            e.healed = i as u64;
            e.finish();
            h.record(e);
        }
        assert_eq!(h.crawls["v-replicate-0"].len(), HISTORY);
        assert_eq!(h.crawls["v-replicate-0"][0].healed, 5);
        h.save(&dir, "v").expect("save");
        let back = History::load(&dir, "v").expect("load").expect("present");
        assert_eq!(back, h);
        assert!(History::load(&dir, "other").expect("load").is_none());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
