//! GlusterFS's Davies-Meyer name hash.
//!
//! Our own implementation of the algorithm of `gf_dm_hashfn` in
//! GlusterFS's `libglusterfs/src/hashfn.c`. It is a Davies-Meyer
//! construction over a TEA-like round function: the name is consumed in
//! 16-byte blocks of four little-endian 32-bit words (6 rounds per block),
//! and a final block holding the remaining whole words, then the last
//! 1..=3 bytes folded into a length-derived padding word, then padding
//! words, goes through 10 rounds. The result is `h0 ^ h1`.

/// TEA's key-schedule constant (golden ratio), `DM_DELTA` in hashfn.c.
const DELTA: u32 = 0x9E37_79B9;
/// Rounds for every full 16-byte block (`DM_PARTROUNDS`).
const PART_ROUNDS: u32 = 6;
/// Rounds for the final, padded block (`DM_FULLROUNDS`).
const FULL_ROUNDS: u32 = 10;
/// Initial chaining values of hashfn.c.
const H0_INIT: u32 = 0x9464_a485;
const H1_INIT: u32 = 0x542e_1a94;

/// One Davies-Meyer step: run `rounds` TEA-style rounds keyed by `block`
/// over the chaining pair, then add the result back into it.
fn dm_round(rounds: u32, block: &[u32; 4], h0: &mut u32, h1: &mut u32) {
    let mut b0 = *h0;
    let mut b1 = *h1;
    let mut sum: u32 = 0;
    for _ in 0..rounds {
        sum = sum.wrapping_add(DELTA);
        b0 = b0.wrapping_add(
            (b1 << 4).wrapping_add(block[0])
                ^ b1.wrapping_add(sum)
                ^ (b1 >> 5).wrapping_add(block[1]),
        );
        b1 = b1.wrapping_add(
            (b0 << 4).wrapping_add(block[2])
                ^ b0.wrapping_add(sum)
                ^ (b0 >> 5).wrapping_add(block[3]),
        );
    }
    *h0 = h0.wrapping_add(b0);
    *h1 = h1.wrapping_add(b1);
}

fn le_word(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    for (d, s) in w.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(w)
}

/// GlusterFS's Davies-Meyer hash of `name` (`gf_dm_hashfn`).
///
/// This is the raw hash of exactly the given bytes. DHT does not hash a
/// file name directly with it; it first applies the rsync temp-file
/// munging, see [`crate::name_hash`].
///
/// Byte-exact with the GlusterFS C client as built on x86_64 (checked
/// against `libglusterfs.so.0` by `tests/data/dm_hash_vectors.txt`). The
/// C code folds the last `len % 4` bytes in as plain `char`, which is
/// signed on x86_64, so a byte >= 0x80 there is sign-extended to
/// `0xFFFFFFxx` before being OR-ed into the word; this function
/// reproduces that. (A C client built where `char` is unsigned, e.g.
/// aarch64, hashes such names differently.)
pub fn dm_hash(name: &[u8]) -> u32 {
    let len = name.len() as u32;
    // `__pad()`: the length replicated into every byte (with overlap for
    // lengths >= 256, exactly as the C shifts do).
    let mut pad = len | (len << 8);
    pad |= pad << 16;

    let mut h0 = H0_INIT;
    let mut h1 = H1_INIT;

    let mut blocks = name.chunks_exact(16);
    for blk in &mut blocks {
        let words = [
            le_word(&blk[0..4]),
            le_word(&blk[4..8]),
            le_word(&blk[8..12]),
            le_word(&blk[12..16]),
        ];
        dm_round(PART_ROUNDS, &words, &mut h0, &mut h1);
    }

    // Final block: remaining whole words, then one word made of the pad
    // with the 0..=3 trailing bytes shifted in, then pure pad words.
    let rest = blocks.remainder();
    let mut words = rest.chunks_exact(4);
    let mut block = [pad; 4];
    let mut slot = 0;
    for w in &mut words {
        block[slot] = le_word(w);
        slot += 1;
    }
    if slot < 4 {
        let mut word = pad;
        for &b in words.remainder() {
            // Sign extension of a signed `char`, as on x86_64.
            word = (word << 8) | (b as i8 as i32 as u32);
        }
        block[slot] = word;
    }
    dm_round(FULL_ROUNDS, &block, &mut h0, &mut h1);

    h0 ^ h1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_single_byte() {
        // From libglusterfs.so.0 (see tests/data/dm_hash_vectors.txt).
        assert_eq!(dm_hash(b""), 0x8847_74a2);
        assert_eq!(dm_hash(b"b"), 0x6f55_8edc);
    }

    #[test]
    fn sign_extension_collapses_high_tail_bytes() {
        // With signed chars, any three-byte tail ending in the same byte
        // whose other bytes are >= 0x80 produces the same final word.
        assert_eq!(dm_hash(b"\xe0\xa0\x80"), dm_hash(b"\xed\xa0\x80"));
        assert_eq!(dm_hash(b"\xe0\xa0\x80"), dm_hash(b"\x81\xff\x80"));
    }
}
