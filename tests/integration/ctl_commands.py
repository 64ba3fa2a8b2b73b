# ctl_commands.py: every jetsamctl command against jetsamd fed by devsim, in all three formats
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_world import (APP, DRIFT_NEW, DRIFT_OLD, PHONE_A, PHONE_B, PHONE_C, PHONES, World,  # noqa: E402
                       binary, check, check_eq, csv_rows, gen_report, run)

STATUS_CSV = ["version", "daemon", "pid", "started", "uptime_s", "usbmuxd_connected",
              "usbmuxd_socket", "state_dir", "devices_attached", "devices_syncing",
              "devices_total", "reports", "events", "clients", "resync_interval_s"]
DEVICES_CSV = ["udid", "name", "product", "product_name", "os_version", "build", "connection",
               "attached", "state", "error", "first_seen", "last_seen", "last_sync", "reports"]
LIMITS_CSV = ["product", "product_name", "os_version", "build", "role", "count", "phones", "min",
              "median", "max", "first_seen", "last_seen", "processes", "drift",
              "drift_previous_build", "drift_previous_median", "drift_change_pct"]
LIMIT_CSV = ["product", "product_name", "os_version", "build", "role", "statistic",
             "limit_bytes", "count", "phones"]
EVENTS_CSV = ["time", "timestamp", "udid", "product", "product_name", "os_version", "build",
              "incident", "report_id", "process", "pid", "uuid", "reason", "role", "states",
              "priority", "rpages", "page_size", "footprint_bytes", "limit_bytes",
              "lifetime_max_pages", "collected_at", "seq"]
REPORTS_CSV = ["id", "udid", "key", "incident", "path", "size", "sha256", "status", "error",
               "variant", "product", "product_name", "os_version", "build", "timestamp", "events",
               "collected", "removed_from_device"]
IMPORT_CSV = ["file", "ok", "duplicate", "id", "key", "status", "events", "variant", "error"]

MIB = 1024 * 1024


def test_status(w):
    st = w.json("status")
    check_eq(st["version"], 2, "status version")
    check_eq(st["devices"]["total"], len(PHONES), "status devices.total")
    check_eq(st["devices"]["attached"], len(PHONES), "status devices.attached")
    check(st["usbmuxd"]["connected"] is True, "status: usbmuxd connected")
    check_eq(st["pid"], w.jetsamd.pid, "status pid")
    header, rows = w.csv("status")
    check_eq(header, STATUS_CSV, "status csv header")
    check_eq(len(rows), 1, "status csv rows")
    check_eq(rows[0]["pid"], str(st["pid"]), "status csv pid")
    check_eq(rows[0]["usbmuxd_connected"], "true", "status csv usbmuxd_connected")
    check_eq(rows[0]["devices_total"], str(len(PHONES)), "status csv devices_total")
    out = w.ok("status")
    check("pid %d" % st["pid"] in out, "status table names the pid: %r" % out)
    check("%d attached" % len(PHONES) in out and "connected" in out, "status table: %r" % out)
    check(w.socket in out, "status table names the socket")


def test_devices(w):
    devs = w.json("devices")["devices"]
    check_eq(sorted(d["udid"] for d in devs), sorted(p["udid"] for p in PHONES), "device udids")
    by = {d["udid"]: d for d in devs}
    check_eq(by[PHONE_A["udid"]]["product_name"], "iPhone 12", "product_name of iPhone13,2")
    check_eq(by[PHONE_B["udid"]]["product_name"], "iPad Pro (12.9-inch) (6th generation)",
             "product_name of iPad14,5")
    for p in PHONES:
        d = by[p["udid"]]
        check_eq((d["name"], d["product"], d["os_version"], d["build"], d["state"]),
                 (p["name"], p["product"], p["os"], p["build"], "idle"), "device " + p["udid"])
    header, rows = w.csv("devices")
    check_eq(header, DEVICES_CSV, "devices csv header")
    check_eq(sorted(r["udid"] for r in rows), sorted(by), "devices csv udids")
    for r in rows:
        check_eq(r["name"], by[r["udid"]]["name"], "devices csv name (quoting)")
        check_eq(r["attached"], "true", "devices csv attached")
        check_eq(r["reports"], str(by[r["udid"]]["reports"]), "devices csv reports")
    out = w.ok("devices")  # not a TTY, no COLUMNS: nothing is cut
    lines = out.splitlines()
    check(lines[0].split()[:3] == ["UDID", "NAME", "PRODUCT"], "devices header: %r" % lines[0])
    check("iPhone13,2 (iPhone 12)" in out, "devices table shows the marketing name")
    check(PHONE_A["name"] in out and PHONE_B["udid"] in out, "devices table in full: %r" % out)
    check("\033[" not in out, "no colour when stdout is not a TTY")
    # with COLUMNS=80 no line is longer than 80 columns
    rc, out, err = w.ctl("devices", env={"COLUMNS": "80"})
    check_eq(rc, 0, "devices with COLUMNS=80")
    for line in out.splitlines():
        check(len(line) <= 80, "devices line over 80 columns: %r" % line)


