#!/usr/bin/env python3
# daemon_lifecycle.py: jetsamd start/stop, READY/STOPPING via NOTIFY_SOCKET, --check-config,
# SIGHUP reload, socket activation (LISTEN_FDS), socket and state dir handling
import os
import re
import resource
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import (Jetsamd, binary, check, check_eq, fail, tmpdir,  # noqa: E402
                     wait_until)


def run(*args, env=None):
    p = subprocess.run([binary("JETSAMD")] + list(args), capture_output=True, timeout=30,
                       env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_check_config():
    d = tmpdir()
    good = os.path.join(d, "good.conf")
    with open(good, "w") as f:
        f.write("# ok\nsocket = /tmp/x.sock\nresync_interval = 30s\nmax_clients = 8\n")
    rc, out, err = run("--check-config", "--config", good)
    check_eq((rc, out), (0, "configuration OK\n"), "--check-config of a good file")

    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("socket = /tmp/x.sock\n\n# comment\nresync_interval = soon\n")
    rc, out, err = run("--check-config", "--config", bad)
    check_eq(rc, 1, "--check-config of a bad file: exit code")
    check_eq(err.strip(), "jetsamd: %s:4: key 'resync_interval': 'soon' is not a duration "
             "(e.g. 30s, 500ms, 5m)" % bad, "--check-config error line")
    check_eq(out, "", "--check-config of a bad file prints nothing on stdout")

    rc, out, err = run("--check-config", "--config", os.path.join(d, "missing.conf"))
    check_eq(rc, 1, "missing explicit config: exit code")
    check("cannot open config" in err and "missing.conf" in err, "missing config message: " + err)

    # command-line values are checked too, and named
    rc, out, err = run("--check-config", "--config", good, "--log-level", "loud")
    check_eq(rc, 1, "bad --log-level: exit code")
    check("--log-level: key 'log_level': 'loud'" in err, "bad --log-level message: " + err)

    # the shipped file is valid
    shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                           "jetsamd.conf")
    rc, out, err = run("--check-config", "--config", shipped)
    check_eq((rc, out), (0, "configuration OK\n"), "--check-config of config/jetsamd.conf")


def test_start_stop():
    j = Jetsamd()
    j.start()
    check(j.notifications[0] == "READY=1" or "READY=1" in j.notifications, "READY=1 sent")
    st = os.stat(j.socket)
    check(stat.S_ISSOCK(st.st_mode), "socket created")
    check_eq(stat.S_IMODE(st.st_mode), 0o660, "socket mode")
    check_eq(stat.S_IMODE(os.stat(j.state_dir).st_mode), 0o750, "state dir mode")
    check(os.path.exists(os.path.join(j.state_dir, "jetsamd.db")), "database created")
    with j.client() as c:
        res = c.call("status")
        check_eq(res["usbmuxd"]["connected"], False, "usbmuxd connected with no usbmuxd")
        check_eq(res["usbmuxd"]["socket"], j.usbmuxd_socket, "usbmuxd socket in status")
        check_eq(res["state_dir"], j.state_dir, "state dir in status")
        check_eq(res["pid"], j.pid, "pid in status")
        check_eq(res["clients"], 1, "clients in status")
    check(any(n.startswith("STATUS=") for n in j.notifications), "STATUS= sent")

    # the file table was grown before the first thread (main.c, fdtable_setup): to
    # max_clients (256) + 1024 slots, or RLIMIT_NOFILE's hard limit when that is lower
    with open("/proc/%d/status" % j.pid) as f:
        fdsize = int(re.search(r"^FDSize:\s+(\d+)", f.read(), re.M).group(1))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 256 + 1024 if hard == resource.RLIM_INFINITY else min(256 + 1024, hard)
    check(fdsize >= want, "file table grown at start: FDSize %d >= %d" % (fdsize, want))

    # a second daemon on the same socket refuses to start and leaves the first alone
    j2 = Jetsamd(socket=j.socket, state_dir=os.path.join(j.dir, "state2"))
    j2.start(wait_ready=False)
    rc = j2.proc.wait(15)
    check_eq(rc, 1, "second daemon on a live socket: exit code")
    check("another jetsamd is running" in j2.stderr_text() or "in use" in j2.stderr_text(),
          "second daemon says why: " + j2.stderr_text())
    with j.client() as c:
        c.call("hello", version=1)

    rc = j.stop()
    check_eq(rc, 0, "exit code after SIGTERM (uv_loop_close() == 0)\n" + j.stderr_text())
    check("STOPPING=1" in j.notifications, "STOPPING=1 sent")
    check(not os.path.exists(j.socket), "socket removed at exit")
    check("still open at exit" not in j.stderr_text(), "no handle left open")

    # SIGINT stops as well; a stale socket file left by a killed daemon is replaced
    j.start()
    j.kill()
    check(os.path.exists(j.socket), "killed daemon leaves its socket")
    j.start()
    with j.client() as c:
        c.call("status")
    j.proc.send_signal(signal.SIGINT)
    check_eq(j.proc.wait(15), 0, "exit code after SIGINT")

    # a file that is not a socket is never clobbered
    with open(j.socket, "w") as f:
        f.write("precious")
    j.start(wait_ready=False)
    check_eq(j.proc.wait(15), 1, "exit code when a regular file is in the way")
    with open(j.socket) as f:
        check_eq(f.read(), "precious", "file in the way untouched")
    os.unlink(j.socket)


