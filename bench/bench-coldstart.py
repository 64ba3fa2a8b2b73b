#!/usr/bin/env python3
# bench-coldstart.py: rows j and k: jetsamd's first status reply on a big store (warm, cold) and bytes per event
"""usage: bench-coldstart.py --store DIR [--runs 3]

Environment: JETSAMD (built binary). DIR is a jetsamd state dir holding a filled store
(bench/run fills it with daemon/bench-store, the daemon's own store code: 1,000,000 events).
Row j: jetsamd is started on DIR and on an empty state dir in turn; the figure is the time
from the daemon's exec to the reply of the first `status` request on its socket (connect
retried every 0.5 ms). Warm: the store's files are in the page cache (one uncounted start
first). Cold: after the daemon stopped, jetsamd.db, jetsamd.db-wal and jetsamd.db-shm are
fsynced and dropped from the page cache (posix_fadvise POSIX_FADV_DONTNEED; fincore, when
installed, shows what stayed resident); the daemon's binary and libraries stay cached.
Min and median of --runs starts each; ratios are big / empty medians of this same run.
Row k: bytes per event: jetsamd.db + jetsamd.db-wal after a WAL checkpoint (TRUNCATE),
divided by the events the daemon's status reply counts.
Prints progress on stderr and one line per row on stdout:
    ROW<TAB>id<TAB>what<TAB>figure<TAB>target<TAB>met|not met|n/a
Figures are printed, never asserted."""
import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ENV = os.environ
DB_FILES = ("jetsamd.db", "jetsamd.db-wal", "jetsamd.db-shm")
WHAT_J = ("first status reply after a restart, 1 M-event store vs empty store: warm; cold "
          "(db dropped from the page cache)")
WHAT_K = "store size per event at 1 M events (db + WAL after a checkpoint)"


def log(msg):
    print(f"bench-coldstart: {msg}", file=sys.stderr, flush=True)


PRINTED = set()


def row(rid, what, figure, target, met):
    if rid in PRINTED:  # a row printed before a later failure stands
        return
    PRINTED.add(rid)
    status = "n/a" if met is None else ("met" if met else "not met")
    print(f"ROW\t{rid}\t{what}\t{figure}\t{target}\t{status}", flush=True)


def first_status(state_dir, work):
    """Start jetsamd on state_dir; returns (seconds from exec to the first status reply,
    seconds of that request alone, the reply's result); the daemon is stopped again"""
    sock = os.path.join(work, "ctl.sock")
    conf = os.path.join(work, "jetsamd.conf")
    with open(conf, "w") as f:
        f.write("resync_interval = 3600s\n")
    if os.path.exists(sock):
        os.unlink(sock)
    with open(os.path.join(work, "jetsamd.log"), "ab") as logf:
        t0 = time.monotonic()
        proc = subprocess.Popen([ENV["JETSAMD"], "--config", conf, "--socket", sock,
                                 "--state-dir", state_dir, "--usbmuxd-socket",
                                 f"UNIX:{os.path.join(work, 'no-usbmuxd.sock')}"],
                                stdout=logf, stderr=logf)
        try:
            s = None
            while s is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"jetsamd exited with {proc.returncode} (log: {logf.name})")
                if time.monotonic() - t0 > 120:
                    raise TimeoutError("no jetsamd socket after 120 s")
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    c.connect(sock)
                    s = c
                except OSError:
                    c.close()
                    time.sleep(0.0005)
            t1 = time.monotonic()
            s.sendall(b'{"id":1,"cmd":"status"}\n')
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("jetsamd closed the connection")
                buf += chunk
            t2 = time.monotonic()
            s.close()
            msg = json.loads(buf.split(b"\n", 1)[0])
            if not msg.get("ok"):
                raise RuntimeError(f"status: {msg.get('error')}")
            return t2 - t0, t2 - t1, msg["result"]
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def drop_cache(state_dir):
    """Write back and drop the store's files from the page cache; returns what fincore says
    stayed resident (or why it cannot say)"""
    paths = [os.path.join(state_dir, f) for f in DB_FILES
             if os.path.exists(os.path.join(state_dir, f))]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    if not shutil.which("fincore"):
        return "fincore not installed"
    p = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,FILE", *paths],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return "; ".join(" ".join(line.split()) for line in p.stdout.decode().splitlines())


