# chaos_clients.py: 500 hostile and idle clients; a new client's status < 100 ms, RSS <= 64 MiB (Must show 3)
"""500 connections at once: 100 that ask for 100 000 events (20 000 exist) and never read,
40 half-sent imports (announce 16 MiB, send 1 KiB, stop), 260 ordinary clients that sent
`status` once and stay connected. Meanwhile a new client's `status` must answer in < 100 ms
and jetsamd's VmRSS (sampled every 50 ms) must stay under 64 MiB with the default limits."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (SANITIZED, banner, compact_report, harness, incident, must,
                          raise_nofile, rss_kib, scaled, stats, status_once,
                          vm_hwm_kib)  # noqa: E402

TOTAL, IDLE, NOREAD, HALF = 500, 100, 100, 40
EVENTS_REPORTS = scaled(2, 1)  # reports of 10 000 kill events each: an events reply is ~8 MB
EVENTS_PER_REPORT = 10000
RSS_BOUND_KIB = 64 * 1024  # under a sanitizer: the growth over the idle daemon's RSS
STATUS_BOUND = scaled(0.100, 0.200)


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max, self.n = pid, 0, 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            v = rss_kib(self.pid)
            if v:
                self.max = max(self.max, v)
                self.n += 1
            self.stop_ev.wait(0.05)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    return s


def main():
    banner("chaos-clients", "%d clients: %d idle, %d never read, %d half-sent imports" % (
        TOTAL, IDLE, NOREAD, HALF))
    nofile = raise_nofile(TOTAL * 2 + 256)
    print("RLIMIT_NOFILE %d (this process and jetsamd)" % nofile)
    jd = harness.Jetsamd(extra_config={"resync_interval": "60s"})
    socks = []
    sampler = None
    if SANITIZED:
        # ASan keeps freed blocks in a quarantine (256 MiB by default) before reusing them:
        # RSS would measure the quarantine, not what clients cost. A small one keeps the
        # use-after-free checks and makes the growth bound meaningful.
        os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                      ":quarantine_size_mb=8:thread_local_quarantine_size_kb=64")
    try:
        jd.start()
        names = ["daemon-%03d" % i for i in range(200)]
        t0 = time.monotonic()
        with harness.Client(jd.socket, timeout=300) as c:
            for i in range(EVENTS_REPORTS):
                data = compact_report(os.path.join(jd.dir, "ev%d.ips" % i), incident(31, i),
                                      EVENTS_PER_REPORT, names=names, seed=i)
                r = c.import_bytes("JetsamEvent-ev%d.ips" % i, data)
                harness.check(r.get("ok"), "import: %r" % r)
            n_events = c.call("status")["events"]
        print("setup: %d events imported in %.1f s; jetsamd VmRSS after the imports %s KiB" % (
            n_events, time.monotonic() - t0, rss_kib(jd.pid)))
        # the bound is for what clients cost: start from a fresh process on the same store
        jd.restart()
        rss0 = rss_kib(jd.pid) or 0
        print("restarted: VmRSS %d KiB" % rss0)
        sampler = RssSampler(jd.pid)
        sampler.start()
        refused = 0
        # the costly kinds first: a daemon that accepts only the first N gets those
        kinds = ["noread"] * NOREAD + ["half"] * HALF + ["idle"] * IDLE + \
            ["ordinary"] * (TOTAL - IDLE - NOREAD - HALF)
        t0 = time.monotonic()
        for k in kinds:
            try:
                s = connect(jd.socket)
                if k == "noread":
                    s.sendall(b'{"id":1,"cmd":"events","limit":100000}\n')
                elif k == "half":
                    s.sendall(b'{"id":1,"cmd":"import","name":"JetsamEvent-half.ips",'
                              b'"size":16777216}\n' + b"{" * 1024)
                elif k == "ordinary":
                    s.sendall(b'{"id":1,"cmd":"status"}\n')
                socks.append((k, s))
            except OSError:
                refused += 1
        print("%d connections opened in %.1f s, %d refused or timed out" % (
            len(socks), time.monotonic() - t0, refused))
        # a new client, again and again, while all of them are connected
        lat, errors = [], []
        end = time.monotonic() + scaled(10, 15)
        while time.monotonic() < end:
            t1 = time.monotonic()
            try:
                lat.append(status_once(jd.socket, timeout=5))
            except (OSError, EOFError, ValueError) as e:
                lat.append(time.monotonic() - t1)  # a failure counts too (see "failed")
                errors.append(repr(e))
            time.sleep(0.1)
        st = stats(lat)
        print("new client's status: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d failed %s" % (
            st["n"], st["p50_ms"], st["p99_ms"], st["max_ms"], len(errors), errors[:2]))
        must(not errors and st["max_ms"] < STATUS_BOUND * 1000,
             "a new client's status answers in < %d ms%s" % (
                 STATUS_BOUND * 1000, " (x2 under a sanitizer)" if SANITIZED else ""),
             "max %.1f ms, %d failed" % (st["max_ms"], len(errors)))
        # how many of each kind did the daemon keep?
        kept = {}
        for k, s in socks:
            s.setblocking(False)
            try:
                alive = s.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                alive = True
            except OSError:
                alive = False
            kept[k] = kept.get(k, 0) + (1 if alive else 0)
        print("connections still open per kind: %s" % json.dumps(kept))
        sampler.stop_ev.set()
        sampler.join(2)
        print("jetsamd VmRSS: max %.1f MiB over %d samples, now %.1f MiB, VmHWM %s KiB" % (
            sampler.max / 1024, sampler.n, (rss_kib(jd.pid) or 0) / 1024,
            vm_hwm_kib(jd.pid)))
        if SANITIZED:  # shadow memory and quarantine: bound the growth instead
            must(sampler.max - rss0 < RSS_BOUND_KIB, "jetsamd VmRSS grows by less than 64 MiB "
                 "(sanitizer build)", "+%.1f MiB" % ((sampler.max - rss0) / 1024))
        else:
            must(sampler.max < RSS_BOUND_KIB, "jetsamd VmRSS stays under 64 MiB",
                 "max %.1f MiB" % (sampler.max / 1024))
        must(jd.running(), "jetsamd still runs", "running=%s" % jd.running())
    finally:
        if sampler:
            sampler.stop_ev.set()
        for _k, s in socks:
            s.close()
        if jd.running():
            t = time.monotonic()
            rc = jd.stop(timeout=30)
            print("SIGTERM: exit %s after %.1f s" % (rc, time.monotonic() - t))
    harness.finish("chaos-clients")


if __name__ == "__main__":
    main()
