#!/usr/bin/env python3
# daemon_import.py: import of corpus and generated reports over the socket; exactly once,
# events/limits equal to `jetsamctl parse`, reparse, subscribe pushes, restart, no usbmuxd
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import (Devsim, Jetsamd, binary, check, check_eq, fail, tmpdir,  # noqa: E402
                     wait_until)

EVENT_KEYS = ["process", "pid", "uuid", "reason", "role", "states", "priority", "rpages",
              "page_size", "footprint_bytes", "limit_bytes", "lifetime_max_pages"]


def corpus_files():
    root = os.environ.get("JETSAM_CORPUS")
    if not root or not os.path.isdir(root):
        fail("JETSAM_CORPUS must name the corpus directory")
    files = sorted(glob.glob(os.path.join(root, "jetsam", "*.ips")) +
                   glob.glob(os.path.join(root, "excresource", "*.ips")))
    check(len(files) >= 20, "corpus has files")
    return files


def generated_files(d):
    gen = os.environ.get("JETSAMGEN")
    if not gen:
        return []
    out = []
    specs = [("iPhone13,2", "15.5", "19F77"), ("iPhone13,2", "15.6", "19G71"),
             ("iPhone14,5", "16.1", "20B82"), ("iPhone10,3", "14.8", "18H17"),
             ("iPhone15,2", "17.2", "21C62")]
    for i, (prod, os_v, build) in enumerate(specs):
        for k in range(3):
            f = os.path.join(d, "gen-%d-%d.ips" % (i, k))
            argv = [gen, "report", "--product", prod, "--os-version", os_v, "--build", build,
                    "--seed", str(100 * i + k), "--out", f,
                    "--time", "2024-0%d-1%dT10:00:00Z" % (i + 1, k)]
            if k == 2:
                argv += ["--kill", "BigGame:foreground:per-process-limit:%d" % (40000 + i)]
            p = subprocess.run(argv, capture_output=True)
            if p.returncode != 0:
                fail("jetsamgen failed: %s" % p.stderr.decode())
            out.append(f)
    # the same report twice under another name: stored once
    with open(out[0], "rb") as a, open(os.path.join(d, "copy.ips"), "wb") as b:
        b.write(a.read())
    out.append(os.path.join(d, "copy.ips"))
    return out


def parse_all(files):
    p = subprocess.run([binary("JETSAMCTL"), "--json", "parse"] + files, capture_output=True)
    lines = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    check_eq(len(lines), len(files), "jetsamctl parse lines")
    return {os.path.abspath(l["file"]) if l.get("file") else f: l for l, f in zip(lines, files)}


def canon(ev):
    return json.dumps({k: ev.get(k) for k in EVENT_KEYS}, sort_keys=True)