def find_limit(limits, product, build, role="foreground"):
    rows = [l for l in limits if (l["product"], l["build"], l["role"]) == (product, build, role)]
    check_eq(len(rows), 1, "limit rows for %s %s %s" % (product, build, role))
    return rows[0]


def test_limits(w):
    limits = w.json("limits")["limits"]
    old = find_limit(limits, "iPad14,5", DRIFT_OLD["build"])
    new = find_limit(limits, "iPad14,5", DRIFT_NEW["build"])
    check_eq((old["min"], old["median"], old["max"], old["count"]),
             (DRIFT_OLD["rpages"] * 16384,) * 3 + (1,), "limit of the old build")
    check_eq(new["median"], DRIFT_NEW["rpages"] * 16384, "median of the new build")
    check_eq(new["product_name"], "iPad Pro (12.9-inch) (6th generation)", "limits product_name")
    check(new["drift"] is not None, "drift flagged on %s: %r" % (DRIFT_NEW["build"], new))
    check_eq(new["drift"]["previous_build"], DRIFT_OLD["build"], "drift previous_build")
    check_eq(new["drift"]["previous_median"], DRIFT_OLD["rpages"] * 16384, "previous_median")
    check_eq(new["drift"]["change_pct"], -50.0, "drift change_pct")
    # 23D60 follows the phone's 16.4.1 build of the same product: drift is against that one
    if old["drift"] is not None:
        check_eq(old["drift"]["previous_build"], PHONE_B["build"], "drift of 23D60 vs 20E252")
    # the phones' own foreground limits are there too (one row per product, build, role)
    for p in PHONES:
        check(any(l["product"] == p["product"] and l["build"] == p["build"] for l in limits),
              "a limit row for %s %s" % (p["product"], p["build"]))
    # filters
    only = w.json("limits", "--product", "iPad14,5", "--build", DRIFT_NEW["build"])["limits"]
    check_eq([(l["product"], l["build"]) for l in only], [("iPad14,5", DRIFT_NEW["build"])],
             "limits --product --build")
    # csv: drift marker column
    header, rows = w.csv("limits")
    check_eq(header, LIMITS_CSV, "limits csv header")
    check_eq(len(rows), len(limits), "limits csv rows")
    for r in rows:
        if (r["product"], r["build"], r["role"]) == ("iPad14,5", DRIFT_NEW["build"], "foreground"):
            check_eq((r["drift"], r["drift_previous_build"], r["median"]),
                     ("true", DRIFT_OLD["build"], str(DRIFT_NEW["rpages"] * 16384)), "csv drift")
            check_eq(float(r["drift_change_pct"]), -50.0, "csv drift_change_pct")
            check_eq(r["processes"], APP, "csv processes")
        if r["build"] == DRIFT_OLD["build"]:
            check_eq(r["drift"], "true" if old["drift"] else "false", "csv drift of 23D60")
    # table: MiB with one decimal, the drift marker
    out = w.ok("limits")
    line = [l for l in out.splitlines() if DRIFT_NEW["build"] in l]
    check_eq(len(line), 1, "table rows of build %s" % DRIFT_NEW["build"])
    check("3072.0" in line[0] and "6144.0" not in line[0], "MiB in the row: %r" % line[0])
    check("! -50.0%" in line[0], "drift marker in the row: %r" % line[0])
    old_line = [l for l in out.splitlines() if DRIFT_OLD["build"] in l][0]
    check(("!" in old_line) == (old["drift"] is not None) and "6144.0" in old_line,
          "old build row: %r" % old_line)
    check("iPad14,5 (iPad Pro (12.9-inch) (6th generation))" in out, "marketing name in limits")
    check(out.splitlines()[0].split()[:3] == ["PRODUCT", "OS", "ROLE"], "limits header")


