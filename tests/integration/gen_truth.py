# gen_truth.py: jetsamgen's truth files equal the kills recomputed from the report it wrote
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_common import (EVENT_KEYS, REPORT_KEYS, expected_events, expected_facts, keys,  # noqa: E402
                        need_generator, read_truth, run, split_report)
from harness import expect, finish  # noqa: E402

KILLS = [
    "MemoryTest:foreground:per-process-limit:89600:2541",
    "com.example.Widget:extension:per-process-limit:1920",
    "backboardd:daemon:per-process-limit:131282",
    "wifianalyticsd:daemon:highwater:2210",
    "dasd:daemon:highwater:1502:355",
    "Spotify:background:vm-pageshortage:5000",
    "HealthMentalHealthWidgetExtension:extension:vm-pageshortage:700",
    'Odd "Name"/With\\Slash:background:proc-thrashing:12',
]

CASES = [
    ("iPhone5,3", "9.3.3", "13G34", "J1"),
    ("iPhone8,1", "9.3", "13E234", "J1"),
    ("iPhone7,2", "10.1.1", "14B100", "J1"),
    ("iPhone10,1", "11.4.1", "15G77", "J2"),
    ("iPhone11,6", "12.4", "16G77", "J2"),
    ("iPhone12,1", "14.2", "18B5061e", "J2"),
    ("iPhone13,2", "15.5", "19F77", "J3"),
    ("iPhone14,2", "16.6", "20G75", "J3"),
    ("iPhone14,5", "17.0.3", "21A360", "J4"),
    ("iPhone14,7", "18.5", "22F76", "J4"),
]


def compare(name, path, variant):
    header, body, _ = split_report(open(path, "rb").read())
    truth = read_truth(path + ".truth")
    want = expected_events(header, body)
    expect(len(truth) == len(want), "%s: %d truth events, report has %d kills" %
          (name, len(truth), len(want)))
    for t, w in zip(truth, want):
        expect(keys(t) == EVENT_KEYS, "%s: truth keys %s" % (name, keys(t)))
        expect(dict(t) == w, "%s: truth %s != report %s" % (name, dict(t), w))
    facts = json.loads(open(path + ".truth.report.json").read(), object_pairs_hook=lambda p: p)
    expect(keys(facts) == REPORT_KEYS, "%s: report.json keys %s" % (name, keys(facts)))
    expect(dict(facts) == expected_facts(header, body, variant),
          "%s: report.json %s != %s" % (name, dict(facts), expected_facts(header, body, variant)))
    return header, body, [dict(t) for t in truth]


