#!/usr/bin/env python3
# fleet_farm.py: issue 14 must-shows 1 and 2: three jetsamd hosts ship to one PostgreSQL; an outage and a kill -9 lose and double nothing
"""
Three jetsamd instances (host ids farm-0, farm-1, farm-2), each with its own devsim and
phones, ship to one real PostgreSQL 15 (tests/lib/fleetfarm.py: the role authenticates with
the password of fleet_passfile; the config keys are those of the wave 4 contract:
fleet_conninfo, fleet_host_id, fleet_passfile).

Must-show 1: once shipped, `jetsamctl --fleet CONNINFO --json limits` equals the limits
computed from the union of the hosts' reports with `jetsamctl parse`, each report once; the
fleet's events and devices of each host are that host's own (`jetsamctl --json events`,
`devices` of its daemon), object for object.

Must-show 2: new reports keep arriving on the phones and are synced; PostgreSQL is stopped
for 30 s meanwhile, then started again; one jetsamd is kill -9'ed and restarted. Afterwards
PostgreSQL holds every report once (0 lost, 0 doubled: the (host, key) rows are exactly the
reports the phones hold, each key on one host only, each with all its events), every
daemon's status shows fleet outbox 0, and the limits still equal parse's. The status
latency of every host over the whole run is printed (p99: must-show figure, target 50 ms);
it is asserted only at a generous bound (FARM_STATUS_P99_MAX_MS, default 1000 ms), as the
test machine is shared.

Needs the daemon side of issue 14 (shipping, status "fleet"). Environment (meson): JETSAMD,
JETSAMCTL, DEVSIM, JETSAMGEN, JETSAM_CORPUS, SOURCE_ROOT; FARM_OUTAGE_S (default 30).
"""
import json
import os
import random
import shutil
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
from devices_common import (expected_from_trees, expected_limits, gen_phone, gen_report,  # noqa: E402
                            parse_files, report_key, start, sync_wait)
from fleetfarm import FleetPg, StatusSampler, fleet_config, fleet_status, pct, wait_shipped  # noqa: E402

OUTAGE_S = float(os.environ.get("FARM_OUTAGE_S", "30"))
P99_MAX_MS = float(os.environ.get("FARM_STATUS_P99_MAX_MS", "1000"))
# per host: its phones (udid, product, os, build, reports)
FARM = [
    [("00008110-0000000000FA0001", "iPhone14,5", "16.7.2", "20H115", 6),
     ("00008120-0000000000FA0002", "iPhone15,2", "18.5", "22F76", 5)],
    [("00008120-0000000000FB0001", "iPhone15,2", "18.6", "22G86", 6),
     ("00008101-0000000000FB0002", "iPhone13,2", "15.5", "19F77", 4)],
    [("00008112-0000000000FC0001", "iPad16,3", "26.4", "23E246", 5),
     ("00008120-0000000000FC0002", "iPhone15,2", "18.5", "22F76", 5)],
]

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


class Host:
    def __init__(self, i, root, fpg):
        self.id = f"farm-{i}"
        self.phones = []  # (udid, dir, product, os, build)
        for k, (udid, prod, osv, build, n) in enumerate(FARM[i]):
            d = gen_phone(root, f"h{i}p{k}", udid, prod, osv, build, reports=n,
                          seed=1400 + 10 * i + k)
            self.phones.append((udid, d, prod, osv, build))
        self.fpg = fpg
        self.ds = self.jd = self.sampler = None

    def start(self):
        self.ds, self.jd = start([p[1] for p in self.phones],
                                 extra_config=fleet_config(self.fpg, self.id))
        self.sampler = StatusSampler(self.jd)
        self.sampler.start()

    def stop(self):
        if self.sampler is None:
            return
        self.sampler.stop()
        if self.jd.running():
            self.jd.stop()
        self.ds.stop()


def fleet_json(fpg, *args):
    p = subprocess.run([harness.binary("JETSAMCTL"), "--fleet", fpg.conninfo, "--json", *args],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **fpg.env()))
    if p.returncode != 0:
        check(False, f"jetsamctl --fleet {' '.join(args)}: exit {p.returncode}: {p.stderr}")
        return None
    return json.loads(p.stdout)


