# chaos_loop.py: the loop stays live under heavy reports, 20 k-name imports and an outside lock (Must show 2)
"""While a phone delivers 8 reports of 15 MiB (180 000 kill entries each), while two imports of
20 000 distinct process names run and while an outside process holds the SQLite write lock
(BEGIN IMMEDIATE on jetsamd.db, 3 s, twice), a poller sends `status` every 20 ms: p99 must be
< 50 ms and max < 250 ms. jetsamd runs with WATCHDOG_USEC=2 s on a NOTIFY_SOCKET of this test:
no gap between WATCHDOG=1 pings may reach 2 s. Every report is stored once."""
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (NotifyListener, StatusPoller, banner, compact_report, daemon_keys,
                          device_json, harness, import_raw, incident, lost_doubled, must, rss_kib,
                          scaled, stats, stop_or_kill)  # noqa: E402

UDID = "00008101-00000000000000B2"
HEAVY = scaled(8, 3)
HEAVY_PROCS = scaled(180000, 60000)
NAMES = scaled(20000, 5000)
IMPORTS = 2
LOCKS, LOCK_HOLD = 2, 3.0
WATCHDOG_USEC = 2000000
P99_BOUND, MAX_BOUND = scaled(0.050, 0.100), scaled(0.250, 0.500)  # x2 under a sanitizer
DONE_BOUND = scaled(150, 240)  # then the figures so far are printed and checked


def importer(jd, out):
    for i in range(IMPORTS):
        inc = incident(22, 100 + i)
        data = compact_report(os.path.join(jd.dir, "names%d.ips" % i), inc, NAMES, names=None,
                              seed=i + 1)
        t0 = time.monotonic()
        r = import_raw(jd.socket, "JetsamEvent-names%d.ips" % i, data, timeout=DONE_BOUND)
        out.append((inc, time.monotonic() - t0, r.get("ok") or r.get("error"), len(data)))


def locker(db, out):
    for i in range(LOCKS):
        time.sleep(1.5)
        t0 = time.monotonic()
        try:
            con = sqlite3.connect(db, timeout=60, isolation_level=None)
            con.execute("BEGIN IMMEDIATE")
            got = time.monotonic() - t0
            time.sleep(LOCK_HOLD)
            con.execute("COMMIT")
            con.close()
            out.append("lock %d: acquired after %.2f s, held %.1f s" % (i + 1, got, LOCK_HOLD))
        except sqlite3.Error as e:
            out.append("lock %d: %r after %.2f s" % (i + 1, e, time.monotonic() - t0))


def main():
    banner("chaos-loop", "%d x %d-process reports, %d imports of %d names, %d outside locks" % (
        HEAVY, HEAVY_PROCS, IMPORTS, NAMES, LOCKS))
    ds = harness.Devsim()
    phone = device_json(os.path.join(ds.dir, "heavy"), UDID)
    t0 = time.monotonic()
    truth = {}
    pool = ["d%03d" % i for i in range(1000)]
    for i in range(HEAVY):
        inc = incident(21, i)
        data = compact_report(os.path.join(phone, "CrashReporter",
                                           "JetsamEvent-heavy-%d.ips" % i), inc, HEAVY_PROCS,
                              names=pool, seed=i)
        truth["incident:" + inc] = UDID
    print("phone: %d reports of %.1f MiB each, made in %.1f s" % (
        HEAVY, len(data) / 1048576, time.monotonic() - t0))
    for i in range(IMPORTS):
        truth["incident:" + incident(22, 100 + i)] = None
    ds.start(phones_dirs=[])
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={"resync_interval": "60s"})
    notify = NotifyListener(os.path.join(jd.dir, "chaos-notify.sock"))
    poller = None
    try:
        jd.start(wait_ready=False, env={"NOTIFY_SOCKET": notify.path,
                                        "WATCHDOG_USEC": str(WATCHDOG_USEC)})
        harness.check(notify.wait("READY=1", 30, jd.proc), "jetsamd did not send READY=1:\n%s"
                      % jd.stderr_text()[-2000:])
        # a reply that takes > 10 s counts as 10 s (the figure is then "max >= 10000 ms")
        poller = StatusPoller(jd.socket, period=0.02, timeout=10).start()
        t_start = time.monotonic()
        ds.ctl_ok("attach %s" % phone)
        imports, locks = [], []
        threads = [threading.Thread(target=importer, args=(jd, imports), daemon=True),
                   threading.Thread(target=locker, args=(os.path.join(jd.state_dir,
                                                                      "jetsamd.db"), locks),
                                    daemon=True)]
        for t in threads:
            t.start()
        rss_max = [0]

        def done():
            rss_max[0] = max(rss_max[0], rss_kib(jd.pid) or 0)
            if not jd.running():
                return True
            if any(t.is_alive() for t in threads):
                return False
            try:
                return set(truth) <= set(daemon_keys(jd.socket, timeout=10))
            except OSError:
                return False
        finished = harness.wait_until(done, timeout=DONE_BOUND, interval=1.0, what=False)
        took = time.monotonic() - t_start
        lat = poller.stop()
        errors = poller.errors
        poller = None
        for t in threads:
            t.join(1)
        if any(t.is_alive() for t in threads):
            print("an importer or the outside lock is still waiting after %.0f s" % took)
        for inc, secs, ok, size in imports:
            print("import of %d names (%.1f MB): %.1f s, ok=%s" % (NAMES, size / 1e6, secs, ok))
        for line in locks:
            print(line)
        print("everything stored after %.1f s%s; jetsamd VmRSS max %.1f MiB" % (
            took, "" if finished else " (NOT finished: bound %d s)" % DONE_BOUND,
            rss_max[0] / 1024))
        st = stats(lat)
        print("status: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d errors %s" % (
            st["n"], st["p50_ms"], st["p99_ms"], st["max_ms"], len(errors), errors[:2]))
        must(st["p99_ms"] < P99_BOUND * 1000, "status p99 < %d ms" % (P99_BOUND * 1000),
             "%.1f ms" % st["p99_ms"])
        must(st["max_ms"] < MAX_BOUND * 1000, "status max < %d ms" % (MAX_BOUND * 1000),
             "%.1f ms" % st["max_ms"])
        pings = [notify.times("READY=1")[0]] + notify.times("WATCHDOG=1")
        pings.append(time.monotonic())
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        print("watchdog: %d WATCHDOG=1 pings, max gap %.2f s (WATCHDOG_USEC %.1f s)" % (
            len(pings) - 2, max(gaps), WATCHDOG_USEC / 1e6))
        must(len(pings) > 2 and max(gaps) < WATCHDOG_USEC / 1e6,
             "the watchdog is never missed (every gap < %.1f s)" % (WATCHDOG_USEC / 1e6),
             "%d pings, max gap %.2f s" % (len(pings) - 2, max(gaps)))
        try:
            keys = daemon_keys(jd.socket, timeout=30)
        except OSError as e:
            keys = []
            print("reports query failed: %r" % e)
        lost, doubled = lost_doubled(truth, keys)
        print("reports: %d expected, lost %d, doubled %d" % (len(truth), lost, doubled))
        must(lost == 0 and doubled == 0, "every report is stored once",
             "lost %d, doubled %d" % (lost, doubled))
        must(jd.running(), "jetsamd still runs", "running=%s" % jd.running())
    finally:
        if poller:
            poller.stop()
        stop_or_kill(jd, timeout=15)
        notify.close()
        ds.cleanup()
    harness.finish("chaos-loop")


if __name__ == "__main__":
    main()
