#!/usr/bin/env python3
# fleet_ctl.py: `jetsamctl --fleet` against a real PostgreSQL 15 answers limits, limit, events and devices as jetsamd does
"""
Two devsim phones and the corpus (tests/data/corpus) plus jetsamgen reports go into a real
jetsamd (synced and imported). The same reports, from `jetsamctl parse --json` of the same
files (standing in for the daemon's shipping until it lands), and the daemon's DEVICE rows
are shipped into a real PostgreSQL 15 with the SQL of fleet/README.md, split over three
host ids (one report on two hosts, every batch twice). Then `jetsamctl --fleet CONNINFO`
must answer as `jetsamctl --socket` does:
  - limits --json: the same rows (the fleet adds "hosts"), with filters too;
  - events --json: the same events (the fleet adds "host_id"; report_id, seq and
    collected_at are the collecting host's own), newest first; --fail-if-any exits 3;
  - limit --product P [--build|--os|--min|--role] --json: the same document and exit code
    (4 for a product nobody saw);
  - devices --json: the same DEVICE objects (plus "host_id");
  - the table and CSV outputs: the same columns;
  - exit codes: a bad conninfo, a server that is down and the daemon down all exit 1; a
    database without the jetsamd schema exits 1 naming it; a password in the conninfo, a
    command that needs a daemon and --after (one daemon's cursor) are usage errors (2).
Environment (meson): JETSAMD, JETSAMCTL, JETSAMGEN, DEVSIM, JETSAM_CORPUS, SOURCE_ROOT.
"""
import datetime
import hashlib
import os
import re
import subprocess
import sys
import time

ROOT = os.environ.get("SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pgserver  # noqa: E402
import fleet_schema  # noqa: E402  (the README SQL and its delivery)
from devices_common import gen_phone, start, sync_wait, tree_files  # noqa: E402
from fleet_daemon_limits import report_files  # noqa: E402

HOSTS = ["host-a", "host-b", "host-c"]
LOCAL = ("report_id", "seq", "collected_at")  # the collecting host's own numbering
PHONES = [("00008110-00000000000F1E01", "iPhone14,5", "16.7.2", "20H115", 5, 21),
          ("00008120-00000000000F1E02", "iPhone15,2", "18.5", "22F76", 4, 22)]

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)
    return cond


def jetsamctl(*args, env=None, timeout=60):
    p = subprocess.run([harness.binary("JETSAMCTL"), *args], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, COLUMNS="400", **(env or {})))
    return p.returncode, p.stdout, p.stderr


def parse_file(path):
    rc, out, err = jetsamctl("--json", "parse", path)
    import json
    v = json.loads(out)
    if isinstance(v, dict) and "reports" in v:
        v = v["reports"]
    return v[0] if isinstance(v, list) else v


def report_time(ts):
    """The report's timestamp ("2024-03-01 10:00:00.00 -0800") as the protocol's UTC TIME."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?(?:[.,]\d+)?\s*"
                 r"(Z|[+-]\d\d:?\d\d|[+-]\d\d)?$", ts or "")
    if not m:
        return None
    y, mo, d, h, mi, s, z = m.groups()
    t = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                          tzinfo=datetime.timezone.utc)
    if z and z != "Z":
        zz = z.replace(":", "")
        off = int(zz[1:3]) * 60 + (int(zz[3:5]) if len(zz) > 3 else 0)
        t -= datetime.timedelta(minutes=off if zz[0] == "+" else -off)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def stand_in_rows(sources, collected_at):
    """sources: (path, udid, device facts or None) -> (reports, events) rows of
    fleet_schema's staging columns (without host_id), from `jetsamctl parse --json`."""
    import json
    reps, evs, seen = [], [], set()
    for path, udid, dev in sources:
        with open(path, "rb") as f:
            raw = f.read()
        pr = parse_file(path)
        rep = pr.get("report") or {}
        key = ("incident:" + rep["incident"] if rep.get("incident")
               else "sha256:" + hashlib.sha256(raw).hexdigest())
        if key in seen:
            continue
        seen.add(key)
        facts = dict(product=rep.get("product") or (dev or {}).get("product"),
                     os_version=rep.get("os_version") or (dev or {}).get("os_version"),
                     build=rep.get("build") or (dev or {}).get("build"))
        t = report_time(rep.get("timestamp"))
        events = pr.get("events") or []
        reps.append(dict(key=key, incident=rep.get("incident"), udid=udid,
                         path=os.path.basename(path), size=len(raw),
                         sha256=hashlib.sha256(raw).hexdigest(), status=pr["status"],
                         error=pr.get("error"), variant=rep.get("variant"),
                         timestamp=rep.get("timestamp"), time=t, n_events=len(events),
                         collected_at=collected_at, removed_from_device=False, facts=None,
                         raw=None, **facts))
        for seq, e in enumerate(events):
            ev = dict(e, udid=udid, incident=rep.get("incident"),
                      timestamp=rep.get("timestamp"), time=t, collected_at=collected_at,
                      **facts)
            evs.append(dict(report_key=key, seq=seq, udid=udid, time=t, event=json.dumps(ev),
                            **{k: e.get(k) for k in (
                                "process", "pid", "uuid", "reason", "role", "priority",
                                "rpages", "page_size", "footprint_bytes", "limit_bytes",
                                "lifetime_max_pages")}, **facts))
    return reps, evs


