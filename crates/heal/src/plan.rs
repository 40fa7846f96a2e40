//! The block plan of a data heal: which ranges to compare and which to copy. Pure: no I/O.
//!
//! As afr-self-heal-data.c does it: the file is healed block by block (`128 KiB ×
//! cluster.self-heal-window-size`, 128 KiB for sparse sources), each block under its own inode
//! lock so clients are held up for one block at most. With the "diff" algorithm a block is only
//! sent when the sink's checksum of it differs from the source's (`__afr_can_skip_data_block_heal`);
//! zero blocks of sparse sources are not written where the sink has nothing
//! (`__afr_selfheal_data_read_write`).

use proto::Iatt;
use serde::Serialize;

/// AFR's basic heal block (`128 * 1024` in `afr_selfheal_data_do`).
pub const BASE_BLOCK: u64 = 128 * 1024;

/// `cluster.data-self-heal-algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Diff when any involved copy has data, full otherwise (unset option: `AFR_SELFHEAL_DATA_DYNAMIC`).
    #[default]
    Dynamic,
    /// Copy every block.
    Full,
    /// Compare checksums, copy differing blocks.
    Diff,
}

impl Algorithm {
    pub fn parse(s: Option<&str>) -> Algorithm {
        match s {
            Some("full") => Algorithm::Full,
            Some("diff") => Algorithm::Diff,
            _ => Algorithm::Dynamic,
        }
    }

    /// `afr_data_self_heal_type_get`: the effective algorithm given the sizes of the source and
    /// the sinks being healed. Returns true for "diff".
    pub fn use_diff(self, involved_sizes: impl IntoIterator<Item = u64>) -> bool {
        match self {
            Algorithm::Full => false,
            Algorithm::Diff => true,
            Algorithm::Dynamic => involved_sizes.into_iter().any(|s| s != 0),
        }
    }
}

/// `HAS_HOLES`: fewer 512-byte blocks allocated than the size needs.
pub fn has_holes(ia: &Iatt) -> bool {
    ia.blocks.saturating_mul(512) < ia.size
}

/// The block size for a source: `128 KiB × window`, or 128 KiB when the source is sparse.
pub fn block_size(window: u32, source: &Iatt) -> u64 {
    if has_holes(source) {
        BASE_BLOCK
    } else {
        BASE_BLOCK * u64::from(window.max(1))
    }
}

/// The blocks covering `[0, size)`: `(offset, length)` with the last one possibly short.
pub fn blocks(size: u64, block: u64) -> impl Iterator<Item = (u64, u64)> {
    let block = block.max(1);
    let count = size.div_ceil(block);
    (0..count).map(move |k| {
        let off = k * block;
        (off, block.min(size - off))
    })
}

/// A checksum of one range of one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeSum {
    /// From the brick's RCHECKSUM fop: its strong checksum (MD5 or SHA-256), and whether the
    /// range is all zeroes (`buf-has-zeroes`, asked with `check-zero-filled`).
    Brick { strong: Vec<u8>, zeroes: bool },
    /// Computed here from the bytes read: xxh3-128, length, all-zeroes.
    Local {
        xxh3: u128,
        len: usize,
        zeroes: bool,
    },
}

impl RangeSum {
    pub fn of_bytes(data: &[u8]) -> RangeSum {
        RangeSum::Local {
            xxh3: xxhash_rust::xxh3::xxh3_128(data),
            len: data.len(),
            zeroes: data.iter().all(|&b| b == 0),
        }
    }

    pub fn is_zeroes(&self) -> bool {
        match self {
            RangeSum::Brick { zeroes, .. } | RangeSum::Local { zeroes, .. } => *zeroes,
        }
    }

    /// Same content (only comparable sums of the same kind count as equal).
    pub fn same(&self, other: &RangeSum) -> bool {
        match (self, other) {
            (RangeSum::Brick { strong: a, .. }, RangeSum::Brick { strong: b, .. }) => {
                !a.is_empty() && a == b
            }
            (
                RangeSum::Local {
                    xxh3: a, len: la, ..
                },
                RangeSum::Local {
                    xxh3: b, len: lb, ..
                },
            ) => a == b && la == lb,
            _ => false,
        }
    }
}