def test_limit(w):
    new_bytes = DRIFT_NEW["rpages"] * 16384
    old_bytes = DRIFT_OLD["rpages"] * 16384
    # newest build by OS version (26.4) without --build; just the number in table mode
    check_eq(w.ok("limit", "--product", "iPad14,5"), "%d\n" % new_bytes, "limit table")
    check_eq(w.ok("limit", "--product", "iPad14,5", "--build", DRIFT_OLD["build"]),
             "%d\n" % old_bytes, "limit --build")
    check_eq(w.ok("limit", "--product", "iPad14,5", "--build", DRIFT_OLD["build"], "--min",
                  "--role", "foreground"), "%d\n" % old_bytes, "limit --min")
    j = w.json("limit", "--product", "iPad14,5")
    check_eq((j["product"], j["build"], j["role"], j["statistic"], j["limit_bytes"],
              j["product_name"]),
             ("iPad14,5", DRIFT_NEW["build"], "foreground", "median", new_bytes,
              "iPad Pro (12.9-inch) (6th generation)"), "limit --json")
    check_eq(w.json("limit", "--product", "iPad14,5", "--min")["statistic"], "min", "--min json")
    header, rows = w.csv("limit", "--product", "iPad14,5")
    check_eq(header, LIMIT_CSV, "limit csv header")
    check_eq([r["limit_bytes"] for r in rows], [str(new_bytes)], "limit csv value")
    # the same through the phones' own reports: a median among the phone's observations
    limits = w.json("limits", "--product", PHONE_A["product"])["limits"]
    fg = [l for l in limits if l["role"] == "foreground"]
    if fg:
        check_eq(w.ok("limit", "--product", PHONE_A["product"], "--build", PHONE_A["build"]),
                 "%d\n" % fg[-1]["median"], "limit of phone A")
    # nothing known: exit 4 in every format
    for fmt in ([], ["--json"], ["--csv"]):
        rc, out, err = w.ctl(*fmt, "limit", "--product", "iPhone99,9")
        check_eq(rc, 4, "limit of an unknown product %s" % fmt)
        check("no foreground limit known for 'iPhone99,9'" in err, "limit exit 4 says why: %r"
              % err)
        if fmt == ["--json"]:
            check_eq(json.loads(out)["limit_bytes"], None, "limit_bytes null when unknown")
        elif fmt == ["--csv"]:
            check_eq(out, ",".join(LIMIT_CSV) + "\n", "csv header only when unknown")
        else:
            check_eq(out, "", "nothing on stdout when unknown")
    rc, out, err = w.ctl("limit", "--product", "iPad14,5", "--role", "daemon")
    check_eq(rc, 4, "limit of a role with no observation")


