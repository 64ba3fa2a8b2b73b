#!/usr/bin/env python3
# fleet_metrics.py: issue 14 must-show 3: a real Prometheus scrapes jetsamd's GET /metrics (devsim phones)
"""
1. jetsamd (metrics_listen on a free port) syncs three devsim phones (one untrusted). Its
   /metrics is OpenMetrics (content type, `# EOF`, the strict reading of fleet_prometheus.py)
   with the families, HELP/TYPE/UNIT lines and label names of contrib/prometheus/example.om,
   in its order (the fleet families too: no fleet callback is wired here, so they are 0).
2. Its values agree with jetsamctl: kills by product/build/role/reason and their sum =
   `jetsamctl --json events`; jetsamd_limit_bytes = the newest event with a limit of each
   (product, build, role); jetsamd_limit_change_ratio = the medians of `limits`; reports by
   status = `reports`; devices by state and per phone = `devices`; every phone has a last
   sync, and the sync histogram counted the syncs.
3. A real Prometheus scrapes it: the target is up, and its HTTP query API returns
   sum(jetsamd_kills_total) = the number of events `jetsamctl events` lists; after an
   import (new rows: the aggregates grow) and a reparse (rows rewritten: rebuilt) it still
   does.
Environment: JETSAMD, JETSAMCTL, DEVSIM, JETSAMGEN, JETSAM_CORPUS (meson), SOURCE_ROOT.
"""
import collections
import glob
import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import promserver  # noqa: E402
from devices_common import (check, check_eq, gen_phone, harness, put, corpus_file,  # noqa: E402
                            wait_states)
from fleet_prometheus import EXAMPLE, parse_openmetrics  # noqa: E402

A = "00008101-0000000000000A01"
B = "00008110-0000000000000B02"
U = "00008120-0000000000000C03"
OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def families_shape(fams):
    """family -> (type, unit, help, sorted label names) as the exposition states them."""
    out = {}
    for name, f in fams.items():
        labels = sorted({k for s, lb, _ in f["samples"] for k, _ in lb
                         if not (s.endswith("_bucket") and k == "le")})
        out[name] = (f["type"], f["unit"], f["help"], labels)
    return out


def samples(fams, family):
    return [(s, dict(lb), v) for s, lb, v in fams[family]["samples"]]


def reason_label(r):
    if r is None:
        return ""
    ok = len(r) <= 32 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in r)
    return r if ok else "other"


def expected_from_events(events):
    kills = collections.Counter()
    newest = {}
    for e in events:  # newest first (report time, then id)
        key = (e.get("product") or "", e.get("build") or "", e.get("role") or "")
        kills[key + (reason_label(e.get("reason")),)] += 1
        if e.get("limit_bytes") is not None and key not in newest:
            newest[key] = e["limit_bytes"]
    return dict(kills), newest


def expected_ratios(limits):
    """Per (product, role): newest build's median / the previous build's with one - 1."""
    out = {}
    rows = limits  # sorted by product, OS version, build, role
    for i, row in enumerate(rows):
        grp = (row["product"] or "", row["role"])
        if any((r["product"] or "", r["role"]) == grp for r in rows[i + 1:]):
            continue
        for prev in reversed(rows[:i]):
            if (prev["product"] or "", prev["role"]) == grp and prev["build"] != row["build"] \
                    and prev["median"] > 0:
                out[grp + (row["build"] or "", prev["build"] or "")] = \
                    row["median"] / prev["median"] - 1
                break
    return out


