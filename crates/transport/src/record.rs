//! RPC record marking over a byte stream (RFC 5531 §11), as GlusterFS's socket transport does it
//! (rpc/rpc-transport/socket/src/socket.c: a 4-byte header per fragment, top bit = last fragment,
//! low 31 bits = fragment length; GlusterFS itself always sends single-fragment records but reads
//! multi-fragment ones).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use xdr::rpc::parse_record_header;

use crate::TransportError;

/// Largest record length the 31-bit fragment header can carry (socket.h `RPC_MAX_FRAGMENT_SIZE`).
pub(crate) const MAX_FRAGMENT: usize = 0x7fff_ffff;
/// How much we ask the kernel for at a time when no bigger need is known.
const READ_CHUNK: usize = 64 * 1024;
/// Refuse records split into more fragments than this (a peer trickling empty fragments).
const MAX_FRAGMENTS: usize = 65_536;
/// Records up to this size are copied out of the read buffer into their own allocation, so that a
/// caller keeping a small reply (say, an xattr value) does not pin a whole read chunk. Larger ones
/// (read payloads) are zero-copy slices.
const COPY_BELOW: usize = 8 * 1024;

/// Reads whole records. Large single-fragment records (what GlusterFS sends) are zero-copy slices of
/// the read buffer; small ones are copied out; multi-fragment records are joined into one buffer.
pub(crate) struct RecordReader<R> {
    rd: R,
    buf: BytesMut,
    max_record: usize,
}

impl<R: AsyncRead + Unpin> RecordReader<R> {
    pub(crate) fn new(rd: R, max_record: usize) -> Self {
        Self {
            rd,
            buf: BytesMut::new(),
            max_record: max_record.min(MAX_FRAGMENT),
        }
    }