def start_once(name, state_dir, work, i, cold):
    """one timed start of jetsamd on state_dir; returns (seconds to the reply, result)"""
    if cold:
        log(f"{name} cold: resident after the drop: {drop_cache(state_dir)}")
    total, req, res = first_status(state_dir, work)
    log(f"{name} {'cold' if cold else 'warm'} start {i + 1}: first status reply "
        f"{total * 1e3:.1f} ms after exec (the request itself {req * 1e3:.1f} ms); "
        f"{res.get('reports')} reports, {res.get('events')} events")
    return total, res


def fmt(v):
    return f"min {min(v) * 1e3:.0f} / med {statistics.median(v) * 1e3:.0f} ms"


def store_size(state_dir):
    """bytes of jetsamd.db + jetsamd.db-wal after a checkpoint"""
    db = os.path.join(state_dir, "jetsamd.db")
    try:
        con = sqlite3.connect(db)
        r = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        con.close()
        log(f"k: wal_checkpoint(TRUNCATE): busy {r[0]}, log {r[1]}, checkpointed {r[2]}")
    except sqlite3.Error as e:
        log(f"k: no checkpoint ({e}): the files as they are")
    sizes = {f: os.path.getsize(os.path.join(state_dir, f)) for f in DB_FILES[:2]
             if os.path.exists(os.path.join(state_dir, f))}
    log("k: " + ", ".join(f"{f} {n} bytes" for f, n in sizes.items()))
    return sum(sizes.values())


def run(store, runs, work):
    empty = os.path.join(work, "empty")
    os.makedirs(empty)
    fig, ratios = {}, {}
    result = {}
    for name, d in (("empty", empty), ("big", store)):
        # uncounted: creates the empty store, runs any migration, warms the page cache
        total, _, result[name] = first_status(d, work)
        log(f"{name}: first start {total * 1e3:.1f} ms (uncounted)")
    for cold in (False, True):
        kind = "cold" if cold else "warm"
        t = {"empty": [], "big": []}
        for i in range(runs):  # alternating, so that both see the same machine load
            for name, d in (("empty", empty), ("big", store)):
                total, result[name] = start_once(name, d, work, i, cold)
                t[name].append(total)
        ratios[kind] = statistics.median(t["big"]) / statistics.median(t["empty"])
        fig[kind] = f"{kind} {fmt(t['big'])} vs {fmt(t['empty'])} = {ratios[kind]:.2f}x"
    events = result["big"].get("events") or 0
    row("j", WHAT_J.replace("1 M-event", f"{events:,}-event"),
        f"{fig['warm']}; {fig['cold']} (medians of {runs} start{'s' if runs > 1 else ''})",
        "<= 1.5x", max(ratios.values()) <= 1.5)
    size = store_size(store)
    if events:
        per = size / events
        row("k", WHAT_K.replace("1 M", f"{events:,}"),
            f"{per:.0f} bytes/event ({size / 1e6:.1f} MB, {events:,} events)", "<= 250",
            per <= 250)
    else:
        row("k", WHAT_K, "not measured: the store has no events", "<= 250", None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True, help="a jetsamd state dir with a filled store")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    reason = None
    if not (ENV.get("JETSAMD") and os.access(ENV["JETSAMD"], os.X_OK)):
        reason = "not built: jetsamd"
    elif not os.path.exists(os.path.join(args.store, "jetsamd.db")):
        reason = f"no store in {args.store}"
    if reason is None:
        with tempfile.TemporaryDirectory(prefix="jb-cold-", dir="/tmp") as work:
            try:
                run(args.store, args.runs, work)
                return 0
            except Exception as e:  # the rows say why
                log(f"rows j/k failed: {e}")
                reason = str(e)[:120]
    row("j", WHAT_J, f"not measured: {reason}", "<= 1.5x", None)
    row("k", WHAT_K, f"not measured: {reason}", "<= 250", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
