# gen_phone.py: `jetsamgen phone` makes a devsim DEVICE_DIR with the layout a real phone has
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_common import (expected_events, expected_facts, need_generator, read_truth, run,  # noqa: E402
                        split_report)
from harness import expect, finish  # noqa: E402

UDID = "00008101-001234560E12345E"
NAME_RE = re.compile(r"^JetsamEvent-\d{4}-\d{2}-\d{2}-\d{6}\.ips(\.synced)?$")


def tree(root):
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            files[os.path.relpath(p, root)] = open(p, "rb").read()
    return files


def make(tmp, sub, seed="3", udid=UDID, extra=()):
    d = os.path.join(tmp, sub)
    run(["phone", "--dir", d, "--udid", udid, "--product", "iPhone13,2", "--os-version", "15.5",
         "--build", "19F77", "--name", "Lab iPhone 12", "--seed", seed] + list(extra))
    return d


def main():
    need_generator()
    with tempfile.TemporaryDirectory(prefix="jt-gen-") as tmp:
        truth = os.path.join(tmp, "truth")
        d = make(tmp, "p1", extra=["--reports", "12", "--pending", "3", "--retired", "--synced",
                                   "--truth-dir", truth, "--processes", "120"])
        dev = json.load(open(os.path.join(d, "device.json")))
        expect(dev == {"udid": UDID, "product_type": "iPhone13,2", "product_version": "15.5",
                      "build_version": "19F77", "device_name": "Lab iPhone 12",
                      "trust": "paired"}, "device.json: %r" % dev)
        files = tree(d)
        top = sorted(os.listdir(d))
        expect(top == ["CrashReporter", "device.json", "pending"], "top of the dir: %s" % top)
        jetsam = {p: b for p, b in files.items() if os.path.basename(p).startswith("JetsamEvent-")}
        originals = {p: b for p, b in jetsam.items() if not p.endswith(".synced")}
        synced = {p: b for p, b in jetsam.items() if p.endswith(".synced")}
        pending = [p for p in originals if p.startswith("pending/")]
        retired = [p for p in originals if p.startswith("CrashReporter/Retired/")]
        expect(len(originals) == 15, "12 + 3 reports, got %d" % len(originals))
        expect(len(pending) == 3, "3 pending reports, got %d" % len(pending))
        expect(len(retired) >= 2, "some reports under Retired/, got %d" % len(retired))
        expect(len(synced) >= 2, "some .synced copies, got %d" % len(synced))
        for p, b in synced.items():
            expect(originals.get(p[:-len(".synced")]) == b, "%s is a copy of its report" % p)
        for p in jetsam:
            expect(NAME_RE.match(os.path.basename(p)) is not None, "file name %s" % p)
        bases = [os.path.basename(p) for p in originals]
        expect(len(set(bases)) == len(bases), "report names unique on the phone")
        others = {p: b for p, b in files.items() if p not in jetsam and p != "device.json"}
        expect(len(others) >= 2, "non-Jetsam files present: %s" % sorted(others))
        bug_types = set()
        for p, b in others.items():
            h = json.loads(b.decode().split("\n", 1)[0])
            bug_types.add(h.get("bug_type"))
        expect("309" in bug_types and "298" not in bug_types, "other bug types %s" % bug_types)
        incidents = set()
        for p, b in originals.items():
            header, body, _ = split_report(b)
            h, bd = dict(header), dict(body)
            incidents.add(h["incident_id"])
            expect(bd["product"] == "iPhone13,2" and h["os_version"] == "iPhone OS 15.5 (19F77)",
                  "%s: product and build of the phone" % p)
            expect(len(bd["processes"]) == 120, "%s: --processes 120" % p)
            stamp = os.path.basename(p)[len("JetsamEvent-"):-len(".ips")]
            ts = h["timestamp"]
            expect(stamp == ts[:10] + "-" + ts[11:13] + ts[14:16] + ts[17:19],
                  "%s: name matches the local time %s" % (p, ts))
            tp = os.path.join(truth, os.path.basename(p) + ".truth")
            expect(os.path.exists(tp), "truth for %s" % p)
            if os.path.exists(tp):
                t = [dict(x) for x in read_truth(tp)]
                expect(t == expected_events(header, body), "%s: truth matches" % p)
                facts = json.load(open(tp + ".report.json"))
                expect(facts == expected_facts(header, body, "J3"), "%s: report.json" % p)
        expect(len(incidents) == len(originals), "distinct incidents")
        crks = {json.loads(b.split(b"\n", 1)[1])["crashReporterKey"] for b in originals.values()}
        expect(len(crks) == 1, "one crashReporterKey per phone")
        reasons = set()
        for b in originals.values():
            header, body, _ = split_report(b)
            reasons |= {e["reason"] for e in expected_events(header, body)}
        expect("per-process-limit" in reasons, "reasons seen: %s" % reasons)
        manifest = [json.loads(l) for l in open(os.path.join(truth, "manifest.jsonl"))]
        expect(sorted(m["path"] for m in manifest) ==
              sorted(p for p in files if p != "device.json"), "manifest lists every file")

        # more reports give several reasons and roles
        d4 = make(tmp, "p4", seed="11", extra=["--reports", "40", "--processes", "60"])
        reasons, roles = set(), set()
        for p, b in tree(d4).items():
            if os.path.basename(p).startswith("JetsamEvent-"):
                header, body, _ = split_report(b)
                for e in expected_events(header, body):
                    reasons.add(e["reason"])
                    roles.add(e["role"])
        expect(len(reasons) >= 3 and roles == {"foreground", "daemon", "background"},
              "40 reports: reasons %s roles %s" % (reasons, roles))

        # determinism: same seed, same tree; other udid, other key
        d2 = make(tmp, "p2", extra=["--reports", "12", "--pending", "3", "--retired", "--synced",
                                    "--processes", "120"])
        expect(tree(d2) == files, "same seed and udid give the same tree")
        d3 = make(tmp, "p3", udid="00008030-000A1B2C3D4E5F60", extra=["--reports", "2"])
        crk3 = {json.loads(b.split(b"\n", 1)[1])["crashReporterKey"]
                for p, b in tree(d3).items() if os.path.basename(p).startswith("JetsamEvent-")}
        expect(crk3 and crk3 != crks, "another udid gives another crashReporterKey")
        expect(not os.path.exists(os.path.join(d3, "CrashReporter", "Retired")),
              "no Retired/ without --retired")

        p = run(["phone", "--dir", os.path.join(tmp, "bad"), "--udid", UDID], expect_rc=None)
        expect(p.returncode == 2 and "phone needs" in p.stderr, "missing options: %r" % p.stderr)
    finish("gen_phone")


if __name__ == "__main__":
    main()
