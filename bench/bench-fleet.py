#!/usr/bin/env python3
# bench-fleet.py: issue 14 must-show 5: shipping throughput into PostgreSQL and the commit -> visible lag (p99) at 1 000 events/s
"""usage: bench-fleet.py [--rate 1000] [--seconds 30] [--events-per-report 50]
                      [--backlog-events 40000] [--runs 3]

Environment: JETSAMD, JETSAMGEN (built binaries; bench/run exports them). Needs PostgreSQL 15
(Debian postgresql-15) and a jetsamd that ships (issue 14's fleet_conninfo, fleet_host_id,
fleet_passfile and status "fleet"): without them it says so and exits 1 (bench/run then shows
the row as not available).

A real PostgreSQL (tests/lib/fleetfarm.py, with track_commit_timestamp = on) and one jetsamd
shipping to it. Reports (jetsamgen, EVENTS_PER_REPORT kills each, each with its own incident
id) are sent with `import`:
  lag:        at RATE events/s for SECONDS; per report, the lag is the commit time of the
              PostgreSQL transaction that made it visible (pg_xact_commit_timestamp of its
              row) minus the moment jetsamd answered the import (the report committed in
              its local store). p50/p99/max.
  throughput: PostgreSQL stopped, BACKLOG_EVENTS events imported (they wait in the outbox),
              PostgreSQL started: events shipped / time between the first and the last
              shipping commit (the reconnect delay is not counted), events/s.
Prints the figures of every run and "RESULT<TAB>.. events/s, lag p99 .. ms at .. events/s
<TAB>met|not met" (target: lag p99 < 1 s at 1 000 events/s) with the median of the runs.
Figures are printed, never asserted."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import harness  # noqa: E402
import pgserver  # noqa: E402
from fleetfarm import FleetPg, fleet_config, fleet_status, pct, wait_shipped  # noqa: E402

HOST = "bench-0"


def template(tmp, kills):
    """One generated report with `kills` kill events: (bytes, its incident id)."""
    path = os.path.join(tmp, "template.ips")
    argv = [harness.binary("JETSAMGEN"), "report", "--product", "iPhone15,2", "--os-version",
            "18.5", "--build", "22F76", "--seed", "1405", "--out", path,
            "--processes", str(kills + 40)]
    for k in range(kills):
        argv += ["--kill", f"App{k}:{'foreground' if k % 3 == 0 else 'background'}:"
                 f"per-process-limit:{180000 + k}"]
    subprocess.run(argv, check=True, capture_output=True)
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(rb'"incident(?:_id)?"\s*:\s*"([0-9A-Fa-f-]{36})"', data)
    if m is None:
        sys.exit("bench-fleet: no incident id in the generated report")
    return data, m.group(1)


def variant(data, incident):
    """The template with a fresh incident id (a new report key): (bytes, key)."""
    new = str(uuid.uuid4()).upper().encode()
    return data.replace(incident, new), "incident:" + new.decode()


def import_paced(jd, data, incident, rate, seconds=None, events=None):
    """Imports variants at rate events/s (None: as fast as possible) for seconds or until
    events were sent: {key: time the import was answered}, events sent."""
    c = harness.Client(jd.socket, timeout=30)
    answered, sent = {}, 0
    t0 = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - t0
            if (seconds is not None and elapsed >= seconds) or (events is not None and
                                                                 sent >= events):
                break
            if rate:
                ahead = sent / rate - elapsed
                if ahead > 0:
                    time.sleep(ahead)
            body, key = variant(data, incident)
            r = c.import_bytes(key[9:] + ".ips", body)
            if not r.get("ok"):
                sys.exit(f"bench-fleet: import failed: {r}")
            answered[key] = time.time()
            sent += r["result"]["report"]["events"]
    finally:
        c.close()
    return answered, sent


def commit_times(fpg, keys):
    """key -> commit time (epoch s) of the transaction that made its row visible."""
    rows = fpg.rows("SELECT key, extract(epoch FROM pg_xact_commit_timestamp(xmin)) "
                    f"FROM reports WHERE host_id = '{HOST}'")
    return {k: float(t) for k, t in rows if k in keys and t is not None}


def wait_all(jd, fpg, keys, timeout=300):
    ok, last = wait_shipped([jd], timeout, lambda: len(commit_times(fpg, keys)) >= len(keys))
    if not ok:
        sys.exit(f"bench-fleet: not shipped within {timeout}s: {last}")


def run(args, tmp, data, incident):
    fpg = FleetPg().start()
    try:
        with open(os.path.join(fpg.pg.datadir, "postgresql.conf"), "a") as f:
            f.write("track_commit_timestamp = on\n")
        fpg.halt()
        fpg.resume()
        jd = harness.Jetsamd(usbmuxd_socket="UNIX:" + os.path.join(tmp, "no-usbmuxd.sock"),
                             extra_config=fleet_config(fpg, HOST), log_level="info")
        jd.start()
        ok, last = wait_shipped([jd], 60)
        if not ok:
            sys.exit(f"bench-fleet: jetsamd does not connect to PostgreSQL: {last}")
        # lag at the target rate
        t0 = time.monotonic()
        answered, sent = import_paced(jd, data, incident, args.rate, seconds=args.seconds)
        rate = sent / (time.monotonic() - t0)
        wait_all(jd, fpg, set(answered))
        commits = commit_times(fpg, set(answered))
        lags = [(commits[k] - t) * 1000.0 for k, t in answered.items()]
        # throughput: a backlog shipped after an outage
        fpg.halt()
        backlog, events = import_paced(jd, data, incident, None, events=args.backlog_events)
        f = fleet_status(jd) or {}
        fpg.resume()
        wait_all(jd, fpg, set(backlog))
        ct = sorted(commit_times(fpg, set(backlog)).values())
        per = events / len(backlog)
        after_first = sum(1 for t in ct if t > ct[0]) * per
        tput = after_first / (ct[-1] - ct[0]) if ct[-1] > ct[0] else float("nan")
        jd.stop()
        print(f"  lag: {len(lags)} reports, {sent} events at {rate:.0f} events/s (asked "
              f"{args.rate:.0f}): p50 "
              f"{pct(lags, 50):.1f} ms, p99 {pct(lags, 99):.1f} ms, max {max(lags):.1f} ms")
        print(f"  throughput: {events} events ({len(backlog)} reports) from the outbox "
              f"(outbox depth {f.get('outbox')} when PostgreSQL came back) in {ct[-1] - ct[0]:.2f} s: "
              f"{tput:.0f} events/s")
        return tput, pct(lags, 99)
    finally:
        fpg.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--events-per-report", type=int, default=50)
    ap.add_argument("--backlog-events", type=int, default=40000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    ok, why = pgserver.pg_available()
    if not ok:
        sys.exit("bench-fleet: " + why)
    tmp = harness.tmpdir("jb-fleet-")
    data, incident = template(tmp, args.events_per_report)
    tputs, p99s = [], []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}", flush=True)
        tput, p99 = run(args, tmp, data, incident)
        tputs.append(tput)
        p99s.append(p99)
    tput, p99 = statistics.median(tputs), statistics.median(p99s)
    print(f"throughput events/s: min {min(tputs):.0f}, median {tput:.0f}; lag p99 ms: min "
          f"{min(p99s):.1f}, median {p99:.1f}")
    print(f"RESULT\t{tput:.0f} events/s, lag p99 {p99:.0f} ms at {args.rate:.0f} events/s"
          f"\t{'met' if p99 < 1000 else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