def check_values(jd, fams):
    events = jd.ctl_json("events", "--limit", "100000")["events"]
    want_kills, want_limits = expected_from_events(events)
    got_kills = {(lb["product"], lb["build"], lb["role"], lb["reason"]): v
                 for _, lb, v in samples(fams, "jetsamd_kills")}
    check_eq(got_kills, want_kills, "jetsamd_kills_total by product/build/role/reason = events")
    check_eq(sum(got_kills.values()), len(events), "sum of jetsamd_kills_total = events")
    got_limits = {(lb["product"], lb["build"], lb["role"]): v
                  for _, lb, v in samples(fams, "jetsamd_limit_bytes")}
    check_eq(got_limits, want_limits, "jetsamd_limit_bytes = the newest event with a limit")
    want_ratios = expected_ratios(jd.ctl_json("limits")["limits"])
    got_ratios = {(lb["product"], lb["role"], lb["build"], lb["previous_build"]): v
                  for _, lb, v in samples(fams, "jetsamd_limit_change_ratio")}
    check_eq(sorted(got_ratios), sorted(want_ratios), "jetsamd_limit_change_ratio series")
    for k, v in want_ratios.items():
        check(abs(got_ratios.get(k, 99) - v) < 1e-9, "ratio %r: %r vs %r" % (k, got_ratios.get(k), v))
    reports = jd.ctl_json("reports", "--limit", "100000")["reports"]
    st = collections.Counter(r["status"] for r in reports)
    got_st = {lb["status"]: v for _, lb, v in samples(fams, "jetsamd_reports")}
    check_eq(got_st, {s: st.get(s, 0) for s in ("ok", "skipped", "error")},
             "jetsamd_reports by status = reports")
    return len(events)


def check_devices(jd, fams, syncs_at_least):
    devs = {d["udid"]: d for d in jd.ctl_json("devices")["devices"]}
    by_state = collections.Counter(d["state"] for d in devs.values())
    got = {lb["state"]: v for _, lb, v in samples(fams, "jetsamd_devices")}
    check_eq(got, {s: by_state.get(s, 0) for s in ("attached", "syncing", "idle", "locked",
                                                    "untrusted", "error", "detached")},
             "jetsamd_devices by state = devices")
    per = collections.defaultdict(dict)
    for _, lb, v in samples(fams, "jetsamd_device_state"):
        per[lb["udid"]][lb["state"]] = v
    check_eq(sorted(per), sorted(u for u, d in devs.items() if d["attached"]),
             "jetsamd_device_state: one set per attached phone")
    for u, states in per.items():
        check_eq(len(states), 6, "%s: six states (not detached)" % u)
        check_eq([s for s, v in states.items() if v == 1], [devs[u]["state"]],
                 "%s: 1 for its state only" % u)
    last = {lb["udid"]: (lb["product"], v)
            for _, lb, v in samples(fams, "jetsamd_device_last_sync_timestamp_seconds")}
    for u in (A, B):
        check(u in last and last[u][0] == devs[u]["product"] and last[u][1] > 1.7e9,
              "%s: last sync with its product (%r)" % (u, last.get(u)))
    count = [v for s, _, v in samples(fams, "jetsamd_sync_duration_seconds")
             if s.endswith("_count")]
    check(count and count[0] >= syncs_at_least, "sync histogram count %r >= %d"
          % (count, syncs_at_least))
    errors = [v for _, _, v in samples(fams, "jetsamd_sync_errors")]
    check(errors and errors[0] >= 1, "the untrusted phone's syncs are errors (%r)" % errors)