def device_rows(devices):
    return [{k: d.get(k) for k in fleet_schema.DEV_COLS if k != "host_id"} for d in devices]


def ship(pg, reps, evs, devs):
    blocks = fleet_schema.sql_blocks()
    for h, host in enumerate(HOSTS):
        mine = [r for i, r in enumerate(reps) if i % 3 == h or (i == 0 and h == 1)]
        keys = {r["key"] for r in mine}
        rr = [dict(r, host_id=host) for r in mine]
        ee = [dict(e, host_id=host) for e in evs if e["report_key"] in keys]
        dd = [dict(d, host_id=host) for d in devs] if h == 0 else []
        for _ in range(2):  # every batch delivered twice
            fleet_schema.deliver(pg, blocks, host, dd, rr, ee)


def strip(objs, keys):
    return [{k: v for k, v in o.items() if k not in keys} for o in objs]


def header(text):
    for line in text.splitlines():
        if line.strip():
            return line.split()
    return []


def compare_json(fleet, sock, args, key, drop=()):
    import json
    rf, of, ef = jetsamctl("--fleet", fleet, "--json", *args)
    rs, os_, es = jetsamctl("--socket", sock, "--json", *args)
    check(rf == rs, f"{' '.join(args)}: exit {rf} on the fleet, {rs} on the daemon {ef}{es}")
    if rf != 0 or rs != 0:
        return None, None
    f, s = json.loads(of), json.loads(os_)
    if key is None:
        return f, s
    return strip(f[key], drop), strip(s[key], drop)


def check_limits(fleet, sock):
    for args in (["limits"], ["limits", "--product", "iPad16,3"], ["limits", "--role", "daemon"],
                 ["limits", "--product", "iPhone 14", "--os", "18"],
                 ["limits", "--build", "22F76"]):
        f, s = compare_json(fleet, sock, args, "limits", drop=("hosts",))
        if s is not None:
            check(f == s and (len(s) > 0 or args[1:2] == ["--product"]),
                  f"{' '.join(args)}: {len(f)} rows on the fleet == {len(s)} of the daemon"
                  + ("" if f == s else f"\n  fleet  {f[:3]}\n  daemon {s[:3]}"))
    for args in (["limit", "--product", "iPad16,3"], ["limit", "--product", "iPad16,3", "--min"],
                 ["limit", "--product", "iPhone15,2", "--build", "22F76"],
                 ["limit", "--product", "iPhone15,2", "--os", "18.6", "--role", "daemon"],
                 ["limit", "--product", "iPhone 14 Pro"], ["limit", "--product", "iPhone99,9"]):
        f, s = compare_json(fleet, sock, args, None)
        check(f == s, f"{' '.join(args)}: the same document ({f})")
    rf = jetsamctl("--fleet", fleet, "limit", "--product", "iPhone99,9")
    rs = jetsamctl("--socket", sock, "limit", "--product", "iPhone99,9")
    check(rf[0] == rs[0] == 4 and rf[1] == rs[1] == "",
          f"limit of a product nobody saw: exit {rf[0]} / {rs[0]} (4), {rf[2].strip()}")
    rf = jetsamctl("--fleet", fleet, "limit", "--product", "iPad16,3")
    rs = jetsamctl("--socket", sock, "limit", "--product", "iPad16,3")
    check(rf[:2] == rs[:2] and rf[0] == 0, f"limit prints {rs[1].strip()} both ways")


