#!/usr/bin/env python3
# bench-live.py: benchmark row i: jetsamd's CPU while following 32 phones' syslog_relay streams
"""usage: bench-live.py [--phones 32] [--seconds 20]

Environment: JETSAMD, DEVSIM, JETSAMGEN (built binaries). 32 devsim phones streaming their
system log at devsim's default rate (--syslog-rate 4 lines/s per phone), jetsamd with
live_detection = yes (the default) and resync_interval = 3600s, once every phone is idle
and followed: jetsamd's utime + stime (/proc/PID/stat) over --seconds, as % of one core.
Then one report is dropped into a phone's pending/ to show the phones were followed.
Prints progress on stderr and one line on stdout:
    ROW<TAB>i<TAB>what<TAB>figure<TAB>target<TAB>met|not met|n/a
Figures are printed, never asserted."""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench_sync", os.path.join(HERE, "bench-sync.py"))
bs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bs)

WHAT = "jetsamd CPU, {m} phones streaming syslog (live detection)"
TARGET = "<= 5 % of one core"


def log(msg):
    print(f"bench-live: {msg}", file=sys.stderr, flush=True)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def run(work, m, seconds):
    phones = []
    for i in range(m):
        path = os.path.join(work, f"p-{i:02d}")
        phones.append((path, bs.make_phone(path, 300 + i, 2)))
    dev = bs.Devsim(work, [])
    d = None
    try:
        d = bs.Jetsamd(work, dev.sock, tag="live")
        d.subscribe()
        t0 = time.monotonic()
        dev.control(*[f"attach {p}" for p, _ in phones])
        d.wait_synced([u for _, u in phones], 2, since=t0)
        # one follower thread per phone: wait until they are all up and streaming
        base = threads(d.proc.pid)
        time.sleep(2)
        n = threads(d.proc.pid)
        log(f"{m} phones idle; jetsamd has {n} threads ({base} two seconds earlier)")
        hz = os.sysconf("SC_CLK_TCK")
        c0, t0 = cpu_ticks(d.proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_ticks(d.proc.pid), time.monotonic()
        pct = (c1 - c0) / hz / (t1 - t0) * 100.0
        log(f"jetsamd CPU over {t1 - t0:.1f} s: {(c1 - c0) / hz:.2f} s = {pct:.2f} %")
        # proof that the phones were followed: a report dropped into pending/ arrives alone
        path, udid = phones[0]
        staged = os.path.join(work, "JetsamEvent-2031-02-02-000001.ips")
        product, osv, build = bs.PRODUCTS[300 % len(bs.PRODUCTS)]  # phones[0]'s
        subprocess.run([bs.ENV["JETSAMGEN"], "report", "--product", product, "--os-version", osv,
                        "--build", build, "--out", staged], check=True,
                       stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(path, "pending"), exist_ok=True)
        t2 = time.monotonic()
        os.rename(staged, os.path.join(path, "pending", os.path.basename(staged)))
        try:
            bs.wait_for(lambda: (d.devices()[udid].get("reports") or 0) >= 3, 10, step=0.05,
                        what="the dropped report")
            seen = f"a dropped report collected in {time.monotonic() - t2:.2f} s"
        except TimeoutError:
            seen = "a dropped report NOT collected within 10 s"
        log(seen)
        bs.row("i", WHAT.format(m=m), f"{pct:.2f} % over {t1 - t0:.0f} s ({n} threads; {seen})",
               TARGET, pct <= 5.0)
    finally:
        if d is not None:
            d.stop()
        dev.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    missing = [k for k in ("JETSAMD", "DEVSIM", "JETSAMGEN")
               if not (bs.ENV.get(k) and os.access(bs.ENV[k], os.X_OK))]
    if missing:
        bs.row("i", WHAT.format(m=args.phones),
               f"not available: not built: {', '.join(x.lower() for x in missing)}", TARGET,
               None)
        return 0
    with tempfile.TemporaryDirectory(prefix="jb-live-", dir="/tmp") as work:
        try:
            run(work, args.phones, args.seconds)
        except Exception as e:  # the row says why
            log(f"row i failed: {e}")
            # row_na: nothing when row i was printed before the failure (while stopping)
            bs.row_na("i", WHAT.format(m=args.phones), TARGET, str(e)[:120])
    return 0


if __name__ == "__main__":
    sys.exit(main())