def test_user_terms(w):
    # issue 13 must-show 4: a marketing name and an OS version, or an identifier in another
    # case and the build, give the same number (and --build 15.5 is --os 15.5)
    want = w.ok("limit", "--product", "iPhone13,2", "--build", "19F77")
    check(re.fullmatch(r"\d+\n", want) is not None, "limit of phone A: %r" % want)
    for args in (["--product", "iPhone 12", "--os", "15.5"],
                 ["--product", "iphone13,2", "--build", "19F77"],
                 ["--product", "IPHONE 12", "--build", "15.5"], ["--product", "iPhone 12"],
                 ["--product", "iphone 12", "--os", "15"]):
        check_eq(w.ok("limit", *args), want, "limit %s" % args)
    j = w.json("limit", "--product", "iPhone 12", "--os", "15.5")
    check_eq((j["product"], j["build"]), ("iPhone13,2", "19F77"), "limit --json names them")
    # an OS version with several builds: limits keeps the rows of those builds only, events
    # asks for each build and merges, newest first
    rows = w.json("limits", "--product", "ipad14,5", "--os", "26")["limits"]
    check_eq(sorted(set(r["build"] for r in rows)), sorted([DRIFT_OLD["build"],
                                                            DRIFT_NEW["build"]]),
             "limits --os 26: %r" % rows)
    check_eq(w.json("limits", "--product", "iPad Pro (12.9-inch) (6th generation)", "--os",
                    "26.4")["limits"],
             w.json("limits", "--product", "iPad14,5", "--build", DRIFT_NEW["build"])["limits"],
             "limits by marketing name and OS")
    ev = w.json("events", "--product", "iPad14,5", "--os", "26")["events"]
    check_eq([e["build"] for e in ev], [DRIFT_NEW["build"], DRIFT_OLD["build"]],
             "events --os 26: both builds, newest first")
    check_eq(len(w.json("events", "--os", "26", "--limit", "1")["events"]), 1,
             "events --os --limit")
    a = w.json("events", "--product", "iPhone 12", "--os", "15.5")["events"]
    b = w.json("events", "--product", "iPhone13,2", "--build", "19F77")["events"]
    check(a and a == b, "events by marketing name and OS: %d vs %d" % (len(a), len(b)))
    # an OS the daemon has no build of: nothing matches
    check_eq(w.json("events", "--os", "9.3")["events"], [], "events of an unknown OS")
    rc, out, err = w.ctl("limit", "--product", "iPhone 12", "--os", "9.3")
    check(rc == 4 and "OS '9.3'" in err, "limit of an unknown OS: %d %r" % (rc, err))
    rc, out, err = w.ctl("limit", "--product", "iPhone 12", "--os", "15.5", "--build", "19F77")
    check_eq(rc, 2, "--os with --build")


def test_events(w, total_events):
    ev = w.json("events")
    check_eq(len(ev["events"]), total_events, "events count (all)")
    check(ev["truncated"] is False, "events not truncated")
    mine = w.json("events", "--product", "iPad14,5", "--build", DRIFT_NEW["build"])["events"]
    check_eq(len(mine), 1, "events of the new build")
    e = mine[0]
    check_eq((e["process"], e["reason"], e["role"], e["footprint_bytes"], e["limit_bytes"],
              e["page_size"], e["product_name"]),
             (APP, "per-process-limit", "foreground", DRIFT_NEW["rpages"] * 16384,
              DRIFT_NEW["rpages"] * 16384, 16384, "iPad Pro (12.9-inch) (6th generation)"),
             "the event of the new build")
    # filters
    check_eq(len(w.json("events", "--process", APP)["events"]), 2, "events --process")
    check_eq(len(w.json("events", "--udid", PHONE_A["udid"])["events"]),
             len([x for x in ev["events"] if x["udid"] == PHONE_A["udid"]]), "events --udid")
    check(all(x["reason"] == "per-process-limit" for x in
              w.json("events", "--reason", "per-process-limit")["events"]), "events --reason")
    check(all(x["role"] == "daemon" for x in w.json("events", "--role", "daemon")["events"]),
          "events --role")
    # --since/--until, relative and ISO-8601: the imports are 2 h and 10 min old, the phones'
    # generated reports are years old
    recent = w.json("events", "--since", "1h")["events"]
    check_eq([(x["build"], x["process"]) for x in recent], [(DRIFT_NEW["build"], APP)],
             "events --since 1h")
    check_eq(len(w.json("events", "--since", "3h", "--process", APP)["events"]), 2,
             "events --since 3h")
    iso_hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    check_eq([x["build"] for x in w.json("events", "--since", "3h", "--until", iso_hour_ago)
              ["events"]], [DRIFT_OLD["build"]], "events --since 3h --until ISO")
    # --limit: truncated, newest first
    lim = w.json("events", "--limit", "1")
    check_eq(len(lim["events"]), 1, "events --limit 1")
    check(lim["truncated"] is True, "events --limit 1 is truncated")
    rc, out, err = w.ctl("events", "--limit", "1")
    check("more events match" in err, "table mode notes the truncation: %r" % err)
    # csv
    header, rows = w.csv("events", "--process", APP)
    check_eq(header, EVENTS_CSV, "events csv header")
    check_eq(sorted(r["build"] for r in rows), sorted([DRIFT_OLD["build"], DRIFT_NEW["build"]]),
             "events csv rows")
    for r in rows:
        check_eq(r["product"], "iPad14,5", "csv product (a comma, quoted)")
        check_eq(r["limit_bytes"], r["footprint_bytes"], "csv limit = footprint")
    # table
    out = w.ok("events", "--process", APP)
    lines = out.splitlines()
    check_eq(len(lines), 3, "events table lines (header + 2)")
    check(lines[0].split()[0] == "TIME" and "PROCESS" in lines[0], "events header")
    check(" min ago" in lines[1] and "3072.0" in lines[1], "newest first, MiB: %r" % lines[1])
    check(" h ago" in lines[2] and "6144.0" in lines[2], "then the older: %r" % lines[2])
    # --fail-if-any: 3 after printing when something matches, 0 otherwise
    for fmt in ([], ["--json"], ["--csv"]):
        rc, out, err = w.ctl(*fmt, "events", "--process", APP, "--fail-if-any")
        check_eq(rc, 3, "events --fail-if-any with matches %s" % fmt)
        check(out.count(APP) == 2, "the matches are printed before exit 3 %s" % fmt)
        rc, out, err = w.ctl(*fmt, "events", "--process", "NoSuchApp", "--fail-if-any")
        check_eq(rc, 0, "events --fail-if-any without matches %s" % fmt)
    check_eq(w.json("events", "--process", "NoSuchApp")["events"], [], "no events, json")
    check_eq(csv_rows(w.ok("--csv", "events", "--process", "NoSuchApp"))[1], [], "no events, csv")


