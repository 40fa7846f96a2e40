//! Criterion micro-benchmarks of the hot pure code: DHT name hash and layout lookup, XDR
//! encode/decode of a WRITE call and a LOOKUP reply, and dict encoding.
//! Run: `cargo bench --bench hot_paths`.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use proto::fops::{LookupRsp, WriteReq};
use proto::{Body, Dict, Gfid, Iatt};

fn hashing_benches(c: &mut Criterion) {
    let opts = hashing::HashOptions::default();
    let names: Vec<String> = (0..1000).map(|i| format!("file-{i:06}.dat")).collect();
    c.bench_function("dm_hash 1000 names", |b| {
        b.iter(|| {
            for n in &names {
                black_box(hashing::dm_hash(n.as_bytes()));
            }
        })
    });
    let subvols: Vec<String> = (0..6).map(|i| format!("vol-replicate-{i}")).collect();
    let nd: Vec<hashing::NewDirSubvol<'_>> = subvols
        .iter()
        .map(|n| hashing::NewDirSubvol {
            name: n,
            state: hashing::SubvolState::Ok,
            chunks: 0,
        })
        .collect();
    let layout = hashing::Layout::new_directory(&nd, &hashing::NewDirParams::new(b"/d", 0), &opts);
    c.bench_function("layout lookup 1000 names (6 subvolumes)", |b| {
        b.iter(|| {
            for n in &names {
                black_box(layout.subvol_for_name(n.as_bytes(), &opts));
            }
        })
    });
}

fn xdr_benches(c: &mut Criterion) {
    let data = Bytes::from(vec![7u8; 128 * 1024]);
    let req = WriteReq {
        gfid: Gfid([3; 16]),
        fd: 5,
        offset: 1 << 20,
        flag: 0,
        xdata: None,
        data,
    };
    c.bench_function("encode WRITE args (128 KiB payload, zero-copy)", |b| {
        b.iter(|| black_box(req.xdr_bytes()))
    });
    let mut xdata = Dict::new();
    xdata.set_bin("trusted.glusterfs.dht", vec![0u8; 16]);
    xdata.set_bin("trusted.afr.vol-client-0", vec![0u8; 12]);
    xdata.set_bin("trusted.afr.vol-client-1", vec![0u8; 12]);
    let rsp = LookupRsp {
        op_ret: 0,
        op_errno: 0,
        xdata: Some(xdata.clone()),
        prestat: Iatt::default(),
        poststat: Iatt::default(),
    };
    let body = rsp.to_body();
    c.bench_function("decode LOOKUP reply with 3 xattrs", |b| {
        b.iter(|| black_box(LookupRsp::decode_body(body.clone()).ok()))
    });
    c.bench_function("dict: gfx_dict encode (3 xattrs)", |b| {
        b.iter(|| {
            let mut e = xdr::Encoder::new();
            Dict::encode_xdr_opt(Some(&xdata), &mut e);
            black_box(e.freeze())
        })
    });
    c.bench_function("dict: old serialized format (3 xattrs)", |b| {
        b.iter(|| black_box(xdata.to_serialized()))
    });
}

criterion_group!(benches, hashing_benches, xdr_benches);
criterion_main!(benches);