/// `__afr_can_skip_data_block_heal` once the checksums are known: skip the block when every sink
/// has the source's checksum, unless the source is fully allocated and the block is zeroes (then
/// writing the zeroes keeps the sinks' disk usage equal to the source's).
pub fn can_skip_block(source: &RangeSum, sinks: &[&RangeSum], source_sparse: bool) -> bool {
    sinks.iter().all(|s| source.same(s)) && (source_sparse || !source.is_zeroes())
}

/// The first rule of `__afr_selfheal_data_read_write`: with a sparse source, a zero block past the
/// sink's original end (not the block holding the source's EOF) is left as a hole; the truncate
/// done before the copy already gave the sink its size.
pub fn skip_zero_write(
    source_sparse: bool,
    offset: u64,
    len: u64,
    sink_size: u64,
    source_size: u64,
    data_is_zero: bool,
) -> bool {
    let last_block = source_size >= offset && source_size <= offset.saturating_add(len);
    source_sparse && offset >= sink_size && !last_block && data_is_zero
}

/// What to do for each block of a heal, given per-block checksum comparisons: the indices of the
/// blocks to send. `equal[k]` is whether block `k` may be skipped.
pub fn blocks_to_send(equal: &[bool]) -> Vec<usize> {
    equal
        .iter()
        .enumerate()
        .filter(|(_, &e)| !e)
        .map(|(k, _)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_iteration() {
        let v: Vec<_> = blocks(300, 128).collect();
        assert_eq!(v, vec![(0, 128), (128, 128), (256, 44)]);
        assert_eq!(blocks(0, 128).count(), 0);
        assert_eq!(blocks(256, 128).count(), 2);
    }

    #[test]
    fn sizes() {
        let dense = Iatt {
            size: 1 << 20,
            blocks: 2048,
            ..Iatt::default()
        };
        let sparse = Iatt {
            size: 1 << 20,
            blocks: 8,
            ..Iatt::default()
        };
        assert!(!has_holes(&dense));
        assert!(has_holes(&sparse));
        assert_eq!(block_size(8, &dense), 1 << 20);
        assert_eq!(block_size(8, &sparse), BASE_BLOCK);
        assert_eq!(block_size(0, &dense), BASE_BLOCK);
    }

    #[test]
    fn algorithm() {
        assert!(!Algorithm::Dynamic.use_diff([0, 0]));
        assert!(Algorithm::Dynamic.use_diff([0, 5]));
        assert!(!Algorithm::Full.use_diff([5]));
        assert!(Algorithm::Diff.use_diff([0]));
        assert_eq!(Algorithm::parse(Some("full")), Algorithm::Full);
        assert_eq!(Algorithm::parse(None), Algorithm::Dynamic);
    }

    #[test]
    fn skip_rules() {
        let a = RangeSum::of_bytes(b"abc");
        let b = RangeSum::of_bytes(b"abc");
        let c = RangeSum::of_bytes(b"abd");
        assert!(can_skip_block(&a, &[&b], false));
        assert!(!can_skip_block(&a, &[&b, &c], false));
        let z1 = RangeSum::of_bytes(&[0; 16]);
        let z2 = RangeSum::of_bytes(&[0; 16]);
        assert!(
            !can_skip_block(&z1, &[&z2], false),
            "dense source: write zeroes"
        );
        assert!(can_skip_block(&z1, &[&z2], true));
        // Different kinds never compare equal.
        let brick = RangeSum::Brick {
            strong: vec![1; 16],
            zeroes: false,
        };
        assert!(!can_skip_block(&brick, &[&a], true));
        assert!(skip_zero_write(true, 4096, 4096, 0, 1 << 20, true));
        assert!(
            !skip_zero_write(true, 4096, 4096, 0, 6000, true),
            "EOF block"
        );
        assert!(!skip_zero_write(false, 4096, 4096, 0, 1 << 20, true));
        assert_eq!(blocks_to_send(&[true, false, true, false]), vec![1, 3]);
    }
}