def test_reports(w):
    reps = w.json("reports")
    want = sum(p["reports"] for p in PHONES) + 2
    check_eq(len(reps["reports"]), want, "reports count")
    check(all(r["status"] == "ok" for r in reps["reports"]), "all reports parse")
    imported = [r for r in reps["reports"] if r["path"].startswith("import:")]
    check_eq(len(imported), 2, "imported reports")
    check_eq(len(w.json("reports", "--udid", PHONE_B["udid"])["reports"]), PHONE_B["reports"],
             "reports --udid")
    check_eq(len(w.json("reports", "--status", "error")["reports"]), 0, "reports --status error")
    check_eq(len(w.json("reports", "--limit", "2")["reports"]), 2, "reports --limit")
    header, rows = w.csv("reports")
    check_eq(header, REPORTS_CSV, "reports csv header")
    check_eq(sorted(r["sha256"] for r in rows), sorted(r["sha256"] for r in reps["reports"]),
             "reports csv rows")
    # newest first by collection time, then id, as documented
    order = [(r["collected"], r["id"]) for r in reps["reports"]]
    check_eq(order, sorted(order, reverse=True), "reports order")
    out = w.ok("reports")
    check_eq(len(out.splitlines()), want + 1, "reports table lines")
    check_eq([int(l.split()[0]) for l in out.splitlines()[1:]], [o[1] for o in order],
             "reports table order")
    check("import:JetsamEvent-%s.ips" % DRIFT_NEW["build"] in out, "import path in the table")