    /// Make sure `n` bytes are buffered. `n` is always bounded by `max_record + 4` by the caller.
    /// Returns false on EOF before `n` bytes.
    async fn fill(&mut self, n: usize) -> Result<bool, TransportError> {
        while self.buf.len() < n {
            let want = (n - self.buf.len()).max(READ_CHUNK);
            if self.buf.capacity() - self.buf.len() < want {
                self.buf.reserve(want);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The next record, or `None` on a clean end of stream between records.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, TransportError> {
        let mut joined: Option<BytesMut> = None;
        let mut total = 0usize;
        for _ in 0..MAX_FRAGMENTS {
            if !self.fill(4).await? {
                if self.buf.is_empty() && joined.is_none() {
                    return Ok(None);
                }
                return Err(TransportError::ConnectionLost(
                    "peer closed the connection in the middle of a record".into(),
                ));
            }
            let (last, len) =
                parse_record_header([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
            total = total.saturating_add(len);
            // Checked before any buffer is grown for this fragment.
            if total > self.max_record {
                return Err(TransportError::RecordTooLarge {
                    len: total,
                    max: self.max_record,
                });
            }
            if !self.fill(4 + len).await? {
                return Err(TransportError::ConnectionLost(
                    "peer closed the connection in the middle of a record".into(),
                ));
            }
            self.buf.advance(4);
            let frag = self.buf.split_to(len);
            match (last, joined.as_mut()) {
                (true, None) if len <= COPY_BELOW => {
                    return Ok(Some(Bytes::copy_from_slice(&frag)))
                }
                (true, None) => return Ok(Some(frag.freeze())),
                (last, Some(j)) => {
                    j.extend_from_slice(&frag);
                    if last {
                        return Ok(joined.map(BytesMut::freeze));
                    }
                }
                (false, None) => joined = Some(frag),
            }
        }
        Err(TransportError::Protocol(format!(
            "record split into more than {MAX_FRAGMENTS} fragments"
        )))
    }
}

/// Write as much of `chunks` as `write` (a non-blocking vectored write, e.g. tokio's
/// `try_write_vectored`) takes, without copying; written bytes are dropped from the queue and
/// `progress` runs after each accepted write. `Ok(true)` once everything is written, `Ok(false)`
/// when the writer would block.
pub(crate) fn write_nonblocking(
    chunks: &mut VecDeque<Bytes>,
    mut write: impl FnMut(&[IoSlice<'_>]) -> std::io::Result<usize>,
    mut progress: impl FnMut(),
) -> std::io::Result<bool> {
    const MAX_IOV: usize = 64;
    loop {
        while chunks.front().is_some_and(|c| c.is_empty()) {
            chunks.pop_front();
        }
        if chunks.is_empty() {
            return Ok(true);
        }
        let res = {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut k = 0;
            for (slot, c) in slices.iter_mut().zip(chunks.iter()) {
                *slot = IoSlice::new(c);
                k += 1;
            }
            write(&slices[..k])
        };
        let n = match res {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        progress();
        let mut left = n;
        while left > 0 {
            let Some(front) = chunks.front_mut() else {
                break;
            };
            if front.len() <= left {
                left -= front.len();
                chunks.pop_front();
            } else {
                front.advance(left);
                left = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdr::rpc::record_header;

    #[tokio::test]
    async fn reads_single_and_multi_fragment_records() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&record_header(3));
        wire.extend_from_slice(b"abc");
        wire.extend_from_slice(&2u32.to_be_bytes()); // not last
        wire.extend_from_slice(b"de");
        wire.extend_from_slice(&0u32.to_be_bytes()); // empty, not last
        wire.extend_from_slice(&record_header(1));
        wire.extend_from_slice(b"f");
        let mut r = RecordReader::new(&wire[..], 100);
        assert_eq!(&r.next().await.unwrap().unwrap()[..], b"abc");
        assert_eq!(&r.next().await.unwrap().unwrap()[..], b"def");
        assert!(r.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_and_truncated_records_fail() {
        let wire = record_header(1 << 30);
        let mut r = RecordReader::new(&wire[..], 1 << 20);
        assert!(matches!(
            r.next().await,
            Err(TransportError::RecordTooLarge { len, .. }) if len == 1 << 30
        ));
        // Fragments that are each small but sum past the limit.
        let mut wire = Vec::new();
        for _ in 0..3 {
            wire.extend_from_slice(&40u32.to_be_bytes());
            wire.extend_from_slice(&[0; 40]);
        }
        let mut r = RecordReader::new(&wire[..], 100);
        assert!(matches!(
            r.next().await,
            Err(TransportError::RecordTooLarge { len: 120, max: 100 })
        ));
        let mut wire = record_header(10).to_vec();
        wire.extend_from_slice(b"abc");
        let mut r = RecordReader::new(&wire[..], 100);
        assert!(matches!(
            r.next().await,
            Err(TransportError::ConnectionLost(_))
        ));
        let mut r = RecordReader::new(&[0u8, 0][..], 100);
        assert!(matches!(
            r.next().await,
            Err(TransportError::ConnectionLost(_))
        ));
    }

    #[test]
    fn nonblocking_write_keeps_order_across_short_writes_and_blocking() {
        let mut q: VecDeque<Bytes> = ["hello ", "", "vectored ", "world"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let mut out = Vec::new();
        let mut calls = 0;
        let mut progress = 0;
        // A sink taking at most 4 bytes per call and refusing every third call.
        let mut sink = |s: &[IoSlice<'_>]| {
            calls += 1;
            if calls % 3 == 0 {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for sl in s {
                let take = (4 - n).min(sl.len());
                out.extend_from_slice(&sl[..take]);
                n += take;
                if n == 4 {
                    break;
                }
            }
            Ok(n)
        };
        let mut rounds = 0;
        while !write_nonblocking(&mut q, &mut sink, || progress += 1).unwrap() {
            rounds += 1;
        }
        assert!(rounds >= 2);
        assert!(q.is_empty());
        assert!(progress >= 5);
        assert_eq!(&out, b"hello vectored world");
        let mut broken = VecDeque::from([Bytes::from_static(b"x")]);
        let r = write_nonblocking(&mut broken, |_| Ok(0), || {});
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::WriteZero);
    }
}
