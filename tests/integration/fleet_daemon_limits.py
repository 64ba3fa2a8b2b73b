#!/usr/bin/env python3
# fleet_daemon_limits.py: jetsam_limits in PostgreSQL equals jetsamd's own `limits` for the same reports, split over 3 hosts
"""
A real jetsamd imports the corpus (tests/data/corpus) and jetsamgen reports; its `reports`
and `events` (jetsamctl --json) are then shipped into a real PostgreSQL 15 with the SQL of
fleet/README.md, split over three host ids, with one report shipped by two hosts and every
batch delivered twice. `jetsam_limits`, in its documented order, must equal
`jetsamctl --json limits` of the daemon row for row: product, os_version, build, role,
count, phones, min, median, max, first_seen, last_seen, processes and DRIFT.
Environment (meson): JETSAMD, JETSAMCTL, JETSAMGEN (optional), JETSAM_CORPUS, SOURCE_ROOT.
"""
import glob
import json
import os
import subprocess
import sys

ROOT = os.environ.get("SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from harness import Jetsamd, fail, tmpdir  # noqa: E402
import pgserver  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_schema  # noqa: E402  (the README SQL and its delivery)
from fleet_schema import check  # noqa: E402  (prints ok/FAIL, returns the condition)

HOSTS = ["host-a", "host-b", "host-c"]


def report_files(d):
    root = os.environ.get("JETSAM_CORPUS") or os.path.join(ROOT, "tests", "data", "corpus")
    files = sorted(glob.glob(os.path.join(root, "jetsam", "*.ips")) +
                   glob.glob(os.path.join(root, "excresource", "*.ips")))
    check(len(files) >= 20, f"the corpus has reports ({len(files)})")
    gen = os.environ.get("JETSAMGEN")
    # (product, os, build, foreground pages): iPad16,3 6 GB -> 3 GB (16 KiB pages, the
    # generator writes limit = footprint for per-process-limit), iPhone15,2 -2 %
    specs = [("iPad16,3", "26.3", "23D127", 393216), ("iPad16,3", "26.4", "23E246", 196608),
             ("iPhone15,2", "18.5", "22F76", 192000), ("iPhone15,2", "18.6", "22G86", 188160)]
    for i, (prod, osv, build, pages) in enumerate(specs if gen else []):
        for k, delta in enumerate([0, 16, -16, 32]):  # even count: the lower middle is +0
            f = os.path.join(d, f"gen-{i}-{k}.ips")
            argv = [gen, "report", "--product", prod, "--os-version", osv, "--build", build,
                    "--seed", str(1400 + 10 * i + k), "--out", f,
                    "--time", f"2026-0{i + 1}-1{k}T10:00:00Z",
                    "--kill", f"Game{k}:foreground:per-process-limit:{pages + delta}",
                    "--kill", f"helperd:daemon:per-process-limit:{3000 + 100 * k}"]
            if k % 2:
                argv += ["--kill", "Mail:background:vm-pageshortage:2000"]
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"jetsamgen: {p.stderr}")
            files.append(f)
    return files


def collect(files):
    """Imports every file into a real jetsamd -> (reports, events, limits) as JSON."""
    d = tmpdir("jt-fleetd-")
    j = Jetsamd(usbmuxd_socket="UNIX:" + os.path.join(d, "no-usbmuxd.sock"))
    j.start()
    c = j.client()
    for f in files:
        with open(f, "rb") as fh:
            r = c.import_bytes(os.path.basename(f), fh.read())
        if not r.get("ok"):
            fail(f"import {f}: {r}")
    c.close()
    reports = j.ctl_json("reports", "--limit", "100000")["reports"]
    events = j.ctl_json("events", "--limit", "100000")["events"]
    limits = j.ctl_json("limits")["limits"]
    j.stop()
    return reports, events, limits


