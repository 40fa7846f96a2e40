//! File contents the benchmark writes and checks when it reads back, and a small deterministic PRNG.
//!
//! A file is a sequence of 4 KiB chunks. Chunk `c` of the file tagged `tag` is a fixed pseudo-random
//! 4 KiB block whose first 16 bytes are replaced by `c` and `tag` (little-endian u64 each). Any byte of
//! any file is thus a pure function of (tag, offset): sequential, random and small-file reads can all
//! verify what they got, and a stale, misplaced or zeroed block is caught.

/// Chunk size of the pattern.
pub const CHUNK: usize = 4096;
const HEADER: usize = 16;

/// splitmix64: a tiny, fast, deterministic generator (not for cryptography).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when n is 0); the bias is below 2^-32 for n < 2^32.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// The pattern of one benchmark run.
#[derive(Debug, Clone)]
pub struct Pattern {
    base: Vec<u8>,
}

impl Pattern {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut base = Vec::with_capacity(CHUNK);
        while base.len() < CHUNK {
            base.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        Self { base }
    }

    fn header(chunk: u64, tag: u64) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[..8].copy_from_slice(&chunk.to_le_bytes());
        h[8..].copy_from_slice(&tag.to_le_bytes());
        h
    }

    /// Visits the pieces of `[offset, offset+len)`: (position in the buffer, position in the chunk,
    /// length, chunk number).
    fn segments(offset: u64, len: usize, mut f: impl FnMut(usize, usize, usize, u64) -> bool) {
        let mut done = 0usize;
        while done < len {
            let pos = offset + done as u64;
            let chunk = pos / CHUNK as u64;
            let within = (pos % CHUNK as u64) as usize;
            let n = (CHUNK - within).min(len - done);
            if !f(done, within, n, chunk) {
                return;
            }
            done += n;
        }
    }

    /// Fills `buf` with the bytes of file `tag` at `offset`.
    pub fn fill(&self, buf: &mut [u8], offset: u64, tag: u64) {
        let len = buf.len();
        Self::segments(offset, len, |at, within, n, chunk| {
            let (Some(dst), Some(src)) =
                (buf.get_mut(at..at + n), self.base.get(within..within + n))
            else {
                return false;
            };
            dst.copy_from_slice(src);
            if within < HEADER {
                let h = Self::header(chunk, tag);
                let hn = (HEADER - within).min(n);
                if let (Some(d), Some(s)) = (dst.get_mut(..hn), h.get(within..within + hn)) {
                    d.copy_from_slice(s);
                }
            }
            true
        });
    }

    /// Checks `buf` against the bytes of file `tag` at `offset`; returns the file offset of the
    /// first wrong byte.
    pub fn check(&self, buf: &[u8], offset: u64, tag: u64) -> Result<(), u64> {
        let mut bad = None;
        Self::segments(offset, buf.len(), |at, within, n, chunk| {
            let (Some(got), Some(want)) = (buf.get(at..at + n), self.base.get(within..within + n))
            else {
                bad = Some(offset + at as u64);
                return false;
            };
            let h = Self::header(chunk, tag);
            for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                let w = if within + i < HEADER {
                    h.get(within + i).copied().unwrap_or(w)
                } else {
                    w
                };
                if g != w {
                    bad = Some(offset + (at + i) as u64);
                    return false;
                }
            }
            true
        });
        bad.map_or(Ok(()), Err)
    }
}

/// A byte buffer whose start is aligned to `align` (a power of two), as O_DIRECT needs, built from a
/// slightly larger Vec without unsafe code.
#[derive(Debug)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    pub fn new(len: usize, align: usize) -> Self {
        let storage = vec![0u8; len + align];
        let start = storage.as_ptr().align_offset(align).min(align);
        Self {
            storage,
            start,
            len,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        self.storage
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.storage
            .get_mut(self.start..self.start + self.len)
            .unwrap_or(&mut [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut r = Rng::new(1);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let v = r.below(10);
            assert!(v < 10);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "every value of 0..10 drawn");
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn fill_is_a_function_of_offset_whatever_the_split() {
        let p = Pattern::new(7);
        let mut whole = vec![0u8; 3 * CHUNK + 100];
        p.fill(&mut whole, 0, 9);
        // Same bytes produced in odd-sized pieces at odd offsets.
        let mut pieced = vec![0u8; whole.len()];
        let mut off = 0usize;
        for step in [1usize, 15, 16, 17, 4000, 4096, 333].iter().cycle() {
            if off >= pieced.len() {
                break;
            }
            let end = (off + step).min(pieced.len());
            p.fill(&mut pieced[off..end], off as u64, 9);
            off = end;
        }
        assert_eq!(whole, pieced);
        assert_eq!(&whole[..8], &0u64.to_le_bytes());
        assert_eq!(&whole[8..16], &9u64.to_le_bytes());
        assert_eq!(&whole[CHUNK..CHUNK + 8], &1u64.to_le_bytes());
        assert_eq!(&whole[2 * CHUNK + 8..2 * CHUNK + 16], &9u64.to_le_bytes());
    }

    #[test]
    fn check_accepts_fill_and_finds_the_first_bad_byte() {
        let p = Pattern::new(3);
        let mut buf = vec![0u8; 2 * CHUNK];
        p.fill(&mut buf, 8192, 5);
        assert_eq!(p.check(&buf, 8192, 5), Ok(()));
        // Wrong tag, wrong offset (a block read from the wrong place), zeroes.
        assert_eq!(p.check(&buf, 8192, 6), Err(8192 + 8));
        assert_eq!(p.check(&buf, 4096, 5), Err(4096));
        assert_eq!(p.check(&vec![0u8; CHUNK], 0, 0), Err(16));
        buf[5000] ^= 1;
        assert_eq!(p.check(&buf, 8192, 5), Err(8192 + 5000));
        // A partial header at an unaligned offset.
        let mut part = vec![0u8; 10];
        p.fill(&mut part, 4096 + 4, 5);
        assert_eq!(p.check(&part, 4096 + 4, 5), Ok(()));
        assert_eq!(p.check(&part, 4096 + 4, 6), Err(4096 + 8));
    }

    #[test]
    fn aligned_buffer_is_aligned() {
        for len in [0usize, 1, 4096, 65536] {
            let mut b = AlignedBuf::new(len, 4096);
            assert_eq!(b.as_slice().len(), len);
            assert_eq!(b.as_mut_slice().as_ptr() as usize % 4096, 0);
        }
    }
}
