# chaos_auth.py: a uid outside the admin group may read but not sync/import/reparse (Must show 8)
import grp
import json
import os
import pwd
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import banner, harness, must  # noqa: E402

REPORT = (b'{"bug_type":"298","incident_id":"8D1F8B8E-1111-4C3A-9E61-3A5A4A0C0F01"}\n'
          b'{"product":"iPhone13,2","build":"iPhone OS 15.5 (19F77)","processes":[]}\n')


def as_user(uid, gid, sock_path, requests):
    """Run requests on a fresh connection in a child with uid/gid (no supplementary groups);
    returns the parsed replies, or an error string."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            out = []
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(sock_path)
            f = s.makefile("rb")
            for i, (req, raw) in enumerate(requests):
                req = dict(req, id=i + 1)
                s.sendall(json.dumps(req).encode() + b"\n" + (raw or b""))
                line = f.readline()
                out.append(json.loads(line) if line else None)
            os.write(w, json.dumps(out).encode())
        except Exception as e:  # report anything to the parent
            os.write(w, json.dumps("error: %r" % e).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        d = os.read(r, 1 << 16)
        if not d:
            break
        data += d
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data or b'"error: no output"')


def code(reply):
    if not isinstance(reply, dict):
        return repr(reply)
    return "ok" if reply.get("ok") else (reply.get("error") or {}).get("code")


def main():
    banner("chaos-auth", "SO_PEERCRED: read commands for the socket's group, writes for admins")
    if os.geteuid() != 0:
        print("SKIP: needs root to switch to another uid")
        sys.exit(harness.SKIP)
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid)
    # the socket's dir: setgid to nobody's group, so the socket is born in that group (and
    # may be connected to: mode 0660); config, log and store stay in a private dir
    sockdir = harness.tmpdir("jt-auth-")
    os.chown(sockdir, 0, nobody.pw_gid)
    os.chmod(sockdir, 0o2755)
    jd = harness.Jetsamd(socket=os.path.join(sockdir, "jetsamd.sock"))
    jd.start()
    try:
        os.chown(jd.socket, 0, nobody.pw_gid)  # in case the daemon set another group
        print("socket %s: mode %o, group %s; client uid %d (nobody), gid %d" % (
            jd.socket, os.stat(jd.socket).st_mode & 0o777, group.gr_name, nobody.pw_uid,
            nobody.pw_gid))
        reqs = [({"cmd": "status"}, None), ({"cmd": "limits"}, None),
                ({"cmd": "sync"}, None), ({"cmd": "reparse"}, None),
                ({"cmd": "import", "name": "JetsamEvent-auth.ips", "size": len(REPORT)},
                 REPORT)]
        got = as_user(nobody.pw_uid, nobody.pw_gid, jd.socket, reqs)
        if isinstance(got, str):
            harness.fail("client as nobody: %s" % got)
        codes = {r[0]["cmd"]: code(g) for r, g in zip(reqs, got)}
        print("as nobody: %s" % json.dumps(codes))
        for c in ("status", "limits"):
            must(codes[c] == "ok", "%s by a non-admin uid is ok" % c, codes[c])
        for c in ("sync", "import", "reparse"):
            must(codes[c] == "permission_denied", "%s by a non-admin uid is permission_denied"
                 % c, codes[c])
        with harness.Client(jd.socket) as c:
            n = c.call("status")["reports"]
            must(n == 0, "nothing was imported by the non-admin uid", "%d reports" % n)
            root = {k: code(c.request(k)) for k in ("sync", "reparse")}
            root["import"] = code(c.import_bytes("JetsamEvent-root.ips", REPORT))
        print("as root: %s" % json.dumps(root))
        for k, v in root.items():
            must(v == "ok", "%s by root is ok" % k, v)
    finally:
        rc = jd.stop()
    must(rc == 0, "jetsamd exits 0", rc)
    harness.finish("chaos-auth")


if __name__ == "__main__":
    main()
