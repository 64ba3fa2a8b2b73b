#!/usr/bin/env python3
# daemon_limits.py: client limits (per uid, idle, deadlines, reply budget), admin_group, valid UTF-8
"""Runs jetsamd with small limits and checks, over the socket:
- max_clients_per_uid: the idle client of the uid makes room; when none is idle (subscribers)
  the new client gets one too_many_clients line and is closed;
- client_idle_timeout: an idle client is closed, a subscriber is not;
- request_timeout and import_timeout: a partial line and a half-sent import get a timeout
  error, then the connection closes (and the daemon frees what they sent);
- reply_buffer_max: a second unread large reply disconnects the client that holds the first;
  a reply larger than the whole budget is refused with too_large;
- an import whose name holds invalid UTF-8 and control characters: every reply stays valid
  UTF-8 and the log holds no raw control byte;
- as root: a uid outside admin_group (nobody) gets permission_denied for sync, import and
  reparse, and ok for status and limits (skipped when not root)."""
import grp
import json
import os
import pwd
import random
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Jetsamd, check, check_eq, tmpdir  # noqa: E402


def report(incident, nproc, seed=1):
    """A JetsamEvent report whose nproc processes are all kills."""
    rng = random.Random(seed)
    hdr = {"bug_type": "298", "timestamp": "2022-04-02 12:17:09.65 -0400",
           "os_version": "iPhone OS 15.5 (19F77)", "incident_id": incident}
    procs = ",".join('{"pid":%d,"name":"proc-%06d","rpages":%d,"reason":"per-process-limit",'
                     '"states":["daemon"]}' % (i + 1, i, 100 + rng.randrange(100000))
                     for i in range(nproc))
    body = ('{"product":"iPhone13,2","incident":"%s","date":"2022-04-02 12:17:09.64 -0400",'
            '"build":"iPhone OS 15.5 (19F77)","memoryStatus":{"pageSize":16384},'
            '"largestProcess":"proc","processes":[%s]}\n' % (incident, procs))
    return (json.dumps(hdr) + "\n" + body).encode()


def code(m):
    if not isinstance(m, dict):
        return repr(m)
    return "ok" if m.get("ok") else (m.get("error") or {}).get("code")


def closed(c, timeout=5):
    """True when the daemon closed c (EOF or reset) with nothing more to read."""
    c.sock.settimeout(timeout)
    try:
        return c.recv_line() is None
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_per_uid(j):
    a = j.client()
    a.call("status")  # idle from now on
    subs = [j.client() for _ in range(2)]
    for s in subs:
        s.call("subscribe")
    b = j.client()  # a is idle: closed to make room
    check_eq(code(b.request("status")), "ok", "a client at the per-uid limit is served")
    check(closed(a), "the idle client of the uid was closed to make room")
    b.call("subscribe")
    extra = j.client()
    try:
        extra.send({"id": 1, "cmd": "status"})
        m = extra.recv()
        check_eq(code(m), "too_many_clients", "over max_clients_per_uid, none idle")
        check(closed(extra), "the refused client is closed")
    except (ConnectionResetError, BrokenPipeError):
        pass
    for c in [a, b, extra] + subs:
        c.close()
    time.sleep(0.3)


def test_idle(j):
    idle, sub = j.client(), j.client()
    idle.call("status")
    sub.call("subscribe")
    t0 = time.monotonic()
    check(closed(idle, timeout=5), "an idle client is closed after client_idle_timeout")
    took = time.monotonic() - t0
    check(1.0 <= took < 3.5, "closed after about 2 s (%.1f s)" % took)
    check_eq(code(sub.request("status")), "ok", "a subscriber is never idle")
    sub.close()
    idle.close()


