#!/usr/bin/env python3
# fleet_ship.py: jetsamd ships reports, events and devices to a real PostgreSQL 15: each once, through an outage and a kill -9
"""
One jetsamd with three devsim phones ships to a real PostgreSQL 15 (tests/lib/pgserver.py,
Unix socket only) with small batches (fleet_batch = 7 events):
 1. after the first syncs, PostgreSQL's reports/events/devices equal the daemon's own
    `reports`/`events`/`devices` (every report and event once);
 2. PostgreSQL is stopped (pg_ctl stop) while new reports are synced: `status` keeps
    answering, with fleet connected false, outbox > 0, last_error set; after pg_ctl start
    the outbox drains: 0 lost, 0 doubled;
 3. new reports, then jetsamd is killed (SIGKILL) while it ships; restarted on the same
    state dir, it ships the rest: 0 lost, 0 doubled, outbox empty;
 4. restarted under another fleet_host_id with fleet_ship_facts and fleet_ship_raw: the
    whole store ships again under the new id, with each report's facts and raw bytes.
A password in fleet_conninfo is refused at start with a clear error.
Environment (meson): JETSAMD, JETSAMCTL, DEVSIM, JETSAMGEN, JETSAM_CORPUS, SOURCE_ROOT.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

ROOT = os.environ.get("SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pgserver  # noqa: E402
from devices_common import gen_phone, gen_report, sync_wait, wait_states  # noqa: E402
from harness import check, check_eq, fail, wait_until  # noqa: E402

HOST = "ship-test"
A = "00008101-00000000000F0A01"
B = "00008110-00000000000F0B02"
C = "c0ffee00000000000000000000000000000f0003"


def status(jd):
    t = time.monotonic()
    with jd.client() as c:
        s = c.call("status")
    return s, time.monotonic() - t


def fleet(jd):
    return status(jd)[0]["fleet"]


def daemon_view(jd):
    """(reports key -> REPORT, events (key, seq) -> EVENT, devices udid -> DEVICE)."""
    with jd.client() as c:
        reports = c.call("reports", limit=100000)["reports"]
        devices = c.call("devices")["devices"]
        # collection order: by report seq, then the event's place in its report
        coll = c.call("events", after=0, limit=100000)["events"]
    allev = jd.ctl_json("events", "--limit", "100000")["events"]
    by_id = {r["id"]: r for r in reports}
    events, seq = {}, {}
    for e in coll:
        k = by_id[e["report_id"]]["key"]
        i = seq.get(k, 0)
        seq[k] = i + 1
        events[(k, i)] = e
    check_eq(len(events), len(allev), "collection-order events = all events")
    return {r["key"]: r for r in reports}, events, {d["udid"]: d for d in devices}


def pg_view(pg, host):
    reps = pg.rows("SELECT key, n_events, status, udid FROM reports WHERE host_id = '%s'" % host)
    evs = pg.rows("SELECT report_key, seq, process, coalesce(limit_bytes::text, ''), "
                  "event->>'report_id' FROM events WHERE host_id = '%s'" % host)
    devs = pg.rows("SELECT udid, state, attached::text FROM devices WHERE host_id = '%s'" % host)
    return reps, evs, devs


def compare(jd, pg, what, host=HOST):
    reports, events, devices = daemon_view(jd)
    reps, evs, devs = pg_view(pg, host)
    check_eq(len(reps), len(set(r[0] for r in reps)), what + ": report keys once in PostgreSQL")
    check_eq(sorted(r[0] for r in reps), sorted(reports), what + ": reports (0 lost, 0 doubled)")
    for key, n, st, udid in reps:
        check_eq((int(n), st, udid), (reports[key]["events"], reports[key]["status"],
                                      reports[key]["udid"]), what + ": report " + key)
    check_eq(len(evs), len(events), what + ": event count (0 lost, 0 doubled)")
    for key, seq, proc, lim, rid in evs:
        e = events.get((key, int(seq)))
        check(e is not None, "%s: event %s/%s only in PostgreSQL" % (what, key, seq))
        check_eq((proc, lim, rid), (e["process"], "" if e["limit_bytes"] is None
                                    else str(e["limit_bytes"]), str(e["report_id"])),
                 "%s: event %s/%s" % (what, key, seq))
    check_eq(sorted(d[0] for d in devs), sorted(devices), what + ": device rows")
    print("ok   %s: %d reports, %d events, %d devices in PostgreSQL" % (
        what, len(reps), len(evs), len(devs)))


def drained(jd):
    """The outbox is empty and stays so over two looks at it (the daemon reads the outbox
    every 250 ms while idle: a commit just after a read shows at the next one)."""
    def empty():
        f = fleet(jd)
        return f if f["outbox"] == 0 and f["connected"] and f["last_error"] is None else None
    if not empty():
        return None
    time.sleep(0.6)
    return empty()


def add_reports(phone, n, seed):
    for i in range(n):
        gen_report(os.path.join(phone, "CrashReporter", "JetsamEvent-new-%d-%d.ips"
                                % (seed, i)), seed * 100 + i)


class Poller(threading.Thread):
    """`status` every 20 ms through the outage and the restarts: its latencies are printed
    (figures, not asserted: tests make no timed assertion)."""

    def __init__(self, jd):
        super().__init__(daemon=True)
        self.jd, self.times, self.stopped = jd, [], False
        self.lock = threading.Lock()  # held while jetsamd is killed and restarted

    def run(self):
        while not self.stopped:
            with self.lock:
                self.times.append(status(self.jd)[1])
            time.sleep(0.02)

    def report(self):
        self.stopped = True
        self.join()
        t = sorted(self.times)
        if t:
            print("ok   status while shipping: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                len(t), t[len(t) // 2] * 1000, t[int(len(t) * 0.99)] * 1000, t[-1] * 1000))


def password_refused(pg):
    jd = harness.Jetsamd(usbmuxd_socket="UNIX:/nonexistent/usbmuxd",
                         extra_config={"fleet_conninfo": pg.conninfo + " password=secret"})
    jd.start(timeout=10, wait_ready=False)
    rc = jd.proc.wait(timeout=10)
    err = jd.stderr_text()
    check(rc not in (None, 0), "a password in fleet_conninfo: jetsamd exits (rc %r)" % rc)
    check("fleet_conninfo" in err and "password" in err and "passfile" in err,
          "the error names the key and the passfile: %r" % err[-400:])
    print("ok   a password in fleet_conninfo is refused")


def main():
    ok, why = pgserver.pg_available()
    if not ok:
        print("FAIL: " + why)
        return 1
    pg = pgserver.PgServer().start()
    root = harness.tmpdir("jt-fship-")
    pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=6, seed=31)
    pb = gen_phone(root, "b", B, "iPhone14,5", "16.7.2", "20H115", reports=5, retired=True,
                   seed=32)
    pc = gen_phone(root, "c", C, "iPhone10,6", "14.8", "18H17", reports=4, seed=33)
    ds = harness.Devsim(phones_dirs=[pa, pb, pc]).start()
    cfg = {"resync_interval": "0", "fleet_conninfo": pg.conninfo, "fleet_host_id": HOST,
           "fleet_batch": "7", "fleet_retry_max": "2s", "live_detection": "no"}
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config=cfg).start()
    wait_states(jd, {A: "idle", B: "idle", C: "idle"}, timeout=60)
    f = wait_until(lambda: drained(jd), timeout=60, what="the outbox drains")
    check_eq(f["host_id"], HOST, "status fleet host_id")
    check(f["enabled"] and f["shipped"] > 0 and f["last_shipped_at"], "status fleet: %r" % f)
    compare(jd, pg, "first syncs")
    v = pg.rows("SELECT max(version) FROM jetsam_schema_version")
    check_eq(v, [("2",)], "the daemon applied the fleet schema")
    check_eq(pg.rows("SELECT host_id, daemon FROM hosts"), [(HOST, "jetsamd 0.1.0")],
             "hosts row")

    # 2. PostgreSQL stopped during syncs
    poller = Poller(jd)
    poller.start()
    rc, out = pg._run_tool([os.path.join(pg.bindir, "pg_ctl"), "-D", pg.datadir, "-m", "fast",
                            "-w", "stop"])
    check(rc == 0, "pg_ctl stop: " + out)
    add_reports(pa, 4, 41)
    add_reports(pc, 3, 42)
    sync_wait(jd)
    worst = 0.0
    for _ in range(30):
        s, dt = status(jd)
        worst = max(worst, dt)
        f = s["fleet"]
        if not f["connected"] and f["outbox"] > 0 and f["last_error"]:
            break
        time.sleep(0.2)
    check(not f["connected"] and f["outbox"] > 0 and f["last_error"],
          "status during the outage: %r" % f)
    print("ok   during the outage: outbox %d, last_error %r (slowest status %.1f ms)"
          % (f["outbox"], f["last_error"][:80], worst * 1000))
    # held down a while longer: retries (fleet_retry_max 2s) fail, nothing is lost or shipped
    end = time.monotonic() + 4
    while time.monotonic() < end:
        g = fleet(jd)
        check(not g["connected"] and g["outbox"] >= f["outbox"] and g["last_error"]
              and g["shipped"] == f["shipped"], "status during the outage: %r" % g)
        time.sleep(0.25)
    rc, out = pg._run_tool([os.path.join(pg.bindir, "pg_ctl"), "-D", pg.datadir, "-l",
                            pg.logfile, "-w", "start"])
    check(rc == 0, "pg_ctl start: " + out)
    wait_until(lambda: drained(jd), timeout=60, what="the outbox drains after the outage")
    compare(jd, pg, "after the outage")

    # 3. kill -9 while shipping, restart on the same state dir
    add_reports(pb, 20, 51)
    add_reports(pa, 20, 52)
    shipped = fleet(jd)["shipped"]
    sync_wait(jd)
    f = wait_until(lambda: (lambda f: f if f["shipped"] > shipped else None)(fleet(jd)),
                   timeout=30, what="shipping started")
    with poller.lock:
        jd.proc.send_signal(signal.SIGKILL)
        print("ok   killed with %d outbox entries left (as of the last read)" % f["outbox"])
        jd.proc.wait(timeout=10)
        jd.start()
    wait_states(jd, {A: "idle", B: "idle", C: "idle"}, timeout=60)
    wait_until(lambda: drained(jd), timeout=60, what="the outbox drains after kill -9")
    compare(jd, pg, "after kill -9")
    poller.report()
    check_eq(jd.stop(), 0, "jetsamd exits 0")

    # 4. another host id ships the whole store again, now with facts and raw bytes
    jd.write_config(dict(cfg, fleet_host_id=HOST + "-2", fleet_ship_facts="yes",
                         fleet_ship_raw="yes"))
    jd.start()
    wait_until(lambda: drained(jd), timeout=60, what="the outbox drains under a new host id")
    compare(jd, pg, "a new host id", host=HOST + "-2")
    bad = pg.rows("SELECT key FROM reports WHERE host_id = '%s-2' AND (raw IS NULL OR "
                  "encode(sha256(raw), 'hex') <> sha256 OR facts->>'incident' IS NULL OR "
                  "facts->>'incident' <> incident)" % HOST)
    check_eq(bad, [], "raw bytes (their sha256) and facts (their incident) of every report")
    check_eq(pg.rows("SELECT count(*) FROM reports WHERE host_id = '%s' AND raw IS NOT NULL"
                     % HOST), [("0",)], "no raw bytes without fleet_ship_raw")
    print("ok   facts and raw bytes shipped with fleet_ship_facts / fleet_ship_raw")
    check_eq(jd.stop(), 0, "jetsamd exits 0")
    ds.stop()
    password_refused(pg)
    pg.stop()
    print("fleet-ship: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
