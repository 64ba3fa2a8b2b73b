#!/usr/bin/env python3
# daemon_protocol_v2.py: protocol version 2 spoken by a plain Python client (socket + json only)
"""Runs jetsamd (harness) and talks to it with a client written with the standard library's
socket and json modules only, as a CI job would (issue 13, must show 3 and 5):
- hello: version 2 and version 1 are accepted, 3 is version_mismatch;
- a misspelled argument ({"cmd":"events","proces":"MyApp"}) is invalid_argument naming it;
- limit gives the number `jetsamctl limit` prints for the same arguments, in the user's words
  ("iPhone 12" with os_version 15.5, iphone13,2 with build 19F77, ...);
- events process "maps*" matches Maps (any case, glob);
- cursor, then events after it: only what was stored since, in collection order, with
  collected_at and seq; paging with truncated and next; collected_since;
- a different report with a known incident id is kept as a conflict;
- a bundle id of an EXC_RESOURCE report matches its process."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Jetsamd, check, check_eq, ctl, finish  # noqa: E402

MB = 1024 * 1024
PAGE = 16384


class Client:
    """A protocol client with nothing but socket and json."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("jetsamd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, req, raw=None):
        self.next_id += 1
        req = dict(req, id=self.next_id)
        self.sock.sendall(json.dumps(req).encode() + b"\n" + (raw or b""))
        while True:
            reply = self._line()
            if reply.get("id") == self.next_id:
                return reply

    def result(self, req):
        reply = self.request(req)
        check(reply.get("ok") is True, "%r: %r" % (req, reply))
        return reply.get("result") or {}

    def close(self):
        self.sock.close()


def code(reply):
    return None if reply.get("ok") else (reply.get("error") or {}).get("code")


def report(incident, os_version, build, date, kills):
    """A JetsamEvent report (bug_type 298) of iPhone13,2; kills: (name, MB, foreground)."""
    hdr = {"bug_type": "298", "timestamp": date + " +0000",
           "os_version": "iPhone OS %s (%s)" % (os_version, build), "incident_id": incident}
    procs = [{"pid": 100 + i, "name": name, "rpages": mb * MB // PAGE,
              "reason": "per-process-limit" if fg else "vm",
              "states": ["frontmost", "resume"] if fg else ["suspended"]}
             for i, (name, mb, fg) in enumerate(kills)]
    body = {"product": "iPhone13,2", "incident": incident, "date": date + " +0000",
            "build": "iPhone OS %s (%s)" % (os_version, build),
            "memoryStatus": {"pageSize": PAGE}, "largestProcess": kills[0][0],
            "processes": procs}
    return (json.dumps(hdr) + "\n" + json.dumps(body) + "\n").encode()


def import_report(c, name, data):
    return c.request({"cmd": "import", "name": name, "size": len(data)}, raw=data)


def test_hello_and_strict(c):
    check_eq(c.result({"cmd": "hello", "version": 2})["version"], 2, "hello version 2")
    check_eq(c.result({"cmd": "hello", "version": 1})["version"], 1, "hello version 1 still ok")
    check_eq(code(c.request({"cmd": "hello", "version": 3})), "version_mismatch", "version 3")
    r = c.request({"cmd": "events", "proces": "MyApp"})
    check_eq(code(r), "invalid_argument", "misspelled argument")
    check("'proces'" in r["error"]["message"], "the message names it: %r" % r)
    r = c.request({"cmd": "status", "verbose": True})
    check_eq(code(r), "invalid_argument", "status takes no argument")
    r = c.request({"cmd": "import", "name": "x.ips", "size": 3, "nmae": "y"}, raw=b"abc")
    check_eq(code(r), "invalid_argument", "import with an unknown argument")
    check_eq(c.result({"cmd": "cursor"})["cursor"], 0, "cursor of an empty store")


def ctl_limit(j, args):
    rc, out, err = ctl(j.socket, "limit", *args)
    check_eq(rc, 0, "jetsamctl limit %r (stderr %r)" % (args, err))
    return int(out.strip()) if rc == 0 else None


def test_limit(c, j):
    cases = [  # (daemon arguments, jetsamctl options)
        ({"product": "iPhone 12", "os_version": "15.5"}, ["--product", "iPhone 12", "--os", "15.5"]),
        ({"product": "iphone13,2", "build": "19F77"}, ["--product", "iphone13,2", "--build", "19F77"]),
        ({"product": "iPhone 12"}, ["--product", "iPhone 12"]),
        ({"product": "iPhone13,2", "build": "15.6"}, ["--product", "iPhone13,2", "--build", "15.6"]),
        ({"product": "iPhone 12", "os_version": "15.5", "stat": "min"},
         ["--product", "iPhone 12", "--os", "15.5", "--min"]),
    ]
    for args, opts in cases:
        res = c.result(dict(args, cmd="limit"))
        check_eq(res["limit"], ctl_limit(j, opts), "limit %r = jetsamctl limit %r" % (args, opts))
        check_eq(res["product"], "iPhone13,2", "limit product resolved")
        check_eq(res["product_name"], "iPhone 12", "limit product_name")
    # must show 4: both print the same number (the median of 100, 200, 300 MB)
    check_eq(c.result({"cmd": "limit", "product": "iPhone 12", "os_version": "15.5"})["limit"],
             200 * MB, "median of 19F77")
    check_eq(c.result({"cmd": "limit", "product": "iPhone 12"})["build"], "19G71", "newest build")
    res = c.result({"cmd": "limit", "product": "iPhone 12", "os_version": "9.9"})
    check(res["limit"] is None and res["count"] == 0, "no limit known: null %r" % res)


