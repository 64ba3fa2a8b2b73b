# ctl_gate.py: jetsamctl cursor, events --after and gate begin/end: a CI gate that counts what
# was collected, so a phone whose clock is 3 days behind cannot hide a kill (issue 13, must-show 1)
import json
import os
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

from ctl_world import PHONES, binary, check, check_eq, fail, harness, iso, run

APP = "MyApp"
# The phone whose clock runs 3 days behind: its reports say they are 3 days old
PHONE_LATE = dict(udid="00008110-0000DEADBEEF0003", product="iPhone14,2", os="16.1",
                  build="20B82", name="Clock 3 days behind", reports=1)
ALL = PHONES + (PHONE_LATE,)
THREE_DAYS = 3 * 86400


class GateWorld:
    """ctl_world's phones plus PHONE_LATE, on devsim, collected by jetsamd (no periodic sync)."""

    def __init__(self):
        self.dir = harness.tmpdir("jt-gate-")
        self.phone_dirs = []
        for i, p in enumerate(ALL):
            d = os.path.join(self.dir, "phone%d" % i)
            run([binary("JETSAMGEN"), "phone", "--dir", d, "--udid", p["udid"], "--product",
                 p["product"], "--os-version", p["os"], "--build", p["build"], "--name",
                 p["name"], "--reports", str(p["reports"]), "--seed", str(300 + i)])
            self.phone_dirs.append(d)
        self.devsim = harness.Devsim(phones_dirs=self.phone_dirs).start()
        self.jetsamd = harness.Jetsamd(usbmuxd_socket=self.devsim.usbmuxd,
                                       extra_config={"resync_interval": "3600"}).start()
        self.socket = self.jetsamd.socket
        harness.wait_until(self._synced, 30, what="all phones synced")
        self.n = 0

    def _synced(self):
        rc, out, err = self.ctl("--json", "devices")
        if rc != 0:
            return False
        devs = json.loads(out)["devices"]
        return len(devs) == len(ALL) and all(d["state"] == "idle" and d["last_sync"]
                                             for d in devs)

    def ctl(self, *args, timeout=60):
        argv = [binary("JETSAMCTL"), "--socket", self.socket] + list(args)
        env = dict(os.environ)
        env.pop("COLUMNS", None)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=env)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        check("runtime error" not in err and "Sanitizer" not in err,
              "jetsamctl %s: sanitizer report:\n%s" % (" ".join(args), err))
        return p.returncode, out, err

    def ok(self, *args):
        rc, out, err = self.ctl(*args)
        if rc != 0:
            fail("jetsamctl %s: rc %d: %s" % (" ".join(args), rc, err))
        return out

    def inject(self, index, process, ago=30):
        """Write a report of one kill of process into phone index's CrashReporter/ (as the
        phone's crash reporter would: complete file, then it appears), stamped with the
        phone's own clock: PHONE_LATE's says 3 days ago."""
        p = ALL[index]
        self.n += 1
        when = time.time() - ago - (THREE_DAYS if p is PHONE_LATE else 0)
        name = "JetsamEvent-%s-%03d.ips" % (time.strftime("%Y-%m-%d-%H%M%S",
                                                          time.gmtime(when)), self.n)
        tmp = os.path.join(self.dir, name)
        run([binary("JETSAMGEN"), "report", "--product", p["product"], "--os-version", p["os"],
             "--build", p["build"], "--time", iso(when), "--kill",
             "%s:foreground:per-process-limit:90000" % process, "--out", tmp])
        os.rename(tmp, os.path.join(self.phone_dirs[index], "CrashReporter", name))


