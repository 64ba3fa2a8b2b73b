#!/usr/bin/env python3
# parse_roundtrip.py: reports from jetsamgen (J1-J4) parsed by `jetsamctl --json parse` give the generated kills
"""Environment: JETSAMGEN and JETSAMCTL, the two binaries (set by meson).

For every case, jetsamgen writes a report and its truth (the kill events as JSON lines in
the `parse --json` event schema, plus TRUTH.report.json with the report object); the test
parses the report with jetsamctl and compares the report object and every event field by
field. It also parses all the reports in one jetsamctl call, and checks the exit status
when an unreadable file is among them.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_common import EVENT_KEYS, REPORT_KEYS  # noqa: E402 (the `parse --json` schema)
from harness import binary, expect, finish, tmpdir  # noqa: E402


# (name, jetsamgen arguments)
CASES = [
    ("j1-ios9-iphone8", ["--product", "iPhone8,1", "--os-version", "9.3.2", "--build", "13F69",
                         "--kill", "KodiRemote:foreground:vm-thrashing:2050"]),
    ("j1-ios10-4k", ["--product", "iPhone7,2", "--os-version", "10.1.1", "--build", "14B100",
                     "--kill", "SpringBoard:background:highwater:61443",
                     "--kill", "MyApp:foreground:per-process-limit:160000"]),
    ("j1-ios9-32bit-hash-order", ["--product", "iPhone5,3", "--os-version", "9.3.3",
                                  "--build", "13G34",
                                  "--kill", "passd:daemon:vnode-limit:770",
                                  "--kill", "com.apple.Diagno:daemon:vnode-limit:365"]),
    ("j2-ios11-default-kill", ["--product", "iPhone10,1", "--os-version", "11.4.1",
                               "--build", "15G77"]),
    ("j2-ios12-4k-mix", ["--product", "iPod7,1", "--os-version", "12.3", "--build", "16F156",
                         "--kill", "backboardd:daemon:per-process-limit:131282",
                         "--kill", "cloudd:daemon:proc-thrashing:900",
                         "--kill", "nsurlsessiond:daemon:proc-thrashing:700",
                         "--kill", "Safari:background:vm-pageshortage:30000",
                         "--kill", "Game:foreground:per-process-limit:250000"]),
    ("j2-ios14-extension", ["--product", "iPhone12,1", "--os-version", "14.2",
                            "--build", "18B5061e",
                            "--kill", "ShareExt:extension:per-process-limit:3840",
                            "--kill", "wifianalyticsd:daemon:highwater:382",
                            "--kill", "dasd:daemon:highwater:456"]),
    ("j2-forced-on-ios13", ["--product", "iPhone10,6", "--os-version", "13.4.1",
                            "--build", "17E262", "--variant", "J2",
                            "--kill", "Snapchat:foreground:per-process-limit:89600"]),
    ("j3-ios15", ["--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
                  "--kill", "WeChat:foreground:per-process-limit:125000",
                  "--kill", "Widget:extension:per-process-limit:3000",
                  "--kill", "backboardd:daemon:per-process-limit:131282"]),
    ("j3-ios16-page4k", ["--product", "iPhone14,2", "--os-version", "16.6", "--build", "20G75",
                         "--page-size", "4096",
                         "--kill", "com.apple.WebKit.WebContent:background:idle-exit:9000",
                         "--kill", "App:foreground:per-process-limit:500000"]),
    ("j4-ios17", ["--product", "iPhone14,5", "--os-version", "17.0.3", "--build", "21A360",
                  "--kill", "Runner:foreground:per-process-limit:190000",
                  "--kill", "mediaserverd:daemon:highwater:8000"]),
    ("j4-ios18-many", ["--product", "iPhone14,7", "--os-version", "18.5", "--build", "22F76",
                       "--processes", "600"] +
     sum([["--kill", "xpcproxy:daemon:vm-pageshortage:%d" % (100 + i)] for i in range(8)], []) +
     ["--kill", "Keyboard:extension:per-process-limit:4096",
      "--kill", "Maps:foreground:per-process-limit:200000"]),
    ("j4-forced-on-ios16", ["--product", "iPhone15,2", "--os-version", "16.6", "--build", "20G75",
                            "--variant", "J4",
                            "--kill", "Pages:foreground:per-process-limit:180000"]),
]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def compare(what, want, got, keys):
    for k in keys:
        if expect(k in got, "%s: key '%s' missing from parse output" % (what, k)) and \
                expect(k in want, "%s: key '%s' missing from the truth" % (what, k)):
            expect(want[k] == got[k],
                   "%s: %s: generated %r, parsed %r" % (what, k, want[k], got[k]))
    extra = set(got) - set(keys)
    expect(not extra, "%s: unexpected keys %s" % (what, sorted(extra)))


def check_case(ctl, name, out, truth, variants_seen):
    """jetsamctl parses one generated report into its truth."""
    p = run([ctl, "--json", "parse", out])
    expect(p.returncode == 0,
           "%s: jetsamctl exit %d: %s %s" % (name, p.returncode, p.stdout, p.stderr))
    lines = p.stdout.splitlines()
    if not expect(len(lines) == 1, "%s: want one output line, got %d" % (name, len(lines))):
        return
    res = json.loads(lines[0])
    expect(list(res.keys()) == ["file", "status", "error", "report", "events"],
           "%s: top-level keys %s" % (name, list(res.keys())))
    expect(res["status"] == "ok" and res["error"] is None and res["file"] == out,
           "%s: status %s error %s" % (name, res["status"], res["error"]))
    with open(truth) as f:
        want_events = [json.loads(l) for l in f if l.strip()]
    with open(truth + ".report.json") as f:
        want_report = json.load(f)
    compare(name + " report", want_report, res["report"], REPORT_KEYS)
    variants_seen.add(res["report"].get("variant"))
    expect(len(want_events) == len(res["events"]),
           "%s: generated %d kills, parsed %d" % (name, len(want_events), len(res["events"])))
    for i, (w, g2) in enumerate(zip(want_events, res["events"])):
        compare("%s event %d (%s)" % (name, i, w.get("process")), w, g2, EVENT_KEYS)
    # the per-process-limit kills carry their limit, the others none
    for ev in res["events"]:
        expect((ev["limit_bytes"] is not None) == (ev["reason"] == "per-process-limit"),
               "%s: %s: limit_bytes %r for reason %s" %
               (name, ev["process"], ev["limit_bytes"], ev["reason"]))
        expect(ev["footprint_bytes"] == ev["rpages"] * ev["page_size"],
               "%s: %s: footprint is not rpages x page size" % (name, ev["process"]))


def check_batch(ctl, tmp, files):
    """Several files in one call, exit statuses, the table and CSV forms."""
    # every file in one call, with an unreadable one in the middle: exit 1, all printed
    missing = os.path.join(tmp, "missing.ips")
    argv = [f for _, f, _ in files]
    argv.insert(len(argv) // 2, missing)
    p = run([ctl, "--json", "parse"] + argv)
    expect(p.returncode == 1, "batch with a missing file: exit %d, want 1" % p.returncode)
    out = [json.loads(l) for l in p.stdout.splitlines()]
    expect([o["file"] for o in out] == argv, "batch: files printed %s" % [o["file"] for o in out])
    for o in out:
        want = "error" if o["file"] == missing else "ok"
        expect(o["status"] == want, "batch: %s status %s, want %s" % (o["file"], o["status"], want))
    # the same without the missing file: exit 0; the table and CSV forms run too
    p = run([ctl, "--json", "parse"] + [f for _, f, _ in files])
    expect(p.returncode == 0, "batch: exit %d, want 0" % p.returncode)
    p = run([ctl, "--csv", "parse"] + [f for _, f, _ in files])
    rows = p.stdout.splitlines()
    total = sum(len(open(t).read().splitlines()) for _, _, t in files)
    expect(p.returncode == 0 and len(rows) == total + 1 and rows[0].startswith("file,status,"),
           "csv: exit %d, %d rows for %d kills" % (p.returncode, len(rows), total))
    p = run([ctl, "parse", files[0][1]])
    expect(p.returncode == 0 and "MiB" in p.stdout,
           "table: exit %d: %s" % (p.returncode, p.stdout[:200]))
    p = run([ctl, "parse"])
    expect(p.returncode == 2, "parse without files: exit %d, want 2" % p.returncode)
    p = run([ctl, "parse", "--no-such-option", files[0][1]])
    expect(p.returncode == 2, "unknown option: exit %d, want 2" % p.returncode)


def main():
    gen = binary("JETSAMGEN")
    ctl = binary("JETSAMCTL")
    variants_seen = set()
    tmp = tmpdir("jt-rt-")
    files = []
    for seed, (name, args) in enumerate(CASES, start=1):
        out = os.path.join(tmp, name + ".ips")
        truth = os.path.join(tmp, name + ".truth")
        g = run([gen, "report", "--seed", str(seed)] + args + ["--out", out, "--truth", truth])
        if expect(g.returncode == 0, "%s: jetsamgen failed (%d): %s" %
                  (name, g.returncode, g.stderr.strip())):
            files.append((name, out, truth))
            check_case(ctl, name, out, truth, variants_seen)
    for v in ("J1", "J2", "J3", "J4"):
        expect(v in variants_seen, "variant %s never parsed" % v)
    check_batch(ctl, tmp, files)
    print("%d cases" % len(CASES))
    finish("parse-roundtrip")


if __name__ == "__main__":
    main()