def test_sync(w):
    j = w.json("sync", "--wait")
    check_eq(sorted(s["udid"] for s in j["synced"]), sorted(p["udid"] for p in PHONES),
             "sync --wait synced both")
    check(all(s["error"] is None and s["new_reports"] == 0 for s in j["synced"]),
          "nothing new on a second sync: %r" % j)
    j = w.json("sync", PHONE_A["udid"])
    check_eq(j["queued"], [PHONE_A["udid"]], "sync UDID queued")
    header, rows = w.csv("sync", "--wait", PHONE_B["udid"])
    check_eq(header, ["udid", "state", "new_reports", "error"], "sync csv header")
    check_eq([(r["udid"], r["new_reports"]) for r in rows], [(PHONE_B["udid"], "0")], "sync csv")
    header, rows = w.csv("sync")
    check_eq(header, ["udid"], "sync (queued) csv header")
    out = w.ok("sync", "--wait")
    check(PHONE_A["udid"] in out and "NEW REPORTS" in out, "sync --wait table: %r" % out)
    out = w.ok("sync")
    check("sync queued for %d phones" % len(PHONES) in out, "sync table: %r" % out)
    # a new report on a phone arrives with the next sync (after the queued ones are done)
    w.json("sync", "--wait")
    new = gen_report(os.path.join(w.phone_dirs[0], "CrashReporter",
                                  "JetsamEvent-2026-11-23-100000.ips"),
                     dict(product=PHONE_A["product"], os=PHONE_A["os"], build=PHONE_A["build"],
                          rpages=90000, ago=30),
                     kill="NewKillApp:foreground:per-process-limit:90000")
    check(os.path.exists(new), "report written")
    j = w.json("sync", "--wait", PHONE_A["udid"])
    check_eq(j["synced"][0]["new_reports"], 1, "sync --wait counts the new report")
    check_eq(len(w.json("events", "--process", "NewKillApp")["events"]), 1, "new event stored")
    # unknown udid: the daemon's not_found, exit 1
    rc, out, err = w.ctl("sync", "0000-no-such-phone")
    check_eq(rc, 1, "sync of an unknown udid")
    check("not_found" in err, "sync of an unknown udid says not_found: %r" % err)


def test_import(w):
    # the same bytes again: a duplicate, not stored twice
    before = len(w.json("reports")["reports"])
    j = w.json("import", w.drift_files[0])
    check_eq(len(j["imports"]), 1, "import entries")
    check(j["imports"][0]["ok"] is True and j["imports"][0]["duplicate"] is True,
          "import of a stored report is a duplicate: %r" % j)
    check_eq(len(w.json("reports")["reports"]), before, "no new report for a duplicate")
    # a new report, a file that does not parse, a missing file: csv and table
    fresh = gen_report(os.path.join(w.dir, "fresh.ips"),
                       dict(product="iPhone14,5", os="17.2", build="21C62", rpages=120000,
                            ago=60), kill="FreshApp:foreground:per-process-limit:120000")
    junk = os.path.join(w.dir, "junk.ips")
    with open(junk, "w") as f:
        f.write('{"bug_type":"298"}\n{ this is not json')
    rc, out, err = w.ctl("--csv", "import", fresh, junk, os.path.join(w.dir, "missing.ips"))
    check_eq(rc, 1, "import with a missing file exits 1")
    header, rows = csv_rows(out)
    check_eq(header, IMPORT_CSV, "import csv header")
    check_eq([(r["ok"], r["duplicate"], r["status"]) for r in rows],
             [("true", "false", "ok"), ("true", "false", "error"), ("false", "", "")],
             "import csv rows")
    check(rows[1]["error"] != "", "the parse error is given")
    check("cannot open" in err and "missing.ips" in err, "missing file named: %r" % err)
    check_eq(len(w.json("events", "--process", "FreshApp")["events"]), 1, "imported event")
    check_eq(len(w.json("reports", "--status", "error")["reports"]), 1, "the junk is stored")
    out = w.ok("import", fresh)
    check("duplicate" in out and "fresh.ips" in out, "import table: %r" % out)
    # a report that does not parse: stored, but exit 1 and the reason on stderr
    for fmt in ([], ["--json"]):
        rc, out, err = w.ctl(*fmt, "import", junk)
        check_eq(rc, 1, "import of a report that does not parse %s" % fmt)
        check("'%s' does not parse: " % junk in err and len(err.splitlines()) == 1,
              "import says why: %r" % err)
    # stdin
    with open(fresh, "rb") as f:
        p = subprocess.run([binary("JETSAMCTL"), "--socket", w.socket, "--json",
                                          "import", "-"], stdin=f, capture_output=True)
    check_eq(p.returncode, 0, "import - (stdin)")
    check(json.loads(p.stdout)["imports"][0]["duplicate"] is True, "stdin import dedup")