def limits_of(v):
    out = {}
    for r in v["limits"]:
        out[(r["product"], r["build"], r["role"])] = {
            "count": r["count"], "min": r["min"], "max": r["max"], "median": r["median"],
            "phones": r["phones"], "processes": sorted(r["processes"])}
    return out


def expected(initial, extra):
    """key -> (host id, report) of every report the phones held at the start (initial, from
    on_phones()) plus the live ones (extra: (host id, udid, device facts, path of the file
    as written))."""
    out = dict(initial)
    for host_id, udid, facts, path in extra:
        pr = parse_files([path])[0]
        with open(path, "rb") as f:
            key = report_key(pr, f.read())
        rep = pr.get("report") or {}
        out.setdefault(key, (host_id, {
            "udid": udid, "paths": [(udid, os.path.basename(path))], "parsed": pr,
            "product": rep.get("product") or facts[0],
            "os_version": rep.get("os_version") or facts[1],
            "build": rep.get("build") or facts[2], "incident": rep.get("incident")}))
    return out


def on_phones(hosts):
    """key -> (host id, report) of the reports on the phones, by `jetsamctl parse`."""
    out = {}
    for h in hosts:
        for key, r in expected_from_trees([p[1] for p in h.phones]).items():
            out[key] = (h.id, r)
    return out


def check_store(fpg, want, label):
    """PostgreSQL holds exactly want's reports, each key on its host once, with its events."""
    rows = fpg.rows("SELECT host_id, key, n_events, "
                    "(SELECT count(*) FROM events e WHERE e.host_id = r.host_id "
                    "AND e.report_key = r.key) FROM reports r")
    got = {(h, k) for h, k, _, _ in rows}
    exp = {(h, k) for k, (h, _) in want.items()}
    lost, extra = exp - got, got - exp
    keys = [k for _, k, _, _ in rows]
    doubled = len(keys) - len(set(keys))
    check(not lost and not extra and doubled == 0,
          f"{label}: PostgreSQL holds the {len(exp)} reports: {len(lost)} lost, "
          f"{doubled} doubled, {len(extra)} unexpected {sorted(lost)[:3]} {sorted(extra)[:3]}")
    want_events = {k: len(r["parsed"].get("events") or []) for k, (_, r) in want.items()}
    bad = [(k, n, int(c)) for _, k, n, c in rows if int(c) != want_events.get(k, -1)]
    check(not bad, f"{label}: every report has its {sum(want_events.values())} events in "
          f"PostgreSQL, once ({bad[:3]})")


def check_limits(fpg, want, label):
    got = fleet_json(fpg, "limits")
    if got is None:
        return
    exp = expected_limits({k: r for k, (_, r) in want.items()})
    g = limits_of(got)
    diff = {k: (g.get(k), exp.get(k)) for k in set(g) | set(exp) if g.get(k) != exp.get(k)}
    check(not diff and exp, f"{label}: jetsamctl --fleet --json limits ({len(g)} rows) equals "
          f"the limits of parse over the union of the hosts' reports ({len(exp)} rows)"
          + (f" DIFF (fleet, parse) {list(diff.items())[:3]}" if diff else ""))


def check_per_host(fpg, hosts, label):
    """The fleet's events and devices of each host are that host's own answers (jetsamctl
    --json events / devices of its daemon), object for object, in order, without host_id."""
    fe, fd = fleet_json(fpg, "events", "--limit", "100000"), fleet_json(fpg, "devices")
    if fe is None or fd is None:
        return
    for h in hosts:
        mine = [{k: v for k, v in e.items() if k != "host_id"} for e in fe["events"]
                if e.get("host_id") == h.id]
        own = h.jd.ctl_json("events", "--limit", "100000")["events"]
        check(mine == own, f"{label}: the fleet's {len(mine)} events of {h.id} are its "
              f"daemon's {len(own)} events, object for object")
        mine = [{k: v for k, v in d.items() if k != "host_id"} for d in fd["devices"]
                if d.get("host_id") == h.id]
        own = h.jd.ctl_json("devices")["devices"]
        check(mine == own, f"{label}: the fleet's devices of {h.id} are its daemon's "
              f"({len(mine)}, {len(own)})" + ("" if mine == own else f" {mine} {own}"))