def lower_median(v):
    v = sorted(v)
    return v[(len(v) - 1) // 2]


def expected_limits(parsed_unique):
    groups = {}
    for res in parsed_unique:
        rep = res.get("report") or {}
        for ev in res.get("events") or []:
            if ev.get("limit_bytes") is None:
                continue
            k = (rep.get("product"), rep.get("build"), ev["role"])
            groups.setdefault(k, []).append(ev)
    out = {}
    for k, evs in groups.items():
        lims = [e["limit_bytes"] for e in evs]
        out[k] = {"count": len(lims), "min": min(lims), "max": max(lims),
                  "median": lower_median(lims), "phones": 0,
                  "processes": sorted(set(e["process"] for e in evs))}
    return out


def check_limits(j, expected):
    got = j.client().call("limits")["limits"]
    gmap = {}
    for row in got:
        k = (row["product"], row["build"], row["role"])
        check(k not in gmap, "one limits row per (product, build, role): %r" % (k,))
        gmap[k] = {x: row[x] for x in ("count", "min", "max", "median", "phones", "processes")}
        for x in ("first_seen", "last_seen", "os_version", "drift"):
            check(x in row, "limits row has %s" % x)
    check_eq(gmap, expected, "limits equal to what jetsamctl parse says")
    return got


def main():
    d = tmpdir()
    files = corpus_files() + generated_files(d)
    # a JetsamEvent cut short: archived and stored with status error, no events
    # (with an incident id of its own: a copy of a known report would be a duplicate)
    with open([f for f in files if f.endswith("icdab-5.ips")][0], "rb") as fh:
        whole = fh.read()
    incident = b"B04A36B1-19EC-4895-B203-6AE21BE52B02"
    check(incident in whole, "icdab-5.ips has its incident id")
    whole = whole.replace(incident, b"B04A36B1-19EC-4895-B203-0000000000FF")
    broken = os.path.join(d, "broken.ips")
    with open(broken, "wb") as fh:
        fh.write(whole[:3000])
    files.append(broken)
    fixed = os.path.join(d, "fixed.ips")
    with open(fixed, "wb") as fh:
        fh.write(whole)
    parsed = parse_all(files)

    j = Jetsamd(usbmuxd_socket="UNIX:" + os.path.join(d, "no-usbmuxd.sock"))
    j.start()
    sub = j.client()
    check_eq(sub.call("subscribe", topics=["events"]), {"subscribed": ["events"]}, "subscribe")

    c = j.client()
    by_key = {}
    want_events = {}
    unique = []
    n_pushed_expected = 0
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        r = c.import_bytes(os.path.basename(f), data)
        check_eq(r.get("ok"), True, "import of %s: %r" % (f, r))
        rep = r["result"]["report"]
        res = parsed[os.path.abspath(f)]
        check_eq(rep["status"], res["status"], "status of %s" % f)
        check_eq(rep["size"], len(data), "size of %s" % f)
        check_eq(rep["udid"], None, "udid of an import")
        incident = (res.get("report") or {}).get("incident")
        if incident:
            check_eq(rep["key"], "incident:" + incident, "key of %s" % f)
        else:
            check(rep["key"].startswith("sha256:"), "content key of %s" % f)
        dup = rep["key"] in by_key
        check_eq(r["result"]["duplicate"], dup, "duplicate flag of %s" % f)
        if dup:
            check_eq(rep["id"], by_key[rep["key"]], "duplicate points at the first report")
            continue
        by_key[rep["key"]] = rep["id"]
        check_eq(rep["path"], "import:" + os.path.basename(f), "path of an import")
        unique.append(res)
        evs = res.get("events") or []
        check_eq(rep["events"], len(evs), "event count of %s" % f)
        want_events[rep["id"]] = sorted(canon(e) for e in evs)
        n_pushed_expected += len(evs)
    n_reports = len(by_key)
    n_events = sum(len(v) for v in want_events.values())
    check(n_events > 20, "the imports hold kill events")

    # importing every file again adds nothing
    for f in files[:5]:
        with open(f, "rb") as fh:
            r = c.import_bytes("again-" + os.path.basename(f), fh.read())
        check_eq(r["result"]["duplicate"], True, "second import of %s" % f)

    # events equal what the parser says, report by report
    evs = c.call("events", limit=100000)
    check_eq(evs["truncated"], False, "events truncated")
    got = {}
    for e in evs["events"]:
        got.setdefault(e["report_id"], []).append(canon(e))
        for k in ("udid", "incident", "product", "os_version", "build", "timestamp", "time"):
            check(k in e, "event has %s" % k)
    check_eq({k: sorted(v) for k, v in got.items()},
             {k: v for k, v in want_events.items() if v}, "events per report")
    times = [e["time"] for e in evs["events"] if e["time"] is not None]
    check_eq(times, sorted(times, reverse=True), "events newest first")

    # pushes: one per kill event of each new report
    wait_until(lambda: len(sub.pushes) + _drain(sub) >= n_pushed_expected, 10,
               what="%d event pushes" % n_pushed_expected)
    check_eq(len(sub.pushes), n_pushed_expected, "event pushes")
    check(all(p["push"] == "event" and "process" in p["event"] for p in sub.pushes),
          "push shape")

    limits = expected_limits(unique)
    check(len(limits) >= 3, "limits groups expected")
    check_limits(j, limits)

    st = c.call("status")
    check_eq((st["reports"], st["events"]), (n_reports, n_events), "status counts")
    check_eq(st["usbmuxd"]["connected"], False, "usbmuxd disconnected (missing socket)")
    errors = c.call("reports", status="error", limit=100000)["reports"]
    check_eq(len(errors), sum(1 for r in unique if r["status"] == "error"), "error reports")
    check(all(r["error"] for r in errors), "error reports say why")
    check(any(r["path"] == "import:broken.ips" for r in errors), "the cut report is an error")
    broken_rep = [r for r in errors if r["path"] == "import:broken.ips"][0]
    check_eq(broken_rep["events"], 0, "no events from a report that does not parse")
    check(os.path.exists(os.path.join(j.state_dir, "archive", broken_rep["sha256"][:2],
                                      broken_rep["sha256"] + ".ips")),
          "a report that does not parse is archived")

    # reparse: same outcome, same events, same limits
    rp = c.call("reparse")
    check_eq(rp["reports"], n_reports, "reparse reports")
    check_eq(rp["events"], n_events, "reparse events")
    check_eq((rp["ok"], rp["skipped"], rp["error"]),
             tuple(sum(1 for r in unique if r["status"] == s) for s in ("ok", "skipped", "error")),
             "reparse outcome counts")
    evs2 = c.call("events", limit=100000)["events"]
    check_eq(sorted(canon(e) for e in evs2), sorted(canon(e) for e in evs["events"]),
             "events after reparse")
    check_limits(j, limits)

    # a restart keeps everything; a known report stays a duplicate
    c.close()
    sub.close()
    check_eq(j.stop(), 0, "exit code\n" + j.stderr_text()[-2000:])
    j.start()
    with j.client() as c2:
        st = c2.call("status")
        check_eq((st["reports"], st["events"]), (n_reports, n_events), "counts after restart")
        with open(files[0], "rb") as fh:
            check_eq(c2.import_bytes("x.ips", fh.read())["result"]["duplicate"], True,
                     "duplicate after restart")
    check_limits(j, limits)
    # jetsamctl import works against the daemon too
    rc, out, err = j.ctl("import", files[-3])
    check_eq(rc, 0, "jetsamctl import: " + err)
    # the whole copy of the report that was cut short replaces it (same incident)
    fixed_parse = parse_all([fixed])[os.path.abspath(fixed)]
    with j.client() as c2:
        with open(fixed, "rb") as fh:
            r = c2.import_bytes("fixed.ips", fh.read())
        check_eq(r["ok"], True, "import of the whole copy")
        check_eq(r["result"]["duplicate"], False, "a good copy of an error report is new")
        check_eq(r["result"]["report"]["id"], broken_rep["id"], "it replaces the error report")
        check_eq(r["result"]["report"]["status"], "ok", "status after the good copy")
        check_eq(r["result"]["report"]["events"], len(fixed_parse["events"]), "its events")
        ev = c2.call("events", limit=100000)["events"]
        check_eq(sorted(canon(e) for e in ev if e["report_id"] == broken_rep["id"]),
                 sorted(canon(e) for e in fixed_parse["events"]), "events of the good copy")
    check_eq(j.stop(), 0, "exit code after restart\n" + j.stderr_text()[-2000:])

    # with a devsim that has no phones, jetsamd connects to it and keeps serving
    if os.environ.get("DEVSIM"):
        ds = Devsim(dir=tmpdir()).start()
        j2 = Jetsamd(usbmuxd_socket=ds.usbmuxd)
        j2.start()
        with j2.client() as c3:
            wait_until(lambda: c3.call("status")["usbmuxd"]["connected"], 15,
                       what="usbmuxd connected (devsim without phones)")
            check_eq(c3.call("devices")["devices"], [], "no devices")
            with open(files[0], "rb") as fh:
                check_eq(c3.import_bytes("x.ips", fh.read())["ok"], True, "import with devsim")
        check_eq(j2.stop(), 0, "exit code (devsim)\n" + j2.stderr_text()[-2000:])
        ds.stop()
    print("ok")


def _drain(client):
    """Read pushes that are already waiting (non-blocking); returns 0 (for wait_until)."""
    client.sock.settimeout(0.05)
    try:
        while True:
            m = client.recv()
            if m is None:
                break
            if "push" in m:
                client.pushes.append(m)
    except (TimeoutError, OSError):
        pass
    finally:
        client.sock.settimeout(10)
    return 0


if __name__ == "__main__":
    main()
