#!/usr/bin/env python3
"""Regenerate the hex fixtures in this directory from the reference capture.

    zcat /work/shared/captures/c-client-2x3.pcap.gz > /tmp/ref.pcap
    tshark -r /tmp/ref.pcap -Y 'tcp.len>0' -T fields -e frame.number -e tcp.stream \
        -e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.payload > /tmp/segs.tsv
    python3 extract_fixtures.py /tmp/segs.tsv .

Reassembles each TCP direction, strips ONC RPC record marking (RFC 5531 section 11) and writes
one file per chosen RPC message: the whole record (RPC header included) as hex, after a comment
line saying where it came from.

    python3 extract_fixtures.py --callbacks /tmp/cbsegs.tsv .

does the same for the callback capture described in README.md (server-to-client calls of the
callback program; the client sends no replies to them).
"""
import struct
import sys

FOP, HNDSK, PMAP, DUMP = 1298437, 14398633, 34123456, 123451501
FOP_NAMES = {1: 'stat', 2: 'readlink', 4: 'mkdir', 5: 'unlink', 6: 'rmdir', 7: 'symlink',
             8: 'rename', 9: 'link', 11: 'open', 12: 'read', 13: 'write', 14: 'statfs',
             15: 'flush', 17: 'setxattr', 18: 'getxattr', 20: 'opendir', 23: 'create',
             24: 'ftruncate', 25: 'fstat', 26: 'lk', 27: 'lookup', 28: 'readdir',
             29: 'inodelk', 30: 'finodelk', 31: 'entrylk', 34: 'fxattrop', 38: 'setattr',
             40: 'readdirp', 41: 'release', 42: 'releasedir'}
# Fixture name -> frame number of the call (its reply is found by stream and xid).
PICKS = {'fop_lookup': 616, 'fop_lookup_root': 306, 'fop_lookup_enoent': 682,
         'fop_write': 724, 'fop_readdirp': 1240, 'fop_readdir': 12,
         'hndsk_setvolume': 187, 'hndsk_getspec': 104, 'pmap_portbybrick': 120,
         'dump_dump': 111, 'dump_dump_brick': 164, 'dump_ping': 113}


def records(path):
    flows = {}
    for line in open(path):
        f = line.rstrip('\n').split('\t')
        if len(f) < 6 or not f[5]:
            continue
        key = (f[1], f[2], f[3])
        flows.setdefault(key, []).append((int(f[4]), int(f[0]), bytes.fromhex(f[5])))
    out = []
    for key, segs in flows.items():
        segs.sort()
        base = segs[0][0]
        buf, starts = bytearray(), []
        for seq, frame, p in segs:
            off = seq - base
            if off < len(buf):
                p = p[len(buf) - off:]
            elif off > len(buf):
                raise SystemExit('gap in %r' % (key,))
            if p:
                starts.append((len(buf), frame))
                buf += p
        pos = 0
        while pos + 4 <= len(buf):
            rec, start = bytearray(), pos
            while True:
                (h,) = struct.unpack('>I', buf[pos:pos + 4])
                pos += 4
                rec += buf[pos:pos + (h & 0x7fffffff)]
                pos += h & 0x7fffffff
                if h & 0x80000000:
                    break
            frame = max(fr for o, fr in starts if o <= start)
            out.append((frame, key[0], bytes(rec)))
    out.sort()
    return out


# Callback capture: fixture name -> frame number of the callback call.
CBK_PICKS = {'cbk_cache_invalidation_chmod': 316, 'cbk_cache_invalidation_write': 350,
             'cbk_inodelk_contention': 597}


def callbacks(segs, outdir):
    for frame, stream, rec in records(segs):
        for name, want in CBK_PICKS.items():
            if frame == want:
                prog, vers, proc = struct.unpack('>III', rec[12:24])
                with open('%s/%s.hex' % (outdir, name), 'w') as f:
                    f.write('# callback capture frame %d, tcp stream %s, prog %d vers %d proc %d call\n'
                            % (frame, stream, prog, vers, proc))
                    h = rec.hex()
                    for i in range(0, len(h), 64):
                        f.write(h[i:i + 64] + '\n')


def main():
    if sys.argv[1] == '--callbacks':
        return callbacks(sys.argv[2], sys.argv[3])
    recs = records(sys.argv[1])
    outdir = sys.argv[2]
    calls, replies = {}, {}
    for frame, stream, rec in recs:
        xid, mtype = struct.unpack('>II', rec[:8])
        if mtype == 0:
            prog, vers, proc = struct.unpack('>III', rec[12:24])
            calls[frame] = (stream, xid, prog, vers, proc, rec)
        else:
            replies[(stream, xid)] = (frame, rec)
    picks = dict(PICKS)
    taken = set(picks.values())
    for frame in sorted(calls):
        stream, xid, prog, vers, proc, rec = calls[frame]
        if prog == FOP and proc in FOP_NAMES:
            name = 'fop_' + FOP_NAMES[proc]
            if name not in picks and frame not in taken:
                picks[name] = frame
                taken.add(frame)
    for name, frame in sorted(picks.items()):
        stream, xid, prog, vers, proc, rec = calls[frame]
        rframe, rrec = replies[(stream, xid)]
        for kind, fr, data in (('call', frame, rec), ('reply', rframe, rrec)):
            with open('%s/%s_%s.hex' % (outdir, name, kind), 'w') as f:
                f.write('# c-client-2x3.pcap frame %d, tcp stream %s, prog %d vers %d proc %d %s\n'
                        % (fr, stream, prog, vers, proc, kind))
                h = data.hex()
                for i in range(0, len(h), 64):
                    f.write(h[i:i + 64] + '\n')


main()