def feeder(hosts, stage, extra, halt, seed=77):
    """New reports on random phones, a `sync` after each, until halt is set."""
    rng = random.Random(seed)
    n = 0
    while not halt.is_set():
        h = rng.choice(hosts)
        udid, d, prod, osv, build = rng.choice(h.phones)
        path = os.path.join(stage, f"live-{n}.ips")
        gen_report(path, 5000 + n, prod, osv, build)
        shutil.copyfile(path, os.path.join(d, "CrashReporter", f"JetsamEvent-live-{n}.ips"))
        extra.append((h.id, udid, (prod, osv, build), path))
        if h.jd.running():
            h.jd.ctl("sync", timeout=30)
        n += 1
        halt.wait(0.3)


def main():
    ok, why = pgserver.pg_available()
    if not ok:
        print("FAIL: " + why)
        return 1
    root = harness.tmpdir("jt-farm-")
    stage = os.path.join(root, "stage")
    os.makedirs(stage)
    fpg = FleetPg().start()
    hosts = []
    try:
        hosts = [Host(i, root, fpg) for i in range(len(FARM))]
        initial = on_phones(hosts)  # before any daemon may remove one from a phone
        for h in hosts:
            h.start()
        for h in hosts:
            sync_wait(h.jd)
        want = expected(initial, [])
        done, last = wait_shipped([h.jd for h in hosts], 120, lambda: int(
            fpg.rows("SELECT count(*) FROM reports")[0][0]) >= len(want))
        check(done, f"every host shipped its reports, outbox 0 ({last})")
        # --- must-show 1 ---
        check_store(fpg, want, "must-show 1")
        check_limits(fpg, want, "must-show 1")
        check_per_host(fpg, hosts, "must-show 1")
        # --- must-show 2: outage and kill -9 during syncs ---
        extra, halt = [], threading.Event()
        t = threading.Thread(target=feeder, args=(hosts, stage, extra, halt), daemon=True)
        t.start()
        time.sleep(3)
        print(f"PostgreSQL stopped for {OUTAGE_S:.0f} s", flush=True)
        fpg.halt()
        time.sleep(min(8, OUTAGE_S / 3))
        victim = hosts[1]
        print(f"kill -9 {victim.id} (pid {victim.jd.pid})", flush=True)
        victim.jd.kill()
        time.sleep(3)
        victim.jd.start(**victim.jd._start_kw)
        time.sleep(max(0, OUTAGE_S - min(8, OUTAGE_S / 3) - 3))
        fpg.resume()
        print("PostgreSQL started again", flush=True)
        time.sleep(5)
        halt.set()
        t.join(60)
        for h in hosts:
            sync_wait(h.jd)
        want = expected(initial, extra)
        done, last = wait_shipped([h.jd for h in hosts], 180, lambda: int(
            fpg.rows("SELECT count(*) FROM reports")[0][0]) >= len(want))
        check(done, f"after the outage and the kill every host's fleet outbox is 0 ({last})")
        for h in hosts:
            f = fleet_status(h.jd) or {}
            check(f.get("enabled") is True and f.get("outbox") == 0 and
                  f.get("host_id") == h.id and f.get("last_error") in (None, ""),
                  f"{h.id}: status fleet {f}")
        check_store(fpg, want, f"must-show 2 ({len(extra)} reports during the run)")
        check_limits(fpg, want, "must-show 2")
        check_per_host(fpg, hosts, "must-show 2")
    except pgserver.PsqlError as e:
        check(False, str(e))
    finally:
        hosts = [h for h in hosts if h.sampler is not None]
        for h in hosts:
            h.sampler.stop()
        for h in hosts:
            print(f"MUST-SHOW 2 status latency {h.id}: {h.sampler.summary()}")
        worst = max((pct(h.sampler.samples, 99) for h in hosts if h.sampler.samples),
                    default=float("nan"))
        print(f"MUST-SHOW 2 status p99 over all hosts: {worst:.2f} ms (target < 50 ms)")
        if hosts:
            check(worst < P99_MAX_MS, f"no host's status p99 over {P99_MAX_MS:.0f} ms "
                  f"(generous bound: {worst:.2f} ms)")
        for h in hosts:
            h.stop()
        fpg.stop()
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
