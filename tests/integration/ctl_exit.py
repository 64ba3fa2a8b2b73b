# ctl_exit.py: every documented jetsamctl exit code (0 1 2 3 4) and the errors that say what to do
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_world import APP, DRIFT_NEW, binary, check, check_eq, gen_report, no_sanitizer_errors  # noqa: E402,E501
import harness  # noqa: E402


def ctl(sock, *args, env=None, preexec=None, timeout=30):
    e = dict(os.environ)
    e.pop("JETSAMD_SOCKET", None)
    if env:
        e.update(env)
    argv = [binary("JETSAMCTL")] + (["--socket", sock] if sock else []) + list(args)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=e,
                       preexec_fn=preexec, timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    no_sanitizer_errors(err, "jetsamctl " + " ".join(args))
    return p.returncode, out, err


def fake_daemon(path, results):
    """A socket that answers hello, then each command with results[cmd] (one client)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)

    def serve():
        for _ in range(4):
            try:
                c, _ = srv.accept()
            except OSError:
                return
            f = c.makefile("rwb")
            for line in f:
                req = json.loads(line)
                res = {"version": 2, "daemon": "fake"} if req["cmd"] == "hello" else \
                    results[req["cmd"]]
                f.write((json.dumps({"id": req.get("id"), "ok": True, "result": res}) +
                         "\n").encode())
                f.flush()
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv


def check_reports_order(d):
    # a daemon that sends reports in another order: jetsamctl sorts them as documented
    rep = dict(udid=None, path="import:x", status="ok", events=0, product=None)
    reports = [dict(rep, id=1, collected="2026-11-23T10:00:00Z"),
               dict(rep, id=3, collected="2026-11-22T10:00:00Z"),
               dict(rep, id=2, collected="2026-11-23T10:00:00Z"),
               dict(rep, id=4, collected="2026-11-23T11:00:00Z")]
    path = os.path.join(d, "fake.sock")
    srv = fake_daemon(path, {"reports": {"reports": reports, "truncated": False},
                             "devices": {"devices": []}})
    rc, out, err = ctl(path, "--json", "reports")
    check_eq(rc, 0, "reports from the fake daemon (%s)" % err)
    check_eq([r["id"] for r in json.loads(out)["reports"]], [4, 2, 1, 3],
             "newest collected first, then id")
    srv.close()


def main():
    d = harness.tmpdir("jt-ctlx-")
    jd = harness.Jetsamd().start()  # no usbmuxd: import is enough here
    sock = jd.socket
    report = gen_report(os.path.join(d, "r.ips"), DRIFT_NEW)
    rc, out, err = ctl(sock, "import", report)
    check_eq(rc, 0, "import (%s)" % err)

    # --- 0 ---
    for args in (["status"], ["--json", "devices"], ["--csv", "limits"],
                 ["limit", "--product", DRIFT_NEW["product"]], ["events"], ["reports"]):
        rc, out, err = ctl(sock, *args)
        check_eq(rc, 0, "exit of %s (%s)" % (args, err))
    # the socket from the environment, and --socket overriding it
    rc, out, err = ctl(None, "status", env={"JETSAMD_SOCKET": sock})
    check_eq(rc, 0, "JETSAMD_SOCKET is used")
    rc, out, err = ctl("/nonexistent/jetsamd.sock", "status", env={"JETSAMD_SOCKET": sock})
    check_eq(rc, 1, "--socket overrides JETSAMD_SOCKET")

    # --- 1: daemon not running (no socket file; a socket nobody listens on) ---
    missing = os.path.join(d, "missing.sock")
    rc, out, err = ctl(missing, "status")
    check_eq(rc, 1, "exit when the daemon is not running")
    check_eq(err, "jetsamctl: jetsamd is not running: cannot connect to '%s' (start it with "
             "`systemctl start jetsamd.socket` or run `jetsamd`)\n" % missing, "message")
    check_eq(out, "", "nothing on stdout")
    stale = os.path.join(d, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()  # the file stays, nothing listens: ECONNREFUSED
    rc, out, err = ctl(stale, "--json", "events")
    check_eq(rc, 1, "exit on a stale socket")
    check("jetsamd is not running: cannot connect to '%s'" % stale in err, "stale: %r" % err)

    check_reports_order(d)

    # --- 1: a file that is not a socket is not "not running" ---
    for path in ("/etc/passwd", d):
        rc, out, err = ctl(path, "status")
        check_eq(rc, 1, "exit on %s" % path)
        check(("'%s' is not a socket" % path) in err and "not running" not in err and
              len(err.splitlines()) == 1, "not a socket: %r" % err)

    # --- 1: permission denied on the socket names the group ---
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv:
        # root passes every permission check: run jetsamctl as nobody on a 0600 socket
        os.chmod(os.path.dirname(sock), 0o711)
        os.chmod(sock, 0o600)
        p = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                            binary("JETSAMCTL"), "--socket", sock, "status"],
                           capture_output=True, stdin=subprocess.DEVNULL)
        rc, err = p.returncode, p.stderr.decode(errors="replace")
        os.chmod(sock, 0o660)
    elif os.geteuid() != 0:
        os.chmod(sock, 0o000)
        rc, out, err = ctl(sock, "status")
        os.chmod(sock, 0o660)
    else:
        rc, err = None, None
        print("note: root without setpriv: permission test not run")
    if rc is not None:
        check_eq(rc, 1, "exit on permission denied")
        check("permission denied on '%s': add yourself to group 'jetsamd'" % sock in err,
              "permission message: %r" % err)

    # --- 1: the daemon refuses a request (not_found), watch timeouts, daemon gone ---
    rc, out, err = ctl(sock, "sync", "no-such-udid")
    check_eq(rc, 1, "exit when the daemon answers an error")
    check(err.startswith("jetsamctl: sync failed: ") and "(not_found)" in err, "err: %r" % err)
    t0 = time.monotonic()
    rc, out, err = ctl(sock, "watch", "--until-event", "--timeout", "0.5")
    took = time.monotonic() - t0
    check_eq(rc, 1, "watch --until-event --timeout without an event")
    check("timed out after 0.5 s waiting for a kill event" in err, "timeout message: %r" % err)
    check(0.45 <= took < 5, "watch --timeout 0.5 took %.2f s" % took)
    rc, out, err = ctl(sock, "watch", "--timeout", "0.3")
    check_eq(rc, 0, "watch --timeout without --until-event ends with 0")
    rc, out, err = ctl(sock, "import", os.path.join(d, "missing.ips"))
    check_eq(rc, 1, "import of a missing file")

    # --- 2: usage ---
    usage_cases = [
        [], ["bogus"], ["--bogus", "status"], ["status", "extra"], ["devices", "--bogus"],
        ["limit"], ["limit", "--product", "X", "--role", "frontmost"],
        ["limits", "--role", "nope"], ["events", "--since", "yesterday"],
        ["events", "--until", "2026-13-01"], ["events", "--limit", "0"],
        ["events", "--limit", "many"], ["events", "--since", "1h", "--until", "2h"],
        ["reports", "--status", "fine"], ["watch", "--timeout", "-1"],
        ["watch", "--timeout", "soon"], ["import"], ["sync", "a", "b"], ["reparse", "x"],
    ]
    for args in usage_cases:
        rc, out, err = ctl(sock, *args)
        check_eq(rc, 2, "exit of usage error %s (%s)" % (args, err.strip()))
        check(err != "" and out == "", "usage error %s explains on stderr only" % args)
        if args:
            check_eq(len(err.splitlines()), 1, "one error line for %s: %r" % (args, err))
    # "did you mean" for commands and options, on one line, without the whole usage
    for args, want in ((["devcies"], "did you mean 'devices'?"),
                       (["events", "--procces", "x"], "did you mean '--process'?"),
                       (["--jsno", "status"], "did you mean '--json'?"),
                       (["help", "evnets"], "did you mean 'events'?")):
        rc, out, err = ctl(sock, *args)
        check_eq(rc, 2, "exit of %s" % args)
        check_eq(len(err.splitlines()), 1, "one line for %s: %r" % (args, err))
        check(want in err and "usage:" not in err, "%s: %r" % (args, err))
    # the formats exclude each other, wherever they are given
    for args in (["--json", "--csv", "status"], ["--json", "status", "--csv"],
                 ["events", "--csv", "--json"], ["parse", "--json", "--csv", report]):
        rc, out, err = ctl(sock, *args)
        check_eq(rc, 2, "exit of %s" % args)
        check("cannot be used together" in err and out == "",
              "%s: %r" % (args, err))
    rc, out, err = ctl(sock, "--json", "--json", "status")
    check_eq(rc, 0, "the same format twice is fine")
    # help COMMAND is COMMAND --help
    for cmd in ("events", "limit", "watch", "parse"):
        rc, out, err = ctl(sock, "help", cmd)
        check_eq(rc, 0, "help %s" % cmd)
        check(out.startswith("usage: jetsamctl") and cmd in out.splitlines()[0] and
              out == ctl(sock, cmd, "--help")[1], "help %s: %r" % (cmd, out))

    # a marketing name of several identifiers with data (iPhone 8: iPhone10,1 and ,4) is
    # ambiguous: the error names them; with data of one, that one is meant
    r8 = dict(product="iPhone10,1", os="16.7", build="20H19", rpages=90000, ago=60)
    kill8 = "EightApp:foreground:per-process-limit:90000"
    rc, out, err = ctl(sock, "import", gen_report(os.path.join(d, "i8a.ips"), r8, kill=kill8))
    check_eq(rc, 0, "import iPhone10,1 (%s)" % err)
    rc, out, err = ctl(sock, "limit", "--product", "iPhone 8")
    check(rc == 0 and out == "%d\n" % (90000 * 16384), "one variant with data: %d %r %r"
          % (rc, out, err))
    r8["product"] = "iPhone10,4"
    rc, out, err = ctl(sock, "import", gen_report(os.path.join(d, "i8b.ips"), r8, kill=kill8))
    check_eq(rc, 0, "import iPhone10,4 (%s)" % err)
    for args in (["limit", "--product", "iPhone 8"], ["events", "--product", "iphone 8"],
                 ["limits", "--product", "IPHONE 8", "--os", "16.7"]):
        rc, out, err = ctl(sock, *args)
        check_eq(rc, 2, "ambiguous %s" % args)
        check("iPhone10,1" in err and "iPhone10,4" in err and len(err.splitlines()) == 1,
              "ambiguous names both: %r" % err)

    # --- 3: --fail-if-any matched ---
    rc, out, err = ctl(sock, "events", "--process", APP, "--fail-if-any")
    check_eq(rc, 3, "events --fail-if-any with a match")
    check(APP in out and "1 kill event matched" in err, "printed, then exit 3: %r %r" % (out, err))
    rc, out, err = ctl(sock, "events", "--process", "Nothing", "--fail-if-any")
    check_eq(rc, 0, "events --fail-if-any without a match")

    # --- 4: limit unknown ---
    rc, out, err = ctl(sock, "limit", "--product", "iPhone1,1")
    check_eq(rc, 4, "limit of an unknown product")
    rc, out, err = ctl(sock, "limit", "--product", DRIFT_NEW["product"], "--build", "00A000")
    check_eq(rc, 4, "limit of an unknown build")

    # --- the daemon restarts during a watch: it says so once and reconnects (backoff) ---
    result = {}

    def watcher():
        result["r"] = ctl(sock, "watch", "--until-event", "--process", "AfterRestart",
                          "--timeout", "40", timeout=60)
    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.5)
    check_eq(jd.stop(), 0, "jetsamd stops cleanly")
    time.sleep(2.5)  # an outage of several retries (0.25 s, 0.5 s, 1 s, ...)
    jd.start()
    time.sleep(6)  # the retry interval is at most 5 s
    kill = "AfterRestart:foreground:per-process-limit:70000"
    rc, out, err = ctl(sock, "import", gen_report(os.path.join(d, "after.ips"), DRIFT_NEW,
                                                  kill=kill))
    check_eq(rc, 0, "import after the restart (%s)" % err)
    t.join(30)
    check(not t.is_alive(), "watch ended at the kill after the restart")
    rc, out, err = result["r"]
    check_eq(rc, 0, "watch exit after reconnecting (%s)" % err)
    check("AfterRestart" in out, "the kill after the restart is shown: %r" % out)
    check_eq(err.count("reconnecting"), 1, "one line per outage: %r" % err)
    check("jetsamd closed the connection" in err, "watch says the daemon left: %r" % err)
    # a daemon that does not come back: the watch ends at its timeout (exit 0, or 1 with
    # --until-event), having said so once
    for args, want in ((["--timeout", "3"], 0), (["--until-event", "--timeout", "3"], 1)):
        jd.start() if not jd.running() else None
        t = threading.Thread(target=lambda: result.update(r=ctl(sock, "watch", *args)))
        t.start()
        time.sleep(0.5)
        check_eq(jd.stop(), 0, "jetsamd stops cleanly")
        t.join(15)
        rc, out, err = result["r"]
        check_eq(rc, want, "watch %s without a daemon to come back to (%s)" % (args, err))
        check_eq(err.count("reconnecting"), 1, "said once: %r" % err)
    print("ok: exit codes 0 1 2 3 4")


if __name__ == "__main__":
    main()