def main():
    for tool in ("prometheus", "promtool"):
        if not harness.shutil.which(tool):
            print("SKIP: %s not installed (Debian package prometheus)" % tool)
            return harness.SKIP
    root = harness.tmpdir("jt-fm-")
    pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=6, seed=21)
    pb = gen_phone(root, "b", B, "iPhone13,2", "16.0", "20A362", reports=5, seed=22)
    pu = gen_phone(root, "u", U, "iPhone14,5", "16.7.2", "20H115", reports=2, seed=23,
                   trust="denied")
    port = promserver.free_port()
    ds = harness.Devsim(phones_dirs=[pa, pb, pu]).start()
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={
        "resync_interval": "60s", "metrics_listen": "127.0.0.1:%d" % port,
        # the untrusted phone is tried again only after the test: its state stays put
        "retry_min": "120s", "retry_max": "300s"}).start()
    wait_states(jd, {A: "idle", B: "idle", U: "untrusted"}, timeout=40)

    status, ctype, text = scrape(port)
    check_eq((status, ctype), (200, OM_TYPE), "GET /metrics status and content type")
    fams, errors = parse_openmetrics(text)
    check_eq(errors, [], "the daemon's /metrics is valid OpenMetrics")
    example = open(EXAMPLE, encoding="utf-8").read()
    # the fleet families: 0 without a fleet callback (this daemon has none wired), left out
    # when the daemon has one and says the fleet is off (status "fleet": enabled false)
    fleet = jd.ctl_json("status").get("fleet")
    if fleet is not None and not fleet.get("enabled"):
        example = "\n".join(ln for ln in example.split("\n")
                            if "jetsamd_fleet_" not in ln)
    want, _ = parse_openmetrics(example)
    check_eq(list(fams), list(want), "families in example.om's order")
    got_shape, want_shape = families_shape(fams), families_shape(want)
    for name in want:
        g, w = got_shape[name], want_shape[name]
        if not fams[name]["samples"]:  # nothing to show label names with: the metadata only
            g, w = g[:3], w[:3]
        check_eq(g, w, "%s: type, unit, help and label names as example.om" % name)
    meta = [ln for ln in text.splitlines() if ln.startswith("# ")]
    want_meta = [ln for ln in example.splitlines() if ln.startswith("# ")]
    check_eq(meta, want_meta, "HELP/TYPE/UNIT lines identical to example.om's")
    check_values(jd, fams)
    check_devices(jd, fams, 3)

    prom = promserver.PromServer(targets=["127.0.0.1:%d" % port]).start()
    try:
        prom.wait_for('up{job="jetsamd"}', lambda r: r and r[0]["value"][1] == "1")
        t = [x for x in prom.targets() if x["labels"].get("job") == "jetsamd"]
        check(t and t[0]["health"] == "up" and t[0]["lastError"] == "",
              "Prometheus scrapes jetsamd without error (%r)" % (t and t[0]["lastError"]))
        n = len(jd.ctl_json("events", "--limit", "100000")["events"])
        check(n > 0, "the phones' reports have events (%d)" % n)
        got = prom.wait_for("sum(jetsamd_kills_total)",
                            lambda r: r and float(r[0]["value"][1]) == n)
        print("ok   Prometheus: sum(jetsamd_kills_total) = %s = jetsamctl events (%d)"
              % (got[0]["value"][1], n))
        # more rows: an import of corpus reports
        files = sorted(glob.glob(os.path.join(os.path.dirname(corpus_file("icdab-1.ips")),
                                              "*.ips")))[:20]
        rc, out, err = jd.ctl("import", *files)
        check(rc in (0, 1), "import: rc %d %s" % (rc, err))  # 1: some stored with status error
        n2 = len(jd.ctl_json("events", "--limit", "100000")["events"])
        check(n2 > n, "the import added events (%d -> %d)" % (n, n2))
        prom.wait_for("sum(jetsamd_kills_total)", lambda r: r and float(r[0]["value"][1]) == n2)
        print("ok   after an import: sum(jetsamd_kills_total) = %d" % n2)
        # rows rewritten: reparse
        rc, out, err = jd.ctl("reparse", timeout=120)
        check(rc == 0, "reparse: rc %d %s" % (rc, err))
        n3 = len(jd.ctl_json("events", "--limit", "100000")["events"])
        prom.wait_for("sum(jetsamd_kills_total)", lambda r: r and float(r[0]["value"][1]) == n3)
        print("ok   after a reparse: sum(jetsamd_kills_total) = %d" % n3)
        devs = prom.wait_for('jetsamd_device_state{state="untrusted"} == 1')
        check_eq([d["metric"]["udid"] for d in devs], [U], "Prometheus: the untrusted phone")
    finally:
        prom.stop()
    _, _, text = scrape(port)
    fams, errors = parse_openmetrics(text)
    check_eq(errors, [], "valid OpenMetrics after import and reparse")
    check_values(jd, fams)
    check(jd.stop() == 0, "jetsamd exits 0")
    ds.stop()
    print("fleet-metrics: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
