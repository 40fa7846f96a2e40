//! Whole RPC messages (record marking excluded): an ONC RPC header (`xdr::rpc`) plus a [`Body`].

use bytes::Bytes;
use xdr::rpc::{CallHeader, OpaqueAuth, ReplyHeader};
use xdr::{Decoder, Encoder, XdrDecode};

use crate::wire::{Body, Call};
use crate::ProtoError;

/// Encode a call: returns the RPC call header followed by the XDR arguments, and the payload
/// (WRITE data) that must follow them in the same record. Send `head`, then `payload`, as one
/// record (`xdr::rpc::record_header(head.len() + payload.len())` in front).
pub fn encode_call<C: Call>(xid: u32, cred: OpaqueAuth, req: &C) -> (Bytes, Option<Bytes>) {
    let mut e = Encoder::with_capacity(256);
    e.put(&CallHeader {
        xid,
        prog: C::PROGRAM,
        vers: C::VERSION,
        proc_num: C::PROC,
        cred,
        verf: OpaqueAuth::default(),
    });
    req.encode_xdr(&mut e);
    (e.freeze(), req.payload().cloned())
}

/// Decode a whole reply record: the header (an RPC-level rejection becomes
/// [`ProtoError::Rpc`]) and the body as `R`, payload included. Returns the xid too.
pub fn decode_reply<R: Body>(record: Bytes) -> Result<(u32, R), ProtoError> {
    let mut d = Decoder::new(record);
    let h = ReplyHeader::decode(&mut d)?;
    h.status?;
    Ok((h.xid, R::decode_body(d.rest())?))
}

/// Decode a whole call record: the header and the rest (the body, for [`Body::decode_body`] or
/// [`crate::callback::Callback::decode`]).
pub fn decode_call(record: Bytes) -> Result<(CallHeader, Bytes), ProtoError> {
    let mut d = Decoder::new(record);
    let h = CallHeader::decode(&mut d)?;
    Ok((h, d.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fops::{TwoIattRsp, WriteReq};
    use crate::Gfid;
    use xdr::rpc::RpcReject;

    #[test]
    fn call_and_reply() {
        let w = WriteReq {
            gfid: Gfid::ROOT,
            data: Bytes::from_static(b"abc"),
            ..Default::default()
        };
        let (head, payload) = encode_call(9, OpaqueAuth::default(), &w);
        assert_eq!(payload.as_deref(), Some(&b"abc"[..]));
        let mut rec = head.to_vec();
        rec.extend_from_slice(b"abc");
        let (h, body) = decode_call(Bytes::from(rec)).unwrap();
        assert_eq!((h.xid, h.prog, h.vers, h.proc_num), (9, 1298437, 400, 13));
        assert_eq!(WriteReq::decode_body(body).unwrap(), w);

        let mut e = Encoder::new();
        ReplyHeader::encode_success(9, &mut e);
        let rsp = TwoIattRsp {
            op_ret: 3,
            ..Default::default()
        };
        rsp.encode_xdr(&mut e);
        let (xid, back) = decode_reply::<TwoIattRsp>(e.freeze()).unwrap();
        assert_eq!((xid, back), (9, rsp));

        // PROC_UNAVAIL.
        let mut e = Encoder::new();
        for w in [9, 1, 0, 0, 0, 3] {
            e.put_u32(w);
        }
        assert_eq!(
            decode_reply::<TwoIattRsp>(e.freeze()),
            Err(ProtoError::Rpc(RpcReject::ProcUnavail))
        );
    }
}