def test_reparse(w):
    total = len(w.json("reports")["reports"])
    events_before = len(w.json("events", "--limit", "100000")["events"])
    j = w.json("reparse")
    check_eq(j["reports"], total, "reparse reports")
    check_eq(j["ok"] + j["skipped"] + j["error"], total, "reparse counts add up")
    check_eq(j["error"], 1, "reparse: the junk report still fails")
    check_eq(j["events"], events_before, "reparse keeps the events")
    header, rows = w.csv("reparse")
    check_eq(header, ["reports", "ok", "skipped", "error", "events"], "reparse csv header")
    check_eq(rows[0]["reports"], str(total), "reparse csv")
    out = w.ok("reparse")
    check(out.startswith("reparsed %d reports" % total), "reparse table: %r" % out)


def test_parse(w):
    # offline: no --socket needed, dispatched to parse_main
    out = run([binary("JETSAMCTL"), "--socket", "/nonexistent/x.sock", "--json", "parse",
               w.drift_files[1]])
    doc = json.loads(out.splitlines()[0])
    check_eq(doc["status"], "ok", "parse status")
    check_eq([(e["process"], e["limit_bytes"]) for e in doc["events"]],
             [(APP, DRIFT_NEW["rpages"] * 16384)], "parse events")


def test_help(w):
    for cmd in ("status", "devices", "limits", "limit", "events", "reports", "sync", "import",
                "reparse", "watch"):
        rc, out, err = w.ctl(cmd, "--help")
        check_eq(rc, 0, "%s --help" % cmd)
        check(out.startswith("usage: jetsamctl %s" % cmd), "%s --help: %r" % (cmd, out))
    rc, out, err = w.ctl("--help")
    check_eq(rc, 0, "--help")
    for cmd in ("status", "limits", "watch", "parse"):
        check(cmd in out, "--help lists %s" % cmd)


def test_phone_error(w):
    # a phone that refuses pairing: sync --wait exits 1 and says why, devices shows it
    w.devsim.control("set %s trust denied" % PHONE_B["udid"])
    rc, out, err = w.ctl("--json", "sync", "--wait", PHONE_B["udid"])
    check_eq(rc, 1, "sync --wait of a phone that denies pairing")
    s = json.loads(out)["synced"][0]
    check(s["state"] == "untrusted" and s["error"], "sync result of the denied phone: %r" % s)
    check("sync failed on 1 phone" in err, "sync failure on stderr: %r" % err)
    rc, out, err = w.ctl("sync", "--wait", PHONE_B["udid"])
    check(rc == 1 and s["error"] in out, "sync table shows the error: %r" % out)
    out = w.ok("devices")
    check("untrusted" in out and "%s: %s" % (PHONE_B["udid"], s["error"]) in out,
          "devices shows the state and the error below the table: %r" % out)
    header, rows = w.csv("devices")
    row = [r for r in rows if r["udid"] == PHONE_B["udid"]][0]
    check_eq((row["state"], row["error"]), ("untrusted", s["error"]), "devices csv error")
    w.devsim.control("set %s trust paired" % PHONE_B["udid"])

def test_udid_prefixes(w):
    # a unique prefix, in any case, names the phone wherever a UDID is taken
    j = w.json("sync", "--wait", PHONE_C["udid"][:13].lower())
    check_eq([s["udid"] for s in j["synced"]], [PHONE_C["udid"]], "sync of a UDID prefix")
    j = w.json("events", "--udid", PHONE_A["udid"][:13])
    check(j["events"] and all(e["udid"] == PHONE_A["udid"] for e in j["events"]),
          "events --udid PREFIX: %r" % j["events"][:1])
    j = w.json("reports", "--udid", PHONE_B["udid"][:6].upper())
    check_eq(len(j["reports"]), PHONE_B["reports"], "reports --udid PREFIX")
    # an ambiguous prefix names the candidates (exit 2); no match is the daemon's not_found
    for args in (["sync", "00008101"], ["events", "--udid", "00008101-000"],
                 ["watch", "--udid", "0000", "--timeout", "1"]):
        rc, out, err = w.ctl(*args)
        check_eq(rc, 2, "ambiguous prefix %s" % args)
        check("ambiguous" in err and PHONE_A["udid"] in err and PHONE_C["udid"] in err and
              len(err.splitlines()) == 1, "ambiguous prefix names both: %r" % err)
    rc, out, err = w.ctl("sync", "ffff")
    check(rc == 1 and "not_found" in err, "sync of no phone: %d %r" % (rc, err))
    # at 80 columns UDIDs are never cut: devices shows them whole, events and reports a
    # unique prefix that sync accepts, instead of dropping the column
    rc, out, err = w.ctl("devices", env={"COLUMNS": "80"})
    for p in PHONES:
        check(p["udid"] in out, "devices at 80 columns shows %s whole: %r" % (p["udid"], out))
    for cmd in ("events", "reports"):
        rc, out, err = w.ctl(cmd, env={"COLUMNS": "80"})
        lines = out.splitlines()
        check("UDID" in lines[0].split(), "%s at 80 columns keeps UDID: %r" % (cmd, lines[0]))
        start = lines[0].index("UDID")
        shown = set(l[start:].split()[0] for l in lines[1:] if len(l) > start)
        check(PHONE_A["udid"][:13] in shown and PHONE_C["udid"][:13] in shown,
              "%s shows unique prefixes: %r" % (cmd, shown))
        for u in shown - {"-"}:
            j = w.json("sync", "--wait", u)
            check_eq(len(j["synced"]), 1, "sync accepts %s from the %s table" % (u, cmd))