def test_process(c):
    ev = c.result({"cmd": "events", "process": "maps*"})["events"]
    check_eq([e["process"] for e in ev], ["Maps"], "process 'maps*' matches Maps")
    ev = c.result({"cmd": "events", "process": "MYAPP"})["events"]
    check_eq(len(ev), 4, "process in another case")
    ev = c.result({"cmd": "events", "process": "*", "limit": 100})["events"]
    check_eq(len(ev), 5, "process '*'")
    for e in ev:
        check(isinstance(e["seq"], int) and e["collected_at"].endswith("Z"), "seq, collected_at")
        check_eq(e["product_name"], "iPhone 12", "EVENT product_name")


def test_cursor(c):
    cur = c.result({"cmd": "cursor"})["cursor"]
    check_eq(cur, 3, "cursor after three reports")
    # a kill written by a phone whose clock is 3 days behind: old time, new collection
    r = import_report(c, "late.ips", report("INC-LATE", "15.5", "19F77", "2022-06-01 10:00:00.00",
                                            [("MyApp", 150, True)]))
    check_eq(r.get("ok"), True, "import of the late report")
    res = c.result({"cmd": "events", "after": cur, "process": "MyApp"})
    check_eq([e["incident"] for e in res["events"]], ["INC-LATE"], "events after the cursor")
    check_eq(res["truncated"], False, "not truncated")
    check(res["events"][0]["seq"] > cur, "its seq is past the cursor")
    since = res["events"][0]["collected_at"]
    res = c.result({"cmd": "events", "collected_since": since, "process": "myapp"})
    check("INC-LATE" in [e["incident"] for e in res["events"]], "collected_since")
    # paging forward: every event once, in collection order, each page whole reports
    seen, after, pages = [], 0, 0
    while pages < 20:
        res = c.result({"cmd": "events", "after": after, "limit": 1})
        seen += [(e["seq"], e["process"]) for e in res["events"]]
        pages += 1
        if not res["truncated"]:
            break
        after = res["next"]
    check_eq(len(seen), 6, "all events by pages")
    check_eq(seen, sorted(seen, key=lambda x: x[0]), "collection order")
    # newest first, paged with before_id
    n, before = 0, None
    for _ in range(20):
        req = {"cmd": "events", "limit": 2}
        if before:
            req["before_id"] = before
        res = c.result(req)
        n += len(res["events"])
        if not res["truncated"]:
            break
        before = res["next"]
    check_eq(n, 6, "all events newest first by pages")
    res = c.result({"cmd": "reports", "limit": 1})
    check(res["truncated"] is True and isinstance(res["next"], int), "reports next")
    check_eq(c.result({"cmd": "devices"})["truncated"], False, "devices truncated")


def test_conflict(c):
    data = report("INC-A", "15.5", "19F77", "2022-06-02 11:00:00.00", [("Other", 10, False)])
    res = import_report(c, "again.ips", data)["result"]
    check_eq(res["duplicate"], False, "another report with a known incident id is stored")
    check_eq(res["report"]["conflict"], True, "as a conflict")
    check(res["report"]["key"].startswith("incident:INC-A/sha256:"), "its key")
    res = import_report(c, "again2.ips", data)["result"]
    check_eq(res["duplicate"], True, "the conflict itself is stored once")


def test_bundle_id(c):
    hdr = {"app_name": "Maps", "bug_type": "309", "timestamp": "2022-06-03 10:00:00.00 +0000",
           "os_version": "iPhone OS 15.5 (19F77)", "incident_id": "INC-EXC"}
    body = {"procName": "Maps", "procRole": "Foreground", "modelCode": "iPhone13,2",
            "incident": "INC-EXC", "captureTime": "2022-06-03 10:00:00.00 +0000",
            "osVersion": {"train": "iPhone OS 15.5", "build": "19F77"},
            "bundleInfo": {"CFBundleIdentifier": "com.apple.Maps"},
            "exception": {"type": "EXC_RESOURCE", "subtype": "MEMORY",
                          "message": "(Limit 300 MB) Crossed High Water Mark"}}
    data = (json.dumps(hdr) + "\n" + json.dumps(body) + "\n").encode()
    check_eq(import_report(c, "exc.ips", data)["result"]["report"]["status"], "ok", "EXC import")
    ev = c.result({"cmd": "events", "process": "com.apple.maps"})["events"]
    check_eq(sorted(e["incident"] for e in ev), ["INC-A", "INC-EXC"],
             "a bundle id matches its process, in both report kinds")


def main():
    j = Jetsamd()
    j.start()
    c = Client(j.socket)
    test_hello_and_strict(c)
    for name, data in [
        ("a.ips", report("INC-A", "15.5", "19F77", "2022-06-01 10:00:00.00",
                         [("MyApp", 100, True), ("MyApp", 300, True), ("Maps", 20, False)])),
        ("b.ips", report("INC-B", "15.5", "19F77", "2022-06-01 11:00:00.00",
                         [("MyApp", 200, True)])),
        ("c.ips", report("INC-C", "15.6", "19G71", "2022-07-01 10:00:00.00",
                         [("MyApp", 400, True)])),
    ]:
        check_eq(import_report(c, name, data).get("ok"), True, "import " + name)
    test_limit(c, j)
    test_process(c)
    test_cursor(c)
    test_conflict(c)
    test_bundle_id(c)
    c.close()
    check_eq(j.stop(), 0, "exit code\n" + j.stderr_text()[-2000:])
    finish("daemon-protocol-v2")


if __name__ == "__main__":
    main()
