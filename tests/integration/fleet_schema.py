#!/usr/bin/env python3
# fleet_schema.py: the fleet schema on a real PostgreSQL 15: idempotent migrations, exactly-once upserts, jetsam_limits numbers
"""
Starts a throwaway PostgreSQL (tests/lib/pgserver.py), then:
1. the migration files are numbered 001.. without gaps, each starts with a `--` comment;
   applying them all twice in order leaves version rows 1..N (applied_at unchanged by the
   second pass) and the same tables/views; three psql sessions migrating a fresh database
   at the same time all succeed (advisory lock);
2. ships sample data for 3 hosts with the SQL of fleet/README.md (its `fleet-sql` blocks,
   verbatim): every batch twice, a batch holding the same key twice, a report replaced
   (error -> ok), a report reparsed to fewer events, one report collected by two hosts;
   the tables hold each (host, key) once and the last delivered values;
3. jetsam_limits, jetsam_kills and jetsam_devices equal what Python computes from the same
   sample data with the daemon's `limits` semantics (lower median, DRIFT > 5 %, the
   6 GB -> 3 GB foreground drop at -50.0 %), jetsam_hosts the per-host counts;
4. jetsam_kills_recent holds a kill of 1 hour ago and not one of 25 hours ago.
Environment: SOURCE_ROOT (meson), PG_BINDIR (optional).
"""
import datetime
import json
import time
import glob
import os
import random
import re
import subprocess
import sys