def canon_events(evs):
    return sorted(strip(evs, LOCAL + ("host_id",)),
                  key=lambda e: (e.get("time") or "", str(e.get("incident")), e.get("process")
                                 or "", str(e.get("pid"))))


def check_events(fleet, sock):
    for args in (["events", "--limit", "100000"], ["events", "--process", "game*"],
                 ["events", "--role", "foreground", "--product", "iPad16,3"],
                 ["events", "--since", "2026-02-01T00:00:00Z", "--until", "2026-03-20T00:00:00Z"],
                 ["events", "--reason", "per-process-limit", "--limit", "3"],
                 ["events", "--udid", PHONES[0][0][:12]], ["events", "--process", "GAME[0-1]"],
                 ["events", "--process", "helperd", "--os", "26"]):
        f, s = compare_json(fleet, sock, args, "events")
        if s is None:
            continue
        times = [e.get("time") or "" for e in f]
        check(times == sorted(times, reverse=True) or None in times,
              f"{' '.join(args)}: the fleet's events are newest first")
        cf, cs = canon_events(f), canon_events(s)
        diff = [(a, b) for a, b in zip(cf, cs) if a != b][:2]
        check(cf == cs and len(s) > 0,
              f"{' '.join(args)}: {len(f)} events on the fleet == {len(s)} of the daemon"
              + (f"\n  first diff (fleet, daemon) {diff}" if diff else ""))
    import json
    rc, out, _ = jetsamctl("--fleet", fleet, "--json", "events", "--limit", "100000")
    hosts = {e.get("host_id") for e in json.loads(out)["events"]} if rc == 0 else set()
    check(hosts == set(HOSTS), f"every fleet event names its host ({sorted(map(str, hosts))})")
    rf = jetsamctl("--fleet", fleet, "events", "--process", "Game1", "--fail-if-any")
    rs = jetsamctl("--socket", sock, "events", "--process", "Game1", "--fail-if-any")
    check(rf[0] == rs[0] == 3, f"events --fail-if-any: exit {rf[0]} / {rs[0]} (3)")
    rf = jetsamctl("--fleet", fleet, "events", "--process", "nosuchproc", "--fail-if-any")
    check(rf[0] == 0 and "no matching kill events" in rf[1], f"no match: exit {rf[0]}")
    rf = jetsamctl("--fleet", fleet, "events", "--collected-since", "1h", "--json")
    check(rf[0] == 0 and len(json.loads(rf[1])["events"]) > 0,
          f"events --collected-since works on the fleet (exit {rf[0]})")


def check_devices(fleet, sock):
    f, s = compare_json(fleet, sock, ["devices"], "devices")
    if s is not None:
        check(strip(f, ("host_id",)) == s and len(s) == len(PHONES),
              f"devices: {len(f)} on the fleet == {len(s)} of the daemon")
        check(all(d.get("host_id") == HOSTS[0] for d in f), "each device names its host")


def check_tables(fleet, sock):
    for args in (["limits"], ["events"], ["devices"], ["limit", "--product", "iPad16,3"]):
        for fmt in ([], ["--csv"]):
            rf = jetsamctl("--fleet", fleet, *fmt, *args)
            rs = jetsamctl("--socket", sock, *fmt, *args)
            check(rf[0] == rs[0] == 0 and header(rf[1]) == header(rs[1]),
                  f"{' '.join(fmt + args)}: the same columns {header(rs[1])[:12]} "
                  f"(exit {rf[0]}/{rs[0]})")
    rf = jetsamctl("--fleet", fleet, "limits")
    rs = jetsamctl("--socket", sock, "limits")
    check(rf[1] == rs[1], "limits: the same table, line for line")


