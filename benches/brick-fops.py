#!/usr/bin/env python3
"""Brick operations per file, per phase of the small-file workload, for any client's mount.

    benches/brick-fops.py MOUNT_DIR VOLUME [--files N]

Runs workload.py's small-file phases (create+write+close, stat, open+read+close, readdir+stat,
unlink; 10 directories) on MOUNT_DIR with `gluster volume profile VOLUME` on, and prints for each
phase its rate and the brick fops it caused per file, summed over all bricks. Needs root (the
gluster CLI) and leaves profiling on. Waits 1.5 s around each phase so attribute and entry caches
expire as they would in a longer run, and background unlocks are counted.
"""
import argparse, collections, os, re, subprocess, time

FOP_LINE = re.compile(r"\s+[\d.]+\s+[\d.]+\s+\w+\s+[\d.]+\s+\w+\s+[\d.]+\s+\w+\s+(\d+)\s+(\w+)")


def interval_counts(volume):
    """Fops since the previous call, summed over bricks (the 'Interval' part of the profile)."""
    out = subprocess.run(["gluster", "volume", "profile", volume, "info", "incremental"],
                         capture_output=True, text=True, check=True).stdout
    c = collections.Counter()
    for line in out.splitlines():
        m = FOP_LINE.match(line)
        if m:
            c[m.group(2)] += int(m.group(1))
    return c


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mount")
    p.add_argument("volume")
    p.add_argument("--files", type=int, default=300)
    a = p.parse_args()
    subprocess.run(["gluster", "volume", "profile", a.volume, "start"], capture_output=True)
    data = os.urandom(4096)
    base = os.path.join(a.mount, f"brick-fops-{os.getpid()}")
    dirs = [f"{base}/d{k}" for k in range(10)]
    for d in dirs:
        os.makedirs(d)
    paths = [f"{dirs[i % 10]}/f{i}" for i in range(a.files)]

    def create():
        for q in paths:
            with open(q, "wb") as f:
                f.write(data)

    def stat():
        for q in paths:
            os.stat(q)

    def read():
        for q in paths:
            with open(q, "rb") as f:
                if f.read() != data:
                    raise SystemExit(f"{q}: read back something else")

    def listing():
        seen = sum(1 for d in dirs for e in os.scandir(d) if e.stat())
        if seen != a.files:
            raise SystemExit(f"readdir saw {seen} of {a.files} files")

    def delete():
        for q in paths:
            os.unlink(q)

    try:
        interval_counts(a.volume)
        for name, fn in [("create", create), ("stat", stat), ("read", read), ("ls", listing), ("delete", delete)]:
            time.sleep(1.5)
            interval_counts(a.volume)
            t = time.perf_counter()
            fn()
            rate = a.files / (time.perf_counter() - t)
            time.sleep(1.5)
            c = interval_counts(a.volume)
            per = " ".join(f"{k}={v / a.files:.2f}" for k, v in c.most_common())
            print(f"{name:7s} {rate:8.1f}/s  total={sum(c.values()) / a.files:.2f}  {per}")
    finally:
        for q in paths:
            if os.path.exists(q):
                os.unlink(q)
        for d in dirs:
            os.rmdir(d)
        os.rmdir(base)


main()