def test_deadlines(j):
    line, imp = j.client(), j.client()
    line.send_raw(b'{"cmd":"stat')
    imp.send_raw(b'{"id":7,"cmd":"import","name":"JetsamEvent-half.ips","size":1048576}\n'
                 + b"{" * 1024)
    for c, what in ((line, "partial request line"), (imp, "half-sent import")):
        c.sock.settimeout(6)
        m = c.recv()
        check_eq(code(m), "timeout", "%s: error" % what)
        check(closed(c), "%s: closed" % what)
        c.close()
    check("import_timeout" in j.stderr_text(), "the log names import_timeout")


def test_budget(j):
    # 3 reports of 4000 kills: an events reply of about 5 MB (more than socket buffers)
    with j.client(timeout=60) as c:
        for i in range(3):
            r = c.import_bytes("JetsamEvent-b%d.ips" % i,
                               report("5A5A5A5A-0000-4000-8000-%012d" % i, 4000, seed=i))
            check(r.get("ok"), "import: %r" % r)
        c.send({"id": 1, "cmd": "events", "limit": 100000})
        line = c.recv_line()
        size = len(line)
    check(size > 1000000, "an events reply is large (%d bytes): %r" % (size, line[:300]))
    x = j.client()
    x.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    x.send({"id": 1, "cmd": "events", "limit": 100000})
    time.sleep(1.0)  # x does not read: its reply waits in the budget
    y = j.client()
    y.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    y.send({"id": 2, "cmd": "events", "limit": 100000})
    time.sleep(1.0)
    got = b""
    x.sock.settimeout(5)
    try:
        while True:
            d = x.sock.recv(1 << 16)
            if not d:
                break
            got += d
    except (ConnectionResetError, socket.timeout):
        pass
    check(b"\n" not in got, "the client holding the most unread bytes was disconnected "
          "(%d bytes read, whole reply %d)" % (len(got), size))
    y.sock.settimeout(10)
    m = y.recv()
    check_eq(code(m), "ok", "the newer reply is sent whole")
    check("reply_buffer_max" in j.stderr_text(), "the log names reply_buffer_max")
    x.close()
    y.close()


def test_too_big(j):
    with j.client(timeout=30) as c:
        c.send({"id": 9, "cmd": "events", "limit": 100000})
        m = c.recv()
        check_eq(code(m), "too_large", "a reply over the whole budget")
        check_eq(m.get("id"), 9, "the error carries the request's id")
        check_eq(code(c.request("status")), "ok", "the connection goes on")


def test_utf8(j):
    name = b"JetsamEvent-\xff\xfe\x1b[31m\x07.ips"
    data = report("6B6B6B6B-0000-4000-8000-000000000001", 3)
    with j.client() as c:
        # cJSON takes the raw bytes of a JSON string as they are: an invalid name reaches
        # the store; the daemon must still send valid UTF-8
        c.send_raw(b'{"id":1,"cmd":"import","name":"' + name.replace(b"\x1b", b"\\u001b")
                   .replace(b"\x07", b"\\u0007") + b'","size":%d}\n' % len(data) + data)
        line = c.recv_line()
        line.decode("utf-8")  # raises on invalid UTF-8
        check_eq(code(json.loads(line)), "ok", "import with a hostile name")
        c.send({"id": 2, "cmd": "reports", "limit": 100000})
        line = c.recv_line()
        line.decode("utf-8")
        check(b"\x1b" not in line and b"\x07" not in line, "no raw control byte in replies")
    with open(j.log, "rb") as f:
        log = f.read()
    bad = [b for b in log if (b < 0x20 and b not in (0x0a,)) or b == 0x7f]
    check(not bad, "no raw control byte in the log (%d found)" % len(bad))