class FakeDaemon:
    """A daemon speaking the protocol contract on a socket, with pages of 2 events, for what
    the real daemon rarely shows: paging through `next`, a version 1 daemon (limit computed by
    jetsamctl), a version 2 one (its limit command)."""

    LIMIT = 1519386624

    def __init__(self, path, versions):
        self.path, self.versions, self.requests = path, versions, []
        self.events = [dict(seq=s, udid="U%d" % (s % 2), process="MyApp", reason="x",
                            time="2026-11-20T10:00:00Z", collected_at="2026-12-02T08:00:00Z",
                            product="iPhone13,2", build="19F77")
                       for s in (1, 2, 3, 4, 4, 5, 6, 7)]
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(c,), daemon=True).start()

    def _reply(self, req):
        cmd = req.get("cmd")
        if cmd == "hello":
            if req.get("version") not in self.versions:
                return None, ("version_mismatch", "speaks %r" % (self.versions,))
            return dict(version=req["version"], daemon="fake"), None
        if cmd == "events":
            after = req.get("after")
            if after is None:
                return dict(events=list(reversed(self.events)), truncated=False), None
            rest = [e for e in self.events if e["seq"] > after]
            page = rest[:min(2, req.get("limit", 2))]
            # a page ends with the whole of its last report
            page += [e for e in rest[len(page):] if page and e["seq"] == page[-1]["seq"]]
            more = page and page[-1]["seq"] < self.events[-1]["seq"]
            r = dict(events=page, truncated=bool(more))
            if more:
                r["next"] = page[-1]["seq"]
            return r, None
        if cmd == "cursor" and 2 in self.versions:
            return dict(cursor=self.events[-1]["seq"]), None
        if cmd == "devices":
            return dict(devices=[dict(udid="U0", name="zero", product="iPhone13,2"),
                                 dict(udid="U1", name="one", product="iPhone13,2")]), None
        if cmd == "sync":
            return dict(synced=[dict(udid="U0", state="idle", new_reports=0, error=None),
                                dict(udid="U1", state="idle", new_reports=0, error=None)]), None
        if cmd == "limits":
            return dict(limits=[dict(product="iPhone13,2", os_version="15.5", build="19F77",
                                     role="foreground", count=3, phones=1, min=self.LIMIT - 1,
                                     median=self.LIMIT, max=self.LIMIT + 1)]), None
        if cmd == "limit" and 2 in self.versions:
            return dict(limit=self.LIMIT if req.get("stat") == "median" else self.LIMIT - 1,
                        product=req["product"], build="19F77", os_version="15.5",
                        role=req.get("role"), count=3), None
        return None, ("unknown_command", "unknown command '%s'" % cmd)

    def _client(self, c):
        f = c.makefile("rwb")
        for line in f:
            req = json.loads(line)
            self.requests.append(req)
            result, err = self._reply(req)
            out = dict(id=req.get("id"), ok=err is None)
            if err:
                out["error"] = dict(code=err[0], message=err[1])
            else:
                out["result"] = result
            f.write((json.dumps(out) + "\n").encode())
            f.flush()
        c.close()