def complete(w, words, sock=None):
    """The bash completion of the last of words (jetsamctl --socket SOCK words...)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "client",
                          "jetsamctl.bash")
    argv = [binary("JETSAMCTL"), "--socket", sock or w.socket] + list(words)
    prog = "source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _jetsamctl; " \
        "printf '%%s\\n' \"${COMPREPLY[@]}\"" % (
            shlex.quote(script), " ".join(shlex.quote(a) for a in argv), len(argv) - 1)
    t0 = time.monotonic()
    p = subprocess.run(["bash", "-c", prog], capture_output=True, timeout=30)
    check_eq(p.stderr.decode(), "", "completion of %r: stderr" % (words,))
    return [l for l in p.stdout.decode().splitlines() if l], time.monotonic() - t0


def test_completion(w):
    if shutil.which("bash") is None:
        print("note: no bash, completion not tested")
        return
    got, _ = complete(w, ["sync", ""])
    check_eq(sorted(got), sorted(p["udid"] for p in PHONES), "sync UDIDs from the daemon")
    got, _ = complete(w, ["events", "--udid", "0000"])
    check_eq(sorted(got), sorted([PHONE_A["udid"], PHONE_C["udid"]]), "--udid prefix")
    got, _ = complete(w, ["limit", "--product", "iP"])
    check(set(got) >= {"iPhone13,2", "iPad14,5"}, "products from the daemon: %r" % got)
    got, _ = complete(w, ["events", "--process", ""])
    check(APP in got and "Slack" in got, "processes from the daemon: %r" % got)
    got, _ = complete(w, ["limits", "--build", "23"])
    check_eq(sorted(got), sorted([DRIFT_OLD["build"], DRIFT_NEW["build"]]), "builds")
    got, _ = complete(w, ["limits", "--os", "26"])
    check_eq(sorted(got), ["26.3", "26.4"], "OS versions")
    got, _ = complete(w, ["help", "ev"])
    check_eq(got, ["events"], "help COMMAND")
    got, _ = complete(w, ["watch", "--ki"])
    check_eq(got, ["--kills"], "watch --kills")
    # the daemon down: nothing, quietly and at once
    for words in (["sync", ""], ["events", "--process", ""], ["limit", "--product", ""]):
        got, took = complete(w, words, sock=os.path.join(w.dir, "down.sock"))
        check(got == [] and took < 5, "nothing without a daemon: %r in %.1f s" % (got, took))


def main():
    w = World()
    rc, out, err = w.ctl("--json", "events", "--limit", "100000")
    total_events = len(json.loads(out)["events"])
    check(total_events >= sum(p["reports"] for p in PHONES) + 2, "events: %d" % total_events)
    test_status(w)
    test_devices(w)
    test_limits(w)
    test_limit(w)
    test_user_terms(w)
    test_events(w, total_events)
    test_reports(w)
    test_sync(w)
    test_udid_prefixes(w)
    test_import(w)
    test_reparse(w)
    test_parse(w)
    test_help(w)
    test_completion(w)
    test_phone_error(w)
    w.jetsamd.stop()
    print("ok: every command in table, json and csv")


if __name__ == "__main__":
    main()