def as_user(uid, gid, sock_path, requests, groups=()):
    """Requests on a fresh connection from a child running as uid/gid (and supplementary
    groups): the reply codes."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(sock_path)
            f = s.makefile("rb")
            out = []
            for i, (req, raw) in enumerate(requests):
                s.sendall(json.dumps(dict(req, id=i + 1)).encode() + b"\n" + (raw or b""))
                line = f.readline()
                out.append(code(json.loads(line)) if line else "closed")
            os.write(w, json.dumps(out).encode())
        except Exception as e:  # noqa: BLE001 - reported to the parent
            os.write(w, json.dumps("error: %r" % e).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        d = os.read(r, 65536)
        if not d:
            break
        data += d
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data or b'"error: no output"')


def test_admin():
    if os.geteuid() != 0:
        print("SKIP permission_denied: needs root to run a client as nobody")
        return
    nobody = pwd.getpwnam("nobody")
    d = tmpdir("jt-auth-")
    os.chmod(d, 0o755)
    j = Jetsamd(dir=d)
    j.start()
    os.chown(j.socket, 0, nobody.pw_gid)  # nobody's group may open the socket
    data = report("7C7C7C7C-0000-4000-8000-000000000001", 2)
    reqs = [({"cmd": "status"}, None), ({"cmd": "limits"}, None), ({"cmd": "sync"}, None),
            ({"cmd": "reparse"}, None),
            ({"cmd": "import", "name": "JetsamEvent-x.ips", "size": len(data)}, data)]
    got = as_user(nobody.pw_uid, nobody.pw_gid, j.socket, reqs)
    check(isinstance(got, list), "client as nobody: %r" % (got,))
    check_eq(got, ["ok", "ok", "permission_denied", "permission_denied", "permission_denied"],
             "as nobody: status, limits, sync, reparse, import")
    with j.client() as c:
        check_eq(c.call("status")["reports"], 0, "nothing imported by nobody")
        check_eq(code(c.request("reparse")), "ok", "reparse as root")
    check_eq(j.stop(), 0, "exit code")
    # admin_group = nobody's primary group: nobody may import
    j = Jetsamd(dir=tmpdir("jt-auth-"),
                extra_config={"admin_group": grp.getgrgid(nobody.pw_gid).gr_name})
    os.chmod(j.dir, 0o755)
    j.start()
    os.chown(j.socket, 0, nobody.pw_gid)
    got = as_user(nobody.pw_uid, nobody.pw_gid, j.socket, reqs[4:])
    check_eq(got, ["ok"], "import by a member of admin_group (primary group)")
    check_eq(j.stop(), 0, "exit code")
    # admin_group = a supplementary group of the client (read from /proc/PID/status)
    other = [g for g in grp.getgrall() if g.gr_gid not in (0, nobody.pw_gid)]
    if not other:
        print("SKIP supplementary admin_group: no other group")
        return
    j = Jetsamd(dir=tmpdir("jt-auth-"), extra_config={"admin_group": other[0].gr_name})
    os.chmod(j.dir, 0o755)
    j.start()
    os.chown(j.socket, 0, nobody.pw_gid)
    got = as_user(nobody.pw_uid, nobody.pw_gid, j.socket, reqs[2:4])
    check_eq(got, ["permission_denied", "permission_denied"], "not in admin_group")
    got = as_user(nobody.pw_uid, nobody.pw_gid, j.socket, reqs[2:4], groups=[other[0].gr_gid])
    check_eq(got, ["ok", "ok"], "sync, reparse by a supplementary member of admin_group")
    check_eq(j.stop(), 0, "exit code")


def main():
    j = Jetsamd(extra_config={"max_clients_per_uid": 3, "client_idle_timeout": "2s",
                              "request_timeout": "2s", "import_timeout": "2s",
                              "reply_buffer_max": "8M"}, log_level="info")
    j.start()
    test_per_uid(j)
    test_idle(j)
    test_deadlines(j)
    test_budget(j)
    test_utf8(j)
    check_eq(j.stop(), 0, "exit code")
    j = Jetsamd(extra_config={"reply_buffer_max": "64K"}, log_level="info")
    j.start()
    with j.client(timeout=60) as c:
        r = c.import_bytes("JetsamEvent-t.ips", report("8D8D8D8D-0000-4000-8000-000000000001",
                                                       2000))
        check(r.get("ok"), "import: %r" % r)
    test_too_big(j)
    check_eq(j.stop(), 0, "exit code")
    test_admin()
    print("ok")


if __name__ == "__main__":
    main()