def fake_ctl(path, *args):
    p = subprocess.run([binary("JETSAMCTL"), "--socket", path] + list(args), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_fake_daemon():
    d = harness.tmpdir("jt-gate-fake-")
    # the fakes stay open to the end: closing a socket its thread accepts on lets the next
    # socket reuse the descriptor under that thread
    keep = []
    for versions in ((1,), (1, 2)):
        path = os.path.join(d, "v%d.sock" % max(versions))
        fake = FakeDaemon(path, versions)
        keep.append(fake)
        if 2 not in versions:
            # a version 1 daemon would ignore "after": jetsamctl refuses to ask it
            for args in (["events", "--after", "0"], ["cursor"],
                         ["gate", "end", "jg1.0.1", "--process", APP, "--settle", "0"]):
                rc, out, err = fake_ctl(path, *args)
                check_eq((rc, out), (1, ""), "%s on a v1 daemon (%s)" % (" ".join(args), err))
                check_eq(len(err.splitlines()), 1, "one error line: %r" % err)
            check("protocol 2" in fake_ctl(path, "events", "--after", "0")[2], "says why")
            test_fake_limit(fake, path, versions)
            continue
        # events --after pages through next (2 per page) to the end, or to --limit in total
        rc, out, err = fake_ctl(path, "--json", "events", "--after", "2")
        check_eq(rc, 0, "events --after on the fake daemon (%s)" % err)
        got = json.loads(out)
        check_eq([e["seq"] for e in got["events"]], [3, 4, 4, 5, 6, 7], "all pages")
        check_eq(got["truncated"], False, "complete after paging")
        pages = [r for r in fake.requests if r.get("cmd") == "events"]
        check_eq([r["after"] for r in pages], [2, 4, 6], "pages asked with next")
        rc, out, err = fake_ctl(path, "--json", "events", "--after", "0", "--limit", "3")
        got = json.loads(out)
        check_eq([e["seq"] for e in got["events"]], [1, 2, 3], "--limit 3 in total")
        check_eq((got["truncated"], got["next"]), (True, 3), "truncated, next")
        # --collected-since pages in collection order too, from the start
        fake.requests.clear()
        got = json.loads(fake_ctl(path, "--json", "events", "--collected-since", "1h")[1])
        check_eq(len(got["events"]), 8, "--collected-since: every page")
        pages = [r for r in fake.requests if r.get("cmd") == "events"]
        check_eq([r["after"] for r in pages], [0, 2, 4, 6], "--collected-since pages")
        check(all(abs(r["collected_since"] - (time.time() - 3600)) < 60 for r in pages),
              "collected_since sent as epoch seconds: %r" % pages[0])
        # cut inside the report of seq 4: next goes back to 3 so no event of it is lost
        rc, out, err = fake_ctl(path, "--json", "events", "--after", "0", "--limit", "4")
        got = json.loads(out)
        check_eq([e["seq"] for e in got["events"]], [1, 2, 3, 4], "--limit 4 in total")
        check_eq((got["truncated"], got["next"]), (True, 3), "truncated inside a report")
        rc, out, err = fake_ctl(path, "events", "--after", "0", "--limit", "3")
        check("continue with --after 3" in err, "note names the next cursor: %r" % err)
        # gate end pages too: 7 kills after cursor 0, on two phones
        rc, out, err = fake_ctl(path, "gate", "end", "jg1.0.1", "--process", "MyApp",
                                "--settle", "0")
        check_eq(rc, 3, "gate end on the fake daemon (%s)" % err)
        check_eq(out.count("KILLED "), 8, "all kills listed: %r" % out)
        rc, out, err = fake_ctl(path, "gate", "end", "jg1.7.1", "--process", "MyApp",
                                "--settle", "0")
        check_eq(rc, 0, "gate end with nothing after the cursor (%s)" % err)
        test_fake_limit(fake, path, versions)


def test_fake_limit(fake, path, versions):
    """limit: the same number and output from the daemon's command or computed."""
    fake.requests.clear()
    for args, want in ((["limit", "--product", "iPhone13,2"], str(FakeDaemon.LIMIT)),
                       (["limit", "--product", "iphone13,2", "--build", "19F77", "--min"],
                        str(FakeDaemon.LIMIT - 1))):
        rc, out, err = fake_ctl(path, *args)
        check_eq((rc, out.strip()), (0, want), "%s on a v%d daemon (%s)" % (
            " ".join(args), max(versions), err))
    asked = [r["cmd"] for r in fake.requests if r.get("cmd") not in ("hello",)]
    if 2 in versions and harness_proto_version() >= 2:
        check("limit" in asked, "a v2 daemon is asked its limit command: %r" % asked)
    else:
        check("limit" not in asked, "a v1 daemon is not asked limit: %r" % asked)
    # jetsamctl says hello with its version, and with 1 again when a v1 daemon refuses it
    hellos = set(r["version"] for r in fake.requests if r.get("cmd") == "hello")
    mine = harness_proto_version()
    check_eq(hellos, {mine, 1} if mine not in versions else {mine}, "hello versions")


def harness_proto_version():
    """The protocol version this jetsamctl speaks (from --version)."""
    out = run([binary("JETSAMCTL"), "--version"])
    return int(out.rsplit("protocol", 1)[1].strip(" )\n"))


def junit_failures(path, want_tests):
    """Parse path as JUnit XML; check its structure; returns the failure elements."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    check(root.tag in ("testsuite", "testsuites"), "JUnit root: %s" % root.tag)
    check_eq(len(suites), 1, "testsuites")
    suite = suites[0]
    check_eq(suite.get("name"), "jetsamd-gate", "testsuite name")
    cases = suite.findall("testcase")
    check_eq(len(cases), want_tests, "testcases (one per phone)")
    check_eq(int(suite.get("tests")), len(cases), "tests attribute")
    failures = [f for c in cases for f in c.findall("failure")]
    check_eq(int(suite.get("failures")), len(failures), "failures attribute")
    check_eq(int(suite.get("errors")), sum(len(c.findall("error")) for c in cases),
             "errors attribute")
    for c in cases:
        check(c.get("name") and c.get("classname"), "testcase name and classname: %r" % c.attrib)
        check(set(e.tag for e in c) <= {"failure", "error"}, "testcase children: %r" % c)
    if root.tag == "testsuites":
        check_eq(int(root.get("failures")), len(failures), "testsuites failures attribute")
    return cases, failures


def test_cursor_and_after(w):
    c0 = int(w.ok("cursor").strip())
    j = json.loads(w.ok("--json", "cursor"))
    check_eq(j["cursor"], c0, "cursor --json")
    # nothing collected after the cursor yet
    check_eq(json.loads(w.ok("--json", "events", "--after", str(c0)))["events"], [],
             "events --after the cursor")
    w.inject(3, "Pager")
    w.inject(3, "Pager")
    w.inject(3, "Pager")
    w.ok("sync", "--wait")
    c1 = int(w.ok("cursor").strip())
    check(c1 >= c0 + 3, "cursor moved by the 3 reports: %d -> %d" % (c0, c1))
    # paging: --limit 1 per page is not asked of the daemon, the client pages all of them
    got = json.loads(w.ok("--json", "events", "--after", str(c0), "--process", "Pager"))
    check_eq(len(got["events"]), 3, "events --after: the three kills, 3 days old by the phone")
    check_eq(got["truncated"], False, "complete")
    seqs = [e["seq"] for e in got["events"]]
    check(seqs == sorted(seqs) and all(s > c0 for s in seqs), "collection order: %r" % seqs)
    for e in got["events"]:
        check(e.get("collected_at"), "collected_at in JSON: %r" % e)
    # --limit is the total; the rest is announced with the cursor to continue from
    rc, out, err = w.ctl("--json", "events", "--after", str(c0), "--process", "Pager",
                         "--limit", "2")
    check_eq(rc, 0, "events --after --limit 2 (%s)" % err)
    got = json.loads(out)
    check_eq(len(got["events"]), 2, "--limit 2 with --after")
    check_eq(got["truncated"], True, "truncated at the limit")
    rest = json.loads(w.ok("--json", "events", "--after", str(got["next"]), "--process", "Pager"))
    check_eq(len(rest["events"]), 1, "the rest after next")
    # the phone's clock says 3 days ago: --since 1h misses them, --collected-since does not
    since = json.loads(w.ok("--json", "events", "--since", "1h", "--process", "Pager"))
    check_eq(since["events"], [], "--since (the phone's clock) misses the late phone's kills")
    coll = json.loads(w.ok("--json", "events", "--collected-since", "1h", "--process", "Pager"))
    check_eq(len(coll["events"]), 3, "--collected-since (the host's clock)")
    # table and CSV show both times
    header = w.ok("--csv", "events", "--after", str(c0)).splitlines()[0].split(",")
    check("collected_at" in header and "time" in header, "csv header: %r" % header)
    out = w.ok("events", "--after", str(c0))
    check("COLLECTED" in out.splitlines()[0] and "TIME" in out.splitlines()[0],
          "table header: %r" % out.splitlines()[0])


def test_gate_kill(w):
    token = w.ok("gate", "begin").strip()
    check(len(token.splitlines()) == 1 and token.startswith("jg1."), "token: %r" % token)
    # one kill of MyApp on two phones, one of them 3 days behind; another app elsewhere
    w.inject(3, APP)
    w.inject(1, APP)
    w.inject(2, "OtherApp")
    xml = os.path.join(w.dir, "out.xml")
    tap = os.path.join(w.dir, "out.tap")
    t0 = time.monotonic()
    rc, out, err = w.ctl("gate", "end", token, "--process", APP, "--settle", "1", "--junit", xml,
                         "--tap", tap, timeout=120)
    took = time.monotonic() - t0
    check_eq(rc, 3, "gate end with two kills of %s (stdout %r, stderr %r)" % (APP, out, err))
    check(took < 60, "gate end took %.1f s" % took)
    check(out.count("KILLED ") == 2, "summary lists the 2 kills: %r" % out)
    check(PHONE_LATE["udid"] in out and ALL[1]["udid"] in out, "summary devices: %r" % out)
    check("iPhone 13 Pro" in out or "iPhone14,2" in out, "product in summary: %r" % out)
    cases, failures = junit_failures(xml, len(ALL))
    check_eq(len(failures), 2, "JUnit failures")
    for f in failures:
        check_eq(f.get("message"), "%s killed: per-process-limit" % APP, "failure message")
        for word in ("product:", "product_name:", "build:", "footprint:", "limit:",
                     "kill_time:", "collected_at:"):
            check(word in (f.text or ""), "%s in failure text %r" % (word, f.text))
    failed = sorted(c.get("name") for c in cases if c.findall("failure"))
    check_eq(failed, sorted([PHONE_LATE["name"], ALL[1]["name"]]), "failing testcases")
    late = [c for c in cases if c.get("name") == PHONE_LATE["name"]][0]
    check_eq(late.get("classname"), PHONE_LATE["product"], "classname is the product")
    text = open(tap).read()
    check(text.startswith("TAP version 13\n1..%d\n" % len(ALL)), "TAP header: %r" % text[:40])
    check_eq(text.count("\nnot ok "), 2, "TAP not ok lines")
    check_eq(text.count("\nok "), len(ALL) - 2, "TAP ok lines")
    # the same gate again, as JSON, now through the UDID of one phone: one kill
    rc, out, err = w.ctl("--json", "gate", "end", token, "--process", "myapp", "--settle", "0",
                         "--udid", PHONE_LATE["udid"][:12])
    check_eq(rc, 3, "gate end --udid (%s)" % err)
    got = json.loads(out)
    check_eq([k["udid"] for k in got["kills"]], [PHONE_LATE["udid"]], "kills of the named phone")
    check_eq([p["udid"] for p in got["phones"]], [PHONE_LATE["udid"]], "phones synced")


def test_gate_clean(w):
    token = w.ok("gate", "begin").strip()
    w.inject(0, "OtherApp")
    xml = os.path.join(w.dir, "clean.xml")
    rc, out, err = w.ctl("gate", "end", token, "--process", APP, "--settle", "1", "--junit", xml)
    check_eq(rc, 0, "gate end without a kill of %s (%s %s)" % (APP, out, err))
    cases, failures = junit_failures(xml, len(ALL))
    check_eq(failures, [], "no failure")
    check("0 kills of %s" % APP in out, "summary: %r" % out)


def test_usage(w):
    # --help prints the usage and does nothing else
    for args in (["gate", "--help"], ["gate", "end", "--help"], ["gate", "begin", "--help"],
                 ["cursor", "--help"], ["help", "gate"]):
        rc, out, err = fake_ctl("/nonexistent/jetsamd.sock", *args)
        check_eq((rc, err), (0, ""), "%s" % " ".join(args))
        check(out.startswith("usage: jetsamctl "), "%s: %r" % (" ".join(args), out))
    for args, what in ((["gate"], "no subcommand"), (["gate", "stop"], "unknown subcommand"),
                       (["gate", "end", "--process", APP], "no token"),
                       (["gate", "end", "jg1.x.1", "--process", APP], "bad token"),
                       (["gate", "end", "jg1.1.1"], "no --process"),
                       (["gate", "end", "jg1.1.1", "--process", APP, "--settle", "-1"],
                        "bad --settle"),
                       (["events", "--after", "x"], "bad --after")):
        rc, out, err = w.ctl(*args)
        check_eq(rc, 2, "%s: exit status" % what)
        check_eq(len(err.splitlines()), 1, "%s: one error line: %r" % (what, err))


def main():
    test_fake_daemon()
    w = GateWorld()
    test_cursor_and_after(w)
    test_gate_kill(w)
    test_gate_clean(w)
    test_usage(w)
    w.jetsamd.stop()
    print("ok: gate begin/end, JUnit and TAP, cursor, events --after")


if __name__ == "__main__":
    main()
