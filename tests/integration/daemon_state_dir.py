#!/usr/bin/env python3
# daemon_state_dir.py: issue 11: one jetsamd per state dir (must-show 7), stale archive temps
# swept at start, 0640/0750 modes whatever the umask, FIFO and sub-second configs refused
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Jetsamd, binary, check, check_eq, finish, tmpdir  # noqa: E402


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_second_daemon():
    j = Jetsamd()
    j.start()
    # same state dir, another socket: refused, naming the holder's pid
    j2 = Jetsamd(state_dir=j.state_dir, socket=os.path.join(j.dir, "other.sock"))
    t0 = time.monotonic()
    j2.start(wait_ready=False)
    rc = j2.proc.wait(15)
    said = [ln for ln in j2.stderr_text().splitlines() if "in use" in ln]
    print("second jetsamd on the same state dir: exit %d in %.2f s: %s" % (
        rc, time.monotonic() - t0, said[-1] if said else "(no message)"))
    check_eq(rc, 1, "second daemon on the same state dir: exit code")
    check("pid %d" % j.pid in j2.stderr_text(), "message names the holder's pid %d: %s"
          % (j.pid, j2.stderr_text()))
    check(not os.path.exists(os.path.join(j.dir, "other.sock")), "no socket of the second")
    with j.client() as c:
        check_eq(c.call("status")["pid"], j.pid, "the first daemon still answers")
    with open(os.path.join(j.state_dir, "jetsamd.lock")) as f:
        check_eq(f.read().strip(), str(j.pid), "the lock file holds the pid")
    check_eq(j.stop(), 0, "first daemon exit code")
    # released at exit: the next daemon on that dir starts
    j2.start()
    check_eq(j2.stop(), 0, "a daemon after the first one stopped")


def test_modes_and_sweep():
    d = tmpdir("jt-sd-")
    wrapper = os.path.join(d, "jetsamd-umask0")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\numask 0\nexec "%s" "$@"\n' % binary("JETSAMD"))
    os.chmod(wrapper, 0o755)
    j = Jetsamd(binary_path=wrapper, dir=d)
    j.start()
    st = j.state_dir
    report = os.path.join(d, "JetsamEvent-gen.ips")
    p = subprocess.run([binary("JETSAMGEN"), "report", "--seed", "11", "--product", "iPhone13,2",
                        "--os-version", "15.5", "--build", "19F77", "--out", report],
                       capture_output=True)
    check_eq(p.returncode, 0, "jetsamgen report: %r" % p.stderr)
    rc, out, err = j.ctl("import", report)
    check_eq(rc, 0, "import under umask 0: " + err)
    check_eq(mode(st), 0o750, "state dir mode under umask 0")
    for name in ("jetsamd.db", "jetsamd.db-wal", "jetsamd.db-shm", "jetsamd.lock"):
        check_eq(mode(os.path.join(st, name)), 0o640, name + " mode under umask 0")
    arch = os.path.join(st, "archive")
    check_eq(mode(arch), 0o750, "archive dir mode")
    files = []
    for dirpath, dirs, names in os.walk(arch):
        for n in dirs:
            check_eq(mode(os.path.join(dirpath, n)), 0o750, "archive sub-dir mode " + n)
        files += [os.path.join(dirpath, n) for n in names]
    check_eq(len(files), 1, "one archived report")
    for p in files:
        check_eq(mode(p), 0o640, "archive file mode " + p)
    check_eq(j.stop(), 0, "exit code")

    # temp files a crash left are swept at the next start; nothing else is touched
    sub = os.path.dirname(files[0])
    planted = [os.path.join(sub, ".%s.4242.tmp" % os.path.basename(files[0])[:64]),
               os.path.join(arch, "stray.tmp")]
    for p in planted:
        with open(p, "w") as f:
            f.write("half")
    j.start()
    for p in planted:
        check(not os.path.exists(p), "stale temp swept at start: " + p)
    check(os.path.exists(files[0]), "archived report kept")
    check("removed 2 stale temp file(s)" in j.stderr_text(), "the sweep is logged")
    with j.client() as c:
        check_eq(c.call("status")["pid"], j.pid, "daemon up after the sweep")
    check_eq(j.stop(), 0, "exit code after the sweep")


def test_config_refused():
    d = tmpdir("jt-sdc-")
    fifo = os.path.join(d, "fifo.conf")
    os.mkfifo(fifo)
    t0 = time.monotonic()
    p = subprocess.run([binary("JETSAMD"), "--check-config", "--config", fifo],
                       capture_output=True, timeout=20)
    took = time.monotonic() - t0
    check_eq(p.returncode, 1, "FIFO config: exit code")
    check("not a regular file" in p.stderr.decode(), "FIFO config message: %r" % p.stderr)
    check(took < 5, "FIFO config refused at once (%.2f s)" % took)

    bad = os.path.join(d, "sub.conf")
    with open(bad, "w") as f:
        f.write("resync_interval = 500ms\n")
    p = subprocess.run([binary("JETSAMD"), "--check-config", "--config", bad],
                       capture_output=True, timeout=20)
    check_eq(p.returncode, 1, "sub-second resync_interval: exit code")
    check_eq(p.stderr.decode().strip(),
             "jetsamd: %s:1: key 'resync_interval': '500ms' is less than the minimum 1s "
             "(0 turns it off)" % bad, "sub-second resync_interval message")


test_second_daemon()
test_modes_and_sweep()
test_config_refused()
finish("daemon-state-dir")