def check_exits(pg, fleet, sock, tmp):
    down = jetsamctl("--socket", os.path.join(tmp, "nobody.sock"), "limits")[0]
    check(down == 1, f"the daemon down: exit {down}")
    for what, ci in (("a conninfo that does not parse", "host=/x port="),
                     ("no server at the socket", f"host={tmp} port=1 dbname=jetsam"),
                     ("an unknown database", pg.conninfo.replace("dbname=jetsam", "dbname=nope"))):
        rc, out, err = jetsamctl("--fleet", ci, "limits")
        check(rc == down and "fleet database" in err, f"{what}: exit {rc} ({err.strip()})")
    pg.psql('CREATE DATABASE "empty"', dbname="postgres")
    rc, out, err = jetsamctl("--fleet", pg.conninfo.replace("dbname=jetsam", "dbname=empty"),
                             "limits")
    check(rc == 1 and "no jetsamd schema" in err, f"a database without the schema: exit {rc} "
          f"({err.strip()})")
    rc, out, err = jetsamctl("--fleet", fleet + " password=secret", "limits")
    check(rc == 2 and "pgpass" in err and "secret" not in err,
          f"a password in the conninfo: exit {rc} ({err.strip()})")
    rc, out, err = jetsamctl("--fleet", "postgresql://postgres:secret@localhost/jetsam", "limits")
    check(rc == 2 and "secret" not in err, f"a password in a URI: exit {rc} ({err.strip()})")
    uri = f"postgresql:///jetsam?host={pg.socket_dir}&port={pg.port}&user=postgres"
    rc, out, err = jetsamctl("--fleet", uri, "--json", "limits")
    check(rc == 0 and '"limits":[{' in out, f"a URI conninfo works (exit {rc})")
    for args in (["status"], ["sync"], ["events", "--after", "5"]):
        rc, out, err = jetsamctl("--fleet", fleet, *args)
        check(rc == 2, f"--fleet {' '.join(args)}: usage error, exit {rc} ({err.strip()})")
    rc, out, err = jetsamctl("--fleet", fleet, "--socket", sock, "limits")
    check(rc == 2, f"--fleet with --socket: exit {rc}")
    rc, out, err = jetsamctl("--json", "limits", env={"JETSAMCTL_FLEET": fleet})
    check(rc == 0 and '"hosts"' in out, f"$JETSAMCTL_FLEET selects the fleet (exit {rc})")
    rc, out, err = jetsamctl("--socket", sock, "--json", "status",
                             env={"JETSAMCTL_FLEET": fleet})
    check(rc == 0, f"--socket wins over $JETSAMCTL_FLEET (exit {rc})")


def main():
    ok, why = pgserver.pg_available()
    if not ok:
        print("FAIL: " + why)
        return 1
    tmp = harness.tmpdir("jt-fctl-")
    files = report_files(tmp)
    phones = [gen_phone(tmp, f"p{i}", u, p, o, b, reports=n, seed=s)
              for i, (u, p, o, b, n, s) in enumerate(PHONES)]
    ds, jd = start(phones)
    sync_wait(jd)
    c = jd.client()
    for f in files:
        with open(f, "rb") as fh:
            r = c.import_bytes(os.path.basename(f), fh.read())
        if not r.get("ok"):
            harness.fail(f"import {f}: {r}")
    c.close()
    devices = jd.ctl_json("devices")["devices"]
    sources = [(f, None, None) for f in files]
    for d, (udid, prod, osv, build, _, _) in zip(phones, PHONES):
        top = os.path.join(d, "CrashReporter")
        for rel in sorted(tree_files(d)):
            if os.path.basename(rel).startswith("JetsamEvent"):
                sources.append((os.path.join(top, rel), udid,
                                dict(product=prod, os_version=osv, build=build)))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    reps, evs = stand_in_rows(sources, now)
    check(len(reps) >= 30 and len(evs) >= 50, f"{len(reps)} reports, {len(evs)} events to ship")
    pg = pgserver.PgServer().start()
    try:
        for f in sorted(fleet_schema.migrations()):
            pg.psql_file(f)
        ship(pg, reps, evs, device_rows(devices))
        check_limits(pg.conninfo, jd.socket)
        check_events(pg.conninfo, jd.socket)
        check_devices(pg.conninfo, jd.socket)
        check_tables(pg.conninfo, jd.socket)
        check_exits(pg, pg.conninfo, jd.socket, tmp)
        fleet = pg.conninfo
        pg.stop()
        rc, out, err = jetsamctl("--fleet", fleet, "limits")
        check(rc == 1 and "cannot reach" in err, f"PostgreSQL stopped: exit {rc} ({err.strip()})")
    except pgserver.PsqlError as e:
        check(False, str(e))
    finally:
        pg.stop()
        jd.stop()
        ds.stop()
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