def test_stop_with_clients():
    j = Jetsamd()
    j.start()
    clients = [j.client() for _ in range(5)]
    for c in clients[:3]:
        c.call("subscribe")
    # a client in the middle of a line and one in the middle of an import body
    clients[3].send_raw(b'{"cmd":"sta')
    clients[4].send({"id": 1, "cmd": "import", "name": "x.ips", "size": 1000})
    clients[4].send_raw(b"x" * 10)
    time.sleep(0.2)
    t0 = time.monotonic()
    rc = j.stop()
    check_eq(rc, 0, "exit code with clients connected\n" + j.stderr_text())
    check(time.monotonic() - t0 < 5, "stop with clients is bounded")
    for c in clients:
        c.sock.settimeout(5)
        check(c.recv_line() is None, "client closed at stop")
        c.close()


def test_reload():
    j = Jetsamd(extra_config={"max_clients": 64, "resync_interval": "60s"})
    j.start()
    with j.client() as c:
        check_eq(c.call("status")["resync_interval_s"], 60, "resync interval before reload")
    # a valid new config is applied
    j.write_config({"max_clients": 64, "resync_interval": "15s"})
    n = len(j.notifications)
    j.proc.send_signal(signal.SIGHUP)
    i = j.wait_notify("RELOADING=1", start=n)
    j.wait_notify("READY=1", start=i + 1)
    with j.client() as c:
        check_eq(c.call("status")["resync_interval_s"], 15, "resync interval after reload")
    # an invalid one is refused with its reason and the old one is kept
    j.write_config({"max_clients": 64, "resync_interval": "soon"})
    n = len(j.notifications)
    j.proc.send_signal(signal.SIGHUP)
    i = j.wait_notify("RELOADING=1", start=n)
    j.wait_notify("READY=1", start=i + 1)
    wait_until(lambda: "keeping the old configuration" in j.stderr_text(), 5,
               what="reload failure logged")
    check("%s:7: key 'resync_interval': 'soon'" % j.config_path in j.stderr_text(),
          "reload failure names file:line and key:\n" + j.stderr_text()[-1000:])
    with j.client() as c:
        check_eq(c.call("status")["resync_interval_s"], 15, "old config kept after bad reload")
    # changes that need a restart are reported and not applied
    j.write_config({"max_clients": 64, "resync_interval": "20s",
                    "state_dir": os.path.join(j.dir, "elsewhere")})
    n = len(j.notifications)
    j.proc.send_signal(signal.SIGHUP)
    j.wait_notify("READY=1", start=n + 1)
    with j.client() as c:
        res = c.call("status")
        check_eq(res["resync_interval_s"], 20, "resync interval applied")
        check_eq(res["state_dir"], j.state_dir, "state dir unchanged until restart")
    check("needs a restart" in j.stderr_text(), "restart-only change logged")
    check_eq(j.stop(), 0, "exit code after reloads")


def test_socket_activation():
    j = Jetsamd()
    j.start(listen_fds=True)
    # the socket is the one the harness made: jetsamd did not create its own
    with j.client() as c:
        check_eq(c.call("hello", version=1)["version"], 1, "hello over the activated socket")
        check_eq(c.call("status")["pid"], j.pid, "the daemon answers on the activated socket")
    check("activated socket" in j.stderr_text(), "activation logged")
    check(not os.path.exists(j.socket + ".lock"), "no lock file when activated")
    check_eq(j.stop(), 0, "exit code (activated)")
    check(os.path.exists(j.socket), "activated socket not unlinked at exit")
    # the listening socket still works for the next activation (systemd keeps it)
    j.start(listen_fds=True)
    with j.client() as c:
        c.call("status")
    check_eq(j.stop(), 0, "exit code (second activation)")
    j.close_listen_socket()


def test_watchdog():
    j = Jetsamd()
    j.start(env={"WATCHDOG_USEC": "200000"}, args=())
    # WATCHDOG_PID is not set: the variable applies to us; pings every 100 ms
    wait_until(lambda: j.notifications.count("WATCHDOG=1") >= 3, 5, what="WATCHDOG=1 pings")
    check_eq(j.stop(), 0, "exit code with the watchdog on")


def test_journal_prefix():
    j = Jetsamd(log_level="info")
    j.start()
    check_eq(j.stop(), 0, "exit code")
    lines = [l for l in j.stderr_text().splitlines() if l]
    check(lines and all(l[:4].isdigit() and l[10] == "T" and l.split()[1] in ("info", "warning")
                     for l in lines),
          "timestamped lines outside the journal:\n" + "\n".join(lines[:5]))
    # stderr "is the journal" when JOURNAL_STREAM names its device:inode
    st = os.stat(j.log)
    n0 = len(lines)
    j.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
    check_eq(j.stop(), 0, "exit code (journal)")
    new = [l for l in j.stderr_text().splitlines() if l][n0:]
    check(new and all(l.startswith("<6>") or l.startswith("<4>") or l.startswith("<3>")
                      for l in new), "<N> prefixes under the journal:\n" + "\n".join(new[:5]))
    check(any(l.startswith("<6>main: ") for l in new), "module after the prefix")


def main():
    test_check_config()
    test_journal_prefix()
    test_start_stop()
    test_stop_with_clients()
    test_reload()
    test_socket_activation()
    test_watchdog()
    print("ok")


if __name__ == "__main__":
    main()