def main():
    need_generator()
    with tempfile.TemporaryDirectory(prefix="jt-gen-") as tmp:
        for product, osv, build, variant in CASES:
            major = int(osv.split(".")[0])
            name = "%s-%s" % (product, osv)
            # several kills, several reasons, every role
            path = os.path.join(tmp, name + ".ips")
            args = ["report", "--product", product, "--os-version", osv, "--build", build,
                    "--seed", "7", "--out", path, "--truth", path + ".truth"]
            for k in KILLS:
                args += ["--kill", k]
            run(args)
            header, body, truth = compare(name, path, variant)
            expect(len(truth) == len(KILLS), "%s: %d kills, want %d" % (name, len(truth), len(KILLS)))
            maxlen = 16 if major == 9 else 32
            by_name = {}
            for spec in KILLS:
                n, role, reason, rpages = spec.split(":")[:4]
                short = n.encode()[:maxlen].decode()
                by_name[short] = (role, reason, int(rpages), spec.split(":")[4:])
            for t in truth:
                expect(t["process"] in by_name, "%s: unexpected victim %r" % (name, t["process"]))
                if t["process"] not in by_name:
                    continue
                role, reason, rpages, pid = by_name[t["process"]]
                expect(t["reason"] == reason, "%s: reason of %s" % (name, t["process"]))
                expect(t["rpages"] == rpages, "%s: rpages of %s" % (name, t["process"]))
                if pid:
                    expect(t["pid"] == int(pid[0]), "%s: pid of %s" % (name, t["process"]))
                want_role = "background" if role == "extension" else role
                expect(t["role"] == want_role, "%s: role of %s is %s, want %s" %
                      (name, t["process"], t["role"], want_role))
                expect((t["priority"] is None) == (major < 14), "%s: priority null before 14" % name)
            # default kill: one frontmost per-process-limit app of a plausible size
            path = os.path.join(tmp, name + "-default.ips")
            run(["report", "--product", product, "--os-version", osv, "--build", build,
                 "--seed", "9", "--out", path, "--truth", path + ".truth"])
            _, _, truth = compare(name + " default", path, variant)
            expect(len(truth) == 1, "%s: default report has one kill" % name)
            if truth:
                t = truth[0]
                mib = t["limit_bytes"] / 1048576 if t["limit_bytes"] else 0
                expect(t["role"] == "foreground" and t["reason"] == "per-process-limit",
                      "%s: default kill is a frontmost per-process-limit" % name)
                expect(200 <= mib <= 4000, "%s: default limit %.0f MiB plausible" % (name, mib))

        # fixed time, incident and page size
        path = os.path.join(tmp, "fixed.ips")
        run(["report", "--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
             "--incident", "893a5949-f274-434f-938f-96df562c9486", "--page-size", "4096",
             "--time", "2024-01-02T10:11:12.34+01:00", "--out", path, "--truth", path + ".truth"])
        header, body, truth = compare("fixed", path, "J3")
        h = dict(header)
        expect(h["timestamp"] == "2024-01-02 10:11:12.34 +0100", "--time: header %s" % h["timestamp"])
        expect(h["incident_id"] == "893A5949-F274-434F-938F-96DF562C9486", "--incident")
        expect(truth and truth[0]["page_size"] == 4096, "--page-size 4096 in truth")
        path = os.path.join(tmp, "fixed16.ips")
        run(["report", "--product", "iPhone14,2", "--os-version", "16.6", "--build", "20G75",
             "--time", "2024-01-02T10:11:12.34Z", "--out", path, "--truth", path + ".truth"])
        header, body, _ = compare("fixed16", path, "J3")
        expect(dict(header)["timestamp"] == "2024-01-02 10:11:12.00 +0000",
              "iOS 16 header timestamp has .00: %s" % dict(header)["timestamp"])
        expect(dict(body)["date"] == "2024-01-02 10:11:12.34 +0000", "iOS 16 body date")

        # determinism
        outs = []
        for seed in ("5", "5", "6"):
            p = os.path.join(tmp, "det-%d.ips" % len(outs))
            run(["report", "--product", "iPhone12,1", "--os-version", "14.2", "--build",
                 "18B5061e", "--seed", seed, "--kill", KILLS[3], "--out", p, "--truth", p + ".t"])
            outs.append((open(p, "rb").read(), open(p + ".t", "rb").read()))
        expect(outs[0] == outs[1], "same seed gives the same bytes")
        expect(outs[0][0] != outs[2][0], "another seed gives other bytes")
        # without --seed every run is a new incident (a kill injected twice is two reports)
        ids = []
        for i in range(2):
            p = os.path.join(tmp, "fresh-%d.ips" % i)
            run(["report", "--product", "iPhone12,1", "--os-version", "14.2", "--build",
                 "18B5061e", "--kill", KILLS[3], "--out", p])
            ids.append(dict(split_report(open(p, "rb").read())[0])["incident_id"])
        expect(ids[0] != ids[1], "two runs without --seed: incident ids %r" % ids)

        # usage errors: exit 2 with a message
        base = ["report", "--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
                "--out", os.path.join(tmp, "x.ips")]
        for bad, what in [
                (["--kill", "Foo:boss:per-process-limit:10"], "role"),
                (["--kill", "Foo:daemon:highwater"], "spec"),
                (["--kill", "Foo:daemon:highwater:ten"], "rpages"),
                (["--page-size", "8192"], "page size"),
                (["--variant", "J5"], "variant"),
                (["--time", "yesterday"], "time"),
                (["--incident", "not-a-uuid"], "incident"),
                (["--processes", "1", "--kill", KILLS[0], "--kill", KILLS[1]], "processes"),
                (["--kill", KILLS[0], "--kill", "x:daemon:highwater:5:2541"], "pid")]:
            p = run(base + bad, expect_rc=None)
            expect(p.returncode == 2 and p.stderr.startswith("jetsamgen: "),
                  "bad %s: exit %d, stderr %r" % (what, p.returncode, p.stderr))
        p = run(["report", "--product", "iPhone13,2", "--os-version", "8.4", "--build", "x",
                 "--out", os.path.join(tmp, "y.ips")], expect_rc=None)
        expect(p.returncode == 2 and "os version" in p.stderr, "iOS 8 refused: %r" % p.stderr)
        p = run(["report", "--product", "iPhone13,2"], expect_rc=None)
        expect(p.returncode == 2, "missing --out is a usage error")
        p = run(["--help"])
        expect("--kill" in p.stdout and "NAME:ROLE:REASON:RPAGES[:PID]" in p.stdout, "--help text")
        p = run(["--version"])
        expect(p.stdout.startswith("jetsamgen "), "--version")
        p = run(["report", "--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
                 "--out", "/nonexistent-dir/x.ips"], expect_rc=None)
        expect(p.returncode == 1 and "cannot write" in p.stderr, "unwritable --out: %r" % p.stderr)
    finish("gen_truth")


if __name__ == "__main__":
    main()