def rows_for(host, reports, events):
    """PROTOCOL.md REPORT/EVENT objects -> the staging rows of one host."""
    by_id = {r["id"]: r for r in reports}
    reps = []
    for r in reports:
        reps.append(dict(
            host_id=host, key=r["key"], incident=r["incident"], udid=r["udid"], path=r["path"],
            size=r["size"], sha256=r["sha256"], status=r["status"], error=r["error"],
            variant=r["variant"], product=r["product"], os_version=r["os_version"],
            build=r["build"], timestamp=r["timestamp"], time=None, n_events=r["events"],
            collected_at=r["collected"], removed_from_device=r["removed_from_device"],
            facts=None, raw=None))
    evs = []
    seq = {}
    for e in reversed(events):  # oldest first; seq = position within its report
        rep = by_id.get(e["report_id"])
        if rep is None:
            continue
        s = seq.get(rep["key"], 0)
        seq[rep["key"]] = s + 1
        evs.append(dict(
            host_id=host, report_key=rep["key"], seq=s, udid=e["udid"], product=e["product"],
            os_version=e["os_version"], build=e["build"], time=e["time"], process=e["process"],
            pid=e["pid"], uuid=e["uuid"], reason=e["reason"], role=e["role"],
            priority=e["priority"], rpages=e["rpages"], page_size=e["page_size"],
            footprint_bytes=e["footprint_bytes"], limit_bytes=e["limit_bytes"],
            lifetime_max_pages=e["lifetime_max_pages"], event=json.dumps(e)))
    return reps, evs


def pg_limits(pg):
    out = pg.rows(
        "SELECT json_build_object('product', product, 'os_version', os_version, 'build', build,"
        " 'role', role, 'count', count, 'phones', phones, 'min', min, 'median', median,"
        " 'max', max,"
        " 'first_seen', to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " 'last_seen', to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " 'processes', processes,"
        " 'drift', CASE WHEN change_pct IS NULL THEN NULL ELSE json_build_object("
        "  'previous_build', previous_build, 'previous_median', previous_median,"
        "  'change_pct', change_pct) END)"
        " FROM jetsam_limits ORDER BY product, jetsam_version_key(os_version),"
        " jetsam_build_key(build), jetsam_role_rank(role)")
    return [json.loads(r[0]) for r in out]


def main():
    ok, why = pgserver.pg_available()
    if not ok:
        print("FAIL: " + why)
        return 1
    d = tmpdir("jt-fleetf-")
    files = report_files(d)
    reports, events, want = collect(files)
    check(len(want) >= 5, f"jetsamd's limits has {len(want)} rows from {len(files)} reports, "
          f"{len(events)} events")
    drifts = [(w["product"], w["build"], w["drift"]) for w in want if w["drift"]]
    check(any(p == "iPad16,3" and d["change_pct"] == -50.0 for p, _, d in drifts),
          f"and the 6 GB -> 3 GB DRIFT of -50.0 % ({drifts})")

    blocks = fleet_schema.sql_blocks()
    files_sql = sorted(glob.glob(os.path.join(ROOT, "fleet", "schema", "[0-9][0-9][0-9]_*.sql")))
    pg = pgserver.PgServer().start()
    failed = []
    try:
        for f in files_sql:
            pg.psql_file(f)
        # report i goes to host i % 3; the first report also to the next host
        for h, host in enumerate(HOSTS):
            mine = [r for i, r in enumerate(reports) if i % 3 == h or (i == 0 and h == 1)]
            ids = {r["id"] for r in mine}
            reps, evs = rows_for(host, mine, [e for e in events if e["report_id"] in ids])
            for _ in range(2):  # every batch delivered twice
                fleet_schema.deliver(pg, blocks, host, [], reps, evs)
        n = pg.rows("SELECT count(*), count(DISTINCT key) FROM reports")[0]
        if not check(n == (str(len(reports) + 1), str(len(reports))),
                     f"PostgreSQL holds {len(reports)} reports once per host, "
                     f"one on two hosts ({n})"):
            failed.append("reports")
        got = pg_limits(pg)
        for w in want:  # jetsamd prints product/build '' as null, change_pct to one decimal
            if w["drift"]:
                w["drift"]["change_pct"] = round(w["drift"]["change_pct"], 1)
        if not check(len(got) == len(want), f"jetsam_limits has {len(want)} rows ({len(got)})"):
            failed.append("rows")
        for g, w in zip(got, want):
            label = f"{w['product']} {w['build']} {w['role']}"
            # product_name is jetsamctl's own lookup, added on output (not stored)
            diff = {k: (g.get(k), w[k]) for k in w if k != "product_name" and g.get(k) != w[k]}
            if not check(not diff, f"{label}: count {w['count']} median {w['median']} "
                         f"drift {w['drift'] and w['drift']['change_pct']} equal to jetsamd's"
                         + (f" DIFF (pg, jetsamd) {diff}" if diff else "")):
                failed.append(label)
    except pgserver.PsqlError as e:
        print(f"FAIL: {e}")
        failed.append(str(e))
    finally:
        pg.stop()
    print(f"{len(failed)} failed" if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
