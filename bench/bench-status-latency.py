#!/usr/bin/env python3
# bench-status-latency.py: issue 4 must-show 8: `status` latency while 16 phones sync (p50/p99)
"""usage: bench-status-latency.py [--phones 16] [--reports 40] [--interval-ms 5]

Environment: JETSAMD, DEVSIM, JETSAMGEN (built binaries). Starts devsim with PHONES
generated phones x REPORTS reports each, then jetsamd, and sends `status` requests over the
socket (a new connection per request, as jetsamctl does, and on one kept connection) from
jetsamd's start until every phone has finished its first sync. Prints the figures and a line
"RESULT<TAB>p50 .. ms, p99 .. ms<TAB>met|not met" (target p99 < 50 ms) for bench/run.
Figures are printed, never asserted."""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import harness  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        self.n = 0

    def call(self, cmd):
        self.n += 1
        self.s.sendall(json.dumps({"id": self.n, "cmd": cmd}).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(1 << 16)
                if not chunk:
                    raise OSError("daemon closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            m = json.loads(line)
            if m.get("id") == self.n:
                return m

    def close(self):
        self.s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=16)
    ap.add_argument("--reports", type=int, default=40)
    ap.add_argument("--interval-ms", type=float, default=5)
    ap.add_argument("--state-dir", default=None,
                    help="state dir of jetsamd (default: private, under /tmp); e.g. on tmpfs "
                         "to see the share of fsync")
    a = ap.parse_args()

    root = harness.tmpdir("jb-st-")
    t0 = time.monotonic()
    dirs = []
    for i in range(a.phones):
        d = os.path.join(root, "p%02d" % i)
        udid = "00008101-%016X" % (0xB0000 + i)
        subprocess.run([harness.binary("JETSAMGEN"), "phone", "--dir", d, "--udid", udid,
                        "--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
                        "--name", "bench %d" % i, "--reports", str(a.reports),
                        "--retired", "--synced", "--seed", str(1000 + i)], check=True)
        dirs.append(d)
    total_bytes = 0
    for d in dirs:
        for dp, _dn, fn in os.walk(os.path.join(d, "CrashReporter")):
            total_bytes += sum(os.path.getsize(os.path.join(dp, f)) for f in fn)
    print("generated %d phones x %d reports (%.1f MiB on the phones) in %.1f s; %d CPUs"
          % (a.phones, a.reports, total_bytes / 1048576.0, time.monotonic() - t0,
             os.cpu_count() or 0))

    ds = harness.Devsim(phones_dirs=dirs, control=False).start()
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, log_level="info", state_dir=a.state_dir,
                         extra_config={"resync_interval": "0"})
    jd.start()
    t_start = time.monotonic()
    fresh, kept = [], []
    keep = Conn(jd.socket)
    watch = Conn(jd.socket)
    done_at = None
    next_check = 0
    while True:
        t = time.monotonic()
        c = Conn(jd.socket)
        r = c.call("status")
        fresh.append((time.monotonic() - t) * 1000)
        c.close()
        if not r.get("ok"):
            harness.fail("status failed: %r" % r)
        t = time.monotonic()
        keep.call("status")
        kept.append((time.monotonic() - t) * 1000)
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + 0.25
            devs = watch.call("devices")["result"]["devices"]
            if len(devs) == a.phones and all(d["state"] == "idle" and d["last_sync"]
                                             for d in devs):
                done_at = time.monotonic()
                break
            if time.monotonic() - t_start > 600:
                harness.fail("phones did not finish syncing within 600 s")
        time.sleep(a.interval_ms / 1000.0)
    sync_s = done_at - t_start
    print("%d phones synced in %.2f s (%d reports, %.1f MiB/s), %d status samples meanwhile"
          % (a.phones, sync_s, a.phones * a.reports, total_bytes / 1048576.0 / sync_s,
             len(fresh)))
    for name, v in (("new connection per request (like jetsamctl)", fresh),
                    ("one kept connection", kept)):
        print("status latency, %s: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, "
              "mean %.2f ms" % (name, pct(v, 50), pct(v, 90), pct(v, 99), max(v),
                                statistics.mean(v)))
    keep.close()
    watch.close()
    jd.stop()
    ds.stop()
    p99 = pct(fresh, 99)
    print("RESULT\tp50 %.2f ms, p99 %.2f ms (%d samples during a %.1f s sync)\t%s"
          % (pct(fresh, 50), p99, len(fresh), sync_s, "met" if p99 < 50 else "not met"))


if __name__ == "__main__":
    main()