ROOT = os.environ.get("SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import pgserver  # noqa: E402

SCHEMA = os.path.join(ROOT, "fleet", "schema")
README = os.path.join(ROOT, "fleet", "README.md")
GB = 1 << 30
fails = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        fails.append(msg)
    return cond


def sql_blocks():
    """The ```sql blocks of fleet/README.md by their <!-- fleet-sql: NAME --> marker."""
    text = open(README, encoding="utf-8").read()
    blocks = dict(re.findall(r"<!-- fleet-sql: (\w+) -->\n```sql\n(.*?)```", text, re.S))
    for name in ("stage", "host", "copy", "merge"):
        if name not in blocks:
            print(f"FAIL: fleet/README.md has no fleet-sql block '{name}'")
            sys.exit(1)
    return blocks


def migrations():
    files = sorted(glob.glob(os.path.join(SCHEMA, "[0-9][0-9][0-9]_*.sql")))
    nums = [int(os.path.basename(f)[:3]) for f in files]
    check(nums == list(range(1, len(files) + 1)) and files,
          f"migrations are numbered 001..{len(files):03d} without gaps ({nums})")
    for f in files:
        with open(f, encoding="utf-8") as fh:
            first = fh.readline()
        check(first.startswith("-- " + os.path.basename(f) + ":"),
              f"{os.path.basename(f)} starts with its one-line comment")
    return files


def catalog(pg):
    return pg.rows("SELECT c.relkind::text || ' ' || c.relname FROM pg_class c "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i') ORDER BY 1")


def test_migrations(pg, files):
    for f in files:
        pg.psql_file(f)
    first = pg.rows("SELECT version, name, applied_at FROM jetsam_schema_version ORDER BY 1")
    cat1 = catalog(pg)
    for f in files:  # the second pass: every file again
        pg.psql_file(f)
    second = pg.rows("SELECT version, name, applied_at FROM jetsam_schema_version ORDER BY 1")
    want = [(str(i + 1), os.path.basename(f)[:-4]) for i, f in enumerate(files)]
    check([r[:2] for r in second] == want, f"jetsam_schema_version = {want} ({second})")
    check(first == second, "a second pass keeps the version rows and their applied_at")
    check(catalog(pg) == cat1, f"a second pass keeps the same {len(cat1)} tables/views/indexes")
    for name in ("hosts", "devices", "reports", "events", "jetsam_limits", "jetsam_devices",
                 "jetsam_kills_recent", "jetsam_kills", "jetsam_hosts"):
        check(any(r[0].split()[1] == name for r in cat1), f"the schema has {name}")
    # whoever connects migrates: three sessions at once on a fresh database
    pg.psql("CREATE DATABASE concurrent", dbname="postgres")
    script = "".join(f"\\i {f}\n" for f in files)
    procs = [subprocess.Popen(pg._psql_argv("concurrent"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(script, timeout=60) for p in procs]
    bad = [o[1].strip() for p, o in zip(procs, outs) if p.returncode != 0]
    check(not bad, f"3 concurrent migrations all succeed {bad}")
    n = pg.rows("SELECT count(*) FROM jetsam_schema_version", dbname="concurrent")
    check(n == [(str(len(files)),)], f"and record {len(files)} versions once ({n})")


# ---- sample data ----

def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def copy_value(v):
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, bytes):
        return "\\\\x" + v.hex()
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


DEV_COLS = ["host_id", "udid", "name", "product", "os_version", "build", "connection",
            "attached", "state", "error", "first_seen", "last_seen", "last_sync", "reports"]
REP_COLS = ["host_id", "key", "incident", "udid", "path", "size", "sha256", "status", "error",
            "variant", "product", "os_version", "build", "timestamp", "time", "n_events",
            "collected_at", "removed_from_device", "facts", "raw"]
EV_COLS = ["host_id", "report_key", "seq", "udid", "product", "os_version", "build", "time",
           "process", "pid", "uuid", "reason", "role", "priority", "rpages", "page_size",
           "footprint_bytes", "limit_bytes", "lifetime_max_pages", "event"]

# (product, os_version, build, foreground limit choices, daemon limits, background limits)
BUILDS = [
    ("iPad16,3", "26.3", "23D127", [6 * GB, 6 * GB, 6 * GB + 4096], [80 << 20], [512 << 20]),
    ("iPad16,3", "26.4", "23E246", [3 * GB, 3 * GB, 3 * GB - 8192], [80 << 20], [512 << 20]),
    ("iPhone15,2", "18.5", "22F76", [2900 << 20, 3000 << 20], [50 << 20, 60 << 20], [300 << 20]),
    ("iPhone15,2", "18.6", "22G86", [2950 << 20, 3000 << 20], [50 << 20], [300 << 20, 310 << 20]),
    ("iPhone9,3", "15.8", "19H370", [1400 << 20, 1450 << 20, 1500 << 20, 1380 << 20], [], []),
]
PROCS = ["MobileSafari", "com.apple.WebKit.WebContent", "Photos", "backboardd", "zeta",
         "Zulu", "apsd"]
REASONS = ["per-process-limit", "vm-pageshortage", "highwater", "idle-exit"]


def make_sample(rng):
    """-> (batches, final) batches: list of (host, devices, reports, events) deliveries;
    final: the rows the database must hold, keyed like the tables."""
    t0 = 1_790_000_000
    hosts = ["host-a", "host-b", "host-c"]
    phones = {}  # udid -> (host, product index list)
    for hi, h in enumerate(hosts):
        for k in range(3):
            udid = f"{hi:02x}{k:02x}" + "%036x" % rng.getrandbits(144)
            phones[udid] = h
    reports = {}  # (host, key) -> report dict (final)
    events = {}  # (host, key) -> [event dicts] (final)
    devices = {}
    order = []  # delivery units: (host, kind, payload)
    for n, (udid, host) in enumerate(sorted(phones.items())):
        b = BUILDS[n % 2] if n < 4 else BUILDS[2 + n % 3]
        product = b[0]
        devices[(host, udid)] = dict(
            host_id=host, udid=udid, name=f"phone {n}", product=product, os_version=b[1],
            build=b[2], connection="USB", attached=True,
            state=["idle", "untrusted", "error", "idle"][n % 4], error=None,
            first_seen=iso(t0), last_seen=iso(t0 + 3600 + n), last_sync=iso(t0 + 3000 + n),
            reports=0)
        for r in range(4):
            bb = [x for x in BUILDS if x[0] == product][r % 2 if product != "iPhone9,3" else 0]
            t = t0 + n * 1000 + r * 60
            incident = "%08X-%04X-4%03X-8%03X-%012X" % (
                rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                rng.getrandbits(12), rng.getrandbits(48))
            key = f"incident:{incident}" if r != 3 else "sha256:" + "%064x" % rng.getrandbits(256)
            evs = []
            for s in range(rng.randint(1, 4)):
                role = rng.choice(["foreground", "foreground", "daemon", "background"])
                choices = {"foreground": bb[3], "daemon": bb[4], "background": bb[5]}[role]
                limit = rng.choice(choices) if choices and rng.random() > 0.1 else None
                proc = rng.choice(PROCS)
                ev = dict(host_id=host, report_key=key, seq=s, udid=udid, product=product,
                          os_version=bb[1], build=bb[2], time=iso(t) if r != 2 else None,
                          process=proc, pid=100 + s, uuid=None, reason=rng.choice(REASONS),
                          role=role, priority=rng.choice([0, 10]), rpages=1000 + s,
                          page_size=16384, footprint_bytes=(limit or 1 << 30) + 4096,
                          limit_bytes=limit, lifetime_max_pages=2000 + s,
                          event='{"process": "%s", "pid": %d}' % (proc, 100 + s))
                evs.append(ev)
            rep = dict(host_id=host, key=key, incident=incident if r != 3 else None, udid=udid,
                       path=f"Retired/JetsamEvent-{n}-{r}.ips", size=4000 + r,
                       sha256="%064x" % rng.getrandbits(256), status="ok", error=None,
                       variant="jetsam", product=product, os_version=bb[1], build=bb[2],
                       timestamp=iso(t) if r != 2 else None, time=iso(t) if r != 2 else None,
                       n_events=len(evs), collected_at=iso(t + 30 + (n % 3)),
                       removed_from_device=False, facts=None, raw=None)
            if n == 0 and r == 0:  # shipping facts and raw turned on for this one
                rep["facts"] = '{"bug_type": "298", "events": %d}' % len(evs)
                rep["raw"] = b"\x00\x01{jetsam}\xff"
            reports[(host, key)] = rep
            events[(host, key)] = evs
            devices[(host, udid)]["reports"] += 1
            order.append((host, rep, evs))
    # a fixed group with an even count: median = the lower middle (2000 MiB), not 2500/3000
    key = "sha256:" + "ab" * 32
    evs = [dict(host_id="host-b", report_key=key, seq=s, udid="fixed-udid", product="iPhone12,1",
                os_version="17.7", build="21H16", time=iso(t0), process="Photos", pid=7,
                uuid=None, reason="per-process-limit", role="foreground", priority=0,
                rpages=1, page_size=16384, footprint_bytes=mib << 20, limit_bytes=mib << 20,
                lifetime_max_pages=1, event="{}")
           for s, mib in enumerate([4000, 1000, 3000, 2000])]
    rep = dict(host_id="host-b", key=key, incident=None, udid="fixed-udid", path="import:fixed",
               size=1, sha256="ab" * 32, status="ok", error=None, variant="jetsam",
               product="iPhone12,1", os_version="17.7", build="21H16", timestamp=iso(t0),
               time=iso(t0), n_events=4, collected_at=iso(t0 + 5), removed_from_device=False,
               facts=None, raw=None)
    reports[("host-b", key)] = rep
    events[("host-b", key)] = evs
    order.append(("host-b", rep, evs))
    return hosts, devices, reports, events, order


def deliver(pg, blocks, host, devs, reps, evs, repeat_keys=()):
    """One batch, as jetsamd ships it: BEGIN, host upsert, COPY x3, merges, COMMIT."""
    host_sql = blocks["host"].replace("$1", f"'{host}'").replace(
        "$2", f"'{host}.lab'").replace("$3", "'jetsamd 0.1.0'")
    copies = [c.strip() for c in blocks["copy"].split(";") if c.strip()]
    parts = [blocks["stage"], "BEGIN;", host_sql]
    for stmt, cols, rows in zip(copies, (DEV_COLS, REP_COLS, EV_COLS), (devs, reps, evs)):
        parts.append(stmt + ";")
        parts.extend("\t".join(copy_value(r[c]) for c in cols) for r in rows)
        parts.append("\\.")
    parts += [blocks["merge"], "COMMIT;"]
    pg.psql("\n".join(parts) + "\n")


def ship(pg, blocks, hosts, devices, reports, events, order):
    # a first version of host-a's first report: status error, no events (parse failure),
    # replaced below by its good copy (same key)
    first = order[0]
    bad = dict(first[1], status="error", error="truncated", n_events=0, product=None,
               os_version=None, build=None, facts=None, raw=None)
    deliver(pg, blocks, first[0], [], [bad], [])
    # a report first shipped with one extra event, then reparsed to its real events
    host_b = [o for o in order if o[0] == "host-b"][0]
    extra = dict(host_b[2][-1], seq=len(host_b[2]), limit_bytes=1, process="ghost")
    deliver(pg, blocks, "host-b", [], [dict(host_b[1], n_events=len(host_b[2]) + 1)],
            host_b[2] + [extra])
    for h in hosts:
        units = [o for o in order if o[0] == h]
        devs = [d for (dh, _), d in devices.items() if dh == h]
        for i in range(0, len(units), 5):
            chunk = units[i:i + 5]
            reps = [u[1] for u in chunk]
            evs = [e for u in chunk for e in u[2]]
            if i == 0:  # the same key twice in one batch: the last staged row wins
                reps = [dict(reps[0], status="error", n_events=0)] + reps
            deliver(pg, blocks, h, devs if i == 0 else [], reps, evs)
            deliver(pg, blocks, h, devs if i == 0 else [], reps, evs)  # re-delivery
    # one report collected by a second host too (its phone moved): counted once farm-wide
    u = [o for o in order if o[0] == "host-c"][0]
    moved = dict(u[1], host_id="host-a", collected_at=iso(1_800_000_000))
    moved_evs = [dict(e, host_id="host-a") for e in u[2]]
    deliver(pg, blocks, "host-a", [], [moved], moved_evs)
    reports[("host-a", moved["key"])] = moved
    events[("host-a", moved["key"])] = moved_evs


# ---- what the daemon's `limits` computes, in Python ----

def version_key(v):
    if not v:
        return ()
    return tuple(int(re.match(r"\d*", p).group() or 0) for p in v.split("."))


def build_key(b):
    m = re.match(r"\d+", b or "")
    return (int(m.group()) if m else 0, len(b or ""), (b or "").encode())


ROLE_RANK = {"foreground": 0, "daemon": 1, "background": 2}


def expected_limits(reports, events):
    unique = {}  # (key, seq) -> (collected_at, host, event)
    for (host, key), evs in events.items():
        rep = reports[(host, key)]
        for e in evs:
            cand = (rep["collected_at"], host, e, rep)
            k = (key, e["seq"])
            if k not in unique or cand[:2] < unique[k][:2]:
                unique[k] = cand
    groups = {}
    for _, host, e, rep in unique.values():
        if e["limit_bytes"] is None or e["role"] is None:
            continue
        g = groups.setdefault((e["product"] or "", e["build"] or "", e["role"]), [])
        g.append((e, host, e["time"] or rep["collected_at"]))
    rows = []
    for (product, build, role), obs in groups.items():
        vals = sorted(e["limit_bytes"] for e, _, _ in obs)
        times = sorted(t for _, _, t in obs)
        rows.append(dict(
            product=product or None, build=build or None, role=role,
            os_version=min((e["os_version"] for e, _, _ in obs if e["os_version"]),
                           key=lambda s: s.encode(), default=None),
            count=len(vals), phones=len({e["udid"] for e, _, _ in obs if e["udid"]}),
            hosts=len({h for _, h, _ in obs}), min=vals[0], median=vals[(len(vals) - 1) // 2],
            max=vals[-1], first_seen=times[0], last_seen=times[-1],
            processes=sorted({e["process"] for e, _, _ in obs if e["process"]},
                             key=lambda s: s.encode()),
            _upper=vals[len(vals) // 2]))
    rows.sort(key=lambda r: ((r["product"] or "").encode(), version_key(r["os_version"]),
                             build_key(r["build"]), ROLE_RANK.get(r["role"], 9)))
    for i, r in enumerate(rows):
        r["previous_build"] = r["previous_median"] = r["change_pct"] = r["change_ratio"] = None
        prev = None
        for q in reversed(rows[:i]):
            if q["product"] != r["product"]:
                break
            if q["role"] == r["role"] and q["build"] != r["build"] and q["median"] > 0:
                prev = q
                break
        if prev:
            pct = (r["median"] - prev["median"]) * 100.0 / prev["median"]
            r["change_ratio"] = round(pct / 100, 6)
            if abs(pct) > 5 and r["role"] == "foreground":
                r["previous_build"] = prev["build"]
                r["previous_median"] = prev["median"]
                r["change_pct"] = round(pct, 1)
    return rows, unique


def db_limits(pg):
    out = pg.rows(
        "SELECT product, build, role, os_version, count, phones, hosts, min, median, max, "
        "extract(epoch FROM first_seen)::bigint, extract(epoch FROM last_seen)::bigint, "
        "array_to_json(processes), previous_build, previous_median, change_pct, change_ratio "
        "FROM jetsam_limits ORDER BY product, jetsam_version_key(os_version), "
        "jetsam_build_key(build), jetsam_role_rank(role)")
    rows = []
    for r in out:
        rows.append(dict(
            product=r[0], build=r[1], role=r[2], os_version=r[3], count=int(r[4]),
            phones=int(r[5]), hosts=int(r[6]), min=int(r[7]), median=int(r[8]), max=int(r[9]),
            first_seen=iso(int(r[10])), last_seen=iso(int(r[11])), processes=json.loads(r[12]),
            previous_build=r[13], previous_median=None if r[14] is None else int(r[14]),
            change_pct=None if r[15] is None else float(r[15]),
            change_ratio=None if r[16] is None else round(float(r[16]), 6)))
    return rows


def test_data(pg, blocks):
    rng = random.Random(14)
    hosts, devices, reports, events, order = make_sample(rng)
    ship(pg, blocks, hosts, devices, reports, events, order)

    n_rep = pg.rows("SELECT count(*), count(DISTINCT (host_id, key)) FROM reports")[0]
    check(n_rep == (str(len(reports)), str(len(reports))),
          f"reports: {len(reports)} rows, one per (host, key), despite every batch twice "
          f"and the repeats ({n_rep})")
    n_ev = int(pg.rows("SELECT count(*) FROM events")[0][0])
    want_ev = sum(len(v) for v in events.values())
    check(n_ev == want_ev, f"events: {want_ev} rows ({n_ev}), the reparse's extra one trimmed")
    check(pg.rows("SELECT count(*) FROM events WHERE process = 'ghost'") == [("0",)],
          "the event a reparse dropped is gone")
    mism = pg.rows("SELECT r.host_id, r.key FROM reports r WHERE r.n_events <> "
                   "(SELECT count(*) FROM events e WHERE e.host_id = r.host_id "
                   "AND e.report_key = r.key)")
    check(mism == [], f"every report has exactly n_events events ({mism[:3]})")
    st = pg.rows("SELECT status, count(*) FROM reports GROUP BY 1 ORDER BY 1")
    check(st == [("ok", str(len(reports)))],
          f"the replaced error copies ended ok: last delivery wins ({st})")
    check(pg.rows("SELECT count(*) FROM hosts") == [("3",)], "3 hosts")
    check(pg.rows("SELECT count(*) FROM devices") == [(str(len(devices)),)],
          f"{len(devices)} device rows")
    fr = pg.rows("SELECT count(facts), count(raw), max(encode(raw, 'hex')) FROM reports")
    check(fr == [("1", "1", "0001" + b"{jetsam}".hex() + "ff")],
          f"facts and raw stored only where shipped, bytes exact ({fr})")

    want, unique = expected_limits(reports, events)
    got = db_limits(pg)
    check(len(got) == len(want), f"jetsam_limits has {len(want)} rows ({len(got)})")
    for w, g in zip(want, got):
        label = f"{w['product']} {w['build']} {w['role']}"
        diff = {k: (g.get(k), w[k]) for k in w if not k.startswith("_") and g.get(k) != w[k]}
        check(not diff, f"jetsam_limits {label}: count {w['count']} phones {w['phones']} "
              f"hosts {w['hosts']} min/median/max {w['min']}/{w['median']}/{w['max']}"
              + (f" DIFF (got, want) {diff}" if diff else ""))
    drop = [g for g in got if g["product"] == "iPad16,3" and g["build"] == "23E246"
            and g["role"] == "foreground"]
    check(len(drop) == 1 and drop[0]["previous_build"] == "23D127"
          and drop[0]["previous_median"] == 6 * GB and drop[0]["change_pct"] == -50.0,
          f"the 6 GB -> 3 GB foreground drop shows as DRIFT -50.0 % from 23D127 ({drop})")
    even = [w for w in want if w["count"] % 2 == 0 and w["_upper"] != w["median"]]
    check(even, f"the sample has even-count groups whose two middle values differ "
          f"({len(even)}): the lower one is the median")
    fixed = [g for g in got if g["product"] == "iPhone12,1"]
    check([(g["count"], g["median"]) for g in fixed] == [(4, 2000 << 20)],
          f"limits 4000/1000/3000/2000 MiB: median 2000 MiB ({fixed})")
    multi = [w for w in want if w["hosts"] > 1]
    check(multi, f"the sample has groups seen by several hosts ({len(multi)})")

    kills = int(pg.rows("SELECT sum(kills) FROM jetsam_kills")[0][0])
    check(kills == len(unique), f"jetsam_kills counts every event once farm-wide: {len(unique)} "
          f"({kills}; {want_ev} rows incl. the report two hosts shipped)")
    moved = pg.rows("SELECT count(*) FROM jetsam_devices WHERE current")
    check(moved == [(str(len({u for _, u in devices})),)], f"jetsam_devices: one current row "
          f"per phone ({moved})")
    hosts_v = pg.rows("SELECT host_id, devices, reports FROM jetsam_hosts ORDER BY 1")
    want_h = [(h, str(sum(1 for dh, _ in devices if dh == h)),
               str(sum(1 for rh, _ in reports if rh == h))) for h in hosts]
    check(hosts_v == want_h, f"jetsam_hosts per host devices/reports {want_h} ({hosts_v})")


def test_recent(pg, blocks):
    """jetsam_kills_recent: the last 24 hours only, by the event's time."""
    now = int(time.time())
    reps, evs = [], []
    for age_h, key in ((1, "sha256:" + "1" * 64), (25, "sha256:" + "2" * 64)):
        t = iso(now - age_h * 3600)
        reps.append(dict(host_id="host-c", key=key, incident=None, udid="recent-udid",
                         path="import:recent", size=1, sha256=key[7:], status="ok", error=None,
                         variant="jetsam", product="iPhone15,2", os_version="18.6",
                         build="22G86", timestamp=t, time=t, n_events=1, collected_at=t,
                         removed_from_device=False, facts=None, raw=None))
        evs.append(dict(host_id="host-c", report_key=key, seq=0, udid="recent-udid",
                        product="iPhone15,2", os_version="18.6", build="22G86", time=t,
                        process=f"Recent{age_h}h", pid=1, uuid=None, reason="highwater",
                        role="daemon", priority=0, rpages=1, page_size=16384,
                        footprint_bytes=16384, limit_bytes=None, lifetime_max_pages=1,
                        event="{}"))
    deliver(pg, blocks, "host-c", [], reps, evs)
    got = pg.rows("SELECT process FROM jetsam_kills_recent")
    check(got == [("Recent1h",)], f"jetsam_kills_recent: the kill of 1 h ago only, not those "
          f"of 25 h ago and older ({got})")


def main():
    ok, why = pgserver.pg_available()
    if not ok:
        print("FAIL: " + why)
        return 1
    blocks = sql_blocks()
    files = migrations()
    pg = pgserver.PgServer().start()
    try:
        test_migrations(pg, files)
        test_data(pg, blocks)
        test_recent(pg, blocks)
    except pgserver.PsqlError as e:
        print(f"FAIL: {e}")
        fails.append(str(e))
    finally:
        pg.stop()
    print(f"{len(fails)} failed" if fails else "all passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
