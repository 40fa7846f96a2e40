//! RPC record marking over a byte stream (RFC 5531 §11), as GlusterFS's socket transport does it
//! (rpc/rpc-transport/socket/src/socket.c: a 4-byte header per fragment, top bit = last fragment,
//! low 31 bits = fragment length; GlusterFS itself always sends single-fragment records but reads
//! multi-fragment ones).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

/// Write a queue of buffers with vectored writes, without copying them.
pub(crate) async fn write_all_vectored<W: AsyncWrite + Unpin>(
    wr: &mut W,
    chunks: &mut VecDeque<Bytes>,
    mut progress: impl FnMut(),
) -> std::io::Result<()> {
    const MAX_IOV: usize = 64;
    loop {
        while chunks.front().is_some_and(|c| c.is_empty()) {
            chunks.pop_front();
        }
        if chunks.is_empty() {
            return wr.flush().await;
        }
        let n = {
            let slices: Vec<IoSlice<'_>> = chunks
                .iter()
                .take(MAX_IOV)
                .map(|c| IoSlice::new(c))
                .collect();
            wr.write_vectored(&slices).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
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

    #[tokio::test]
    async fn vectored_write_writes_everything_in_order() {
        let (mut a, mut b) = tokio::io::duplex(7);
        let mut q: VecDeque<Bytes> = ["hello ", "", "vectored ", "world"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let w = tokio::spawn(async move {
            let mut n = 0;
            write_all_vectored(&mut a, &mut q, || n += 1).await.unwrap();
            assert!(n >= 3);
        });
        let mut out = vec![0u8; 20];
        b.read_exact(&mut out).await.unwrap();
        w.await.unwrap();
        assert_eq!(&out, b"hello vectored world");
    }
}
