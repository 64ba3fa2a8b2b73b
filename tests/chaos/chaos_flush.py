# chaos_flush.py: kill -9 between an archive flush and its commit: each report once (#12 must-show 7)
"""jetsamd runs under `strace -f --seccomp-bpf -e trace=syncfs -e inject=syncfs:delay_exit=3s`:
the one flush of each archive batch (a syncfs) returns 3 s late, so the window between a
batch's flush and its store commit is wide. strace writes its line for a flush ("= 0
(DELAYED)") as the delay begins, so its output counts the windows. The test waits until
the wanted window has begun and a thread of jetsamd sits in it (/proc/TID/syscall says
syncfs and the thread is in a tracing stop), kills jetsamd with SIGKILL there and checks
that the archive then held reports the
store had not recorded and that no file left the phone (remove_after_pull is on). KILLS
times, each on the next sync of the same state dir; then jetsamd runs without strace and
finishes. Every report of the phone must be stored exactly once with its events, the pulled
files removed from the phone only then, and no temp file left. Skipped without strace or
ptrace."""
import fcntl
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (banner, daemon_keys, gen_phone_dir, harness, lost_doubled, must,
                          scaled, sync_wait, tmp_files)  # noqa: E402
from devices_common import daemon_events, expected_events, expected_from_trees  # noqa: E402

UDID = "00008101-00000000000000F7"
REPORTS = scaled(150, 80)
KILLS = 3
SYS_SYNCFS = {"x86_64": 306, "aarch64": 267}.get(platform.machine())
STRACE = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=syncfs", "-e", "signal=none",
          "-e", "inject=syncfs:delay_exit=3000000"]


def skip(why):
    print("SKIP: " + why)
    sys.exit(harness.SKIP)


def lock_free(state_dir):
    """The state dir's lock (jetsamd.lock, flock) is free: the killed jetsamd is gone."""
    try:
        fd = os.open(os.path.join(state_dir, "jetsamd.lock"), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here


def daemon_pid(strace_pid):
    """jetsamd, the child strace started."""
    try:
        with open("/proc/%d/task/%d/children" % (strace_pid, strace_pid)) as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def in_flush_window(pid):
    """Threads of pid held by strace at the exit of syncfs (the flush is done, the delay runs)."""
    tids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return tids
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                sc = f.read().split()
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except OSError:
            continue
        state = stat[stat.rindex(")") + 2]
        if sc and sc[0] == str(SYS_SYNCFS) and state == "t":
            tids.append(tid)
    return tids


def flushes(trace):
    """The flushes whose delayed return has begun: strace writes a syncfs line (or its
    "resumed" end) with "(DELAYED)" when the delay starts, not when it ends."""
    try:
        with open(trace, errors="replace") as f:
            return sum(1 for line in f if "syncfs" in line and "= 0 (DELAYED)" in line)
    except FileNotFoundError:
        return 0


def archived(state_dir):
    n = 0
    for _dp, _dirs, files in os.walk(os.path.join(state_dir, "archive")):
        n += sum(1 for x in files if x.endswith(".ips"))
    return n


def recorded(state_dir):
    db = sqlite3.connect(os.path.join(state_dir, "jetsamd.db"), timeout=10)
    try:
        return db.execute("SELECT count(*) FROM reports").fetchone()[0]
    finally:
        db.close()


def phone_files(phone):
    return sorted(os.path.relpath(os.path.join(dp, x), phone)
                  for dp, _d, fs in os.walk(os.path.join(phone, "CrashReporter")) for x in fs)


def main():
    banner("chaos-flush", "%d x kill -9 between an archive flush and its commit, %d reports"
           % (KILLS, REPORTS))
    if SYS_SYNCFS is None:
        skip("syncfs number unknown on %s" % platform.machine())
    if shutil.which("strace") is None:
        skip("strace is not installed")
    probe = subprocess.run(STRACE + ["true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        skip("strace cannot trace here: %s" % probe.stderr.decode(errors="replace").strip())
    ds = harness.Devsim()
    phone = gen_phone_dir(ds.dir, "pflush", UDID, reports=REPORTS, seed=12)
    reports = expected_from_trees([phone])
    truth = {k: r["udid"] for k, r in reports.items()}
    phone_events = expected_events(reports)
    files0 = phone_files(phone)
    ds.start(phones_dirs=[phone])
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd,
                         extra_config={"remove_after_pull": "yes", "resync_interval": "3600s"})
    real = jd.binary
    wrapper = os.path.join(jd.dir, "jetsamd-strace")
    traced = [None]  # the traced jetsamd while it may run

    def kill_traced():
        # it outlives its strace (strace detaches from it when stopped): after a failure it
        # would run on
        if traced[0] is not None:
            try:
                os.kill(traced[0], signal.SIGKILL)
            except ProcessLookupError:
                pass
            traced[0] = None
    harness.on_fail(kill_traced)  # a failed check exits at once, without finally
    try:
        for i in range(KILLS):
            trace = os.path.join(jd.dir, "strace-%d.out" % (i + 1))
            with open(wrapper, "w") as f:
                f.write("#!/bin/sh\nexec %s -o \"%s\" \"%s\" \"$@\"\n"
                        % (" ".join(STRACE), trace, real))
            os.chmod(wrapper, 0o755)
            jd.binary = wrapper
            jd.start(timeout=60)
            t0 = time.monotonic()
            pid = harness.wait_until(lambda: daemon_pid(jd.pid), timeout=10, what="jetsamd pid")
            traced[0] = pid
            # the second kill waits for its sync's second flush (the sync's first batch is
            # committed then); the others for the first
            nth = 2 if i == 1 else 1
            harness.wait_until(lambda: flushes(trace) >= nth and in_flush_window(pid),
                               timeout=120, interval=0.05,
                               what="flush %d of the archive (syncfs) returning" % nth)
            os.kill(pid, signal.SIGKILL)
            jd.kill()
            # the traced jetsamd ends only once strace has let go of it: until then it still
            # holds the state dir's lock, and the next start would find it in use
            harness.wait_until(lambda: lock_free(jd.state_dir), timeout=30, interval=0.05,
                               what="the killed jetsamd %d to let go of the state lock" % pid)
            traced[0] = None  # gone: its number may be another process's from now on
            n_arch, n_rec = archived(jd.state_dir), recorded(jd.state_dir)
            left = phone_files(phone)
            print("kill %d: %.2f s after READY, in the window of flush %d: %d archived, "
                  "%d recorded, %d of %d files on the phone" % (
                      i + 1, time.monotonic() - t0, flushes(trace), n_arch, n_rec, len(left),
                      len(files0)), flush=True)
            must(n_arch > n_rec, "kill %d: the archive holds flushed reports not yet recorded"
                 % (i + 1), "%d archived, %d recorded" % (n_arch, n_rec))
            must(left == files0, "kill %d: no file left the phone before its commit" % (i + 1),
                 "%d of %d files on the phone" % (len(left), len(files0)))
        jd.binary = real
        jd.start(timeout=30)
        t0 = time.monotonic()
        st = sync_wait(jd.socket, UDID, timeout=180)
        print("final sync: %.1f s, state %s" % (time.monotonic() - t0, st.get("state")))
        keys = daemon_keys(jd.socket)
        lost, doubled = lost_doubled(truth, keys)
        print("%d reports on the phone, %d stored: lost %d, doubled %d" % (
            len(truth), len(keys), lost, doubled))
        must(lost == 0 and doubled == 0 and len(keys) == len(truth),
             "every report stored exactly once", "lost %d, doubled %d" % (lost, doubled))
        got = daemon_events(jd)
        must(sorted(got, key=repr) == phone_events, "the events equal the phone's",
             "%d stored, %d expected" % (len(got), len(phone_events)))
        harness.wait_until(lambda: "pulled report(s) from the device" in jd.stderr_text(),
                           timeout=30, what="the removal of the pulled files")
        pulled = {rel for r in reports.values() for _u, rel in r["paths"]}
        left = pulled & set(phone_files(phone))
        must(not left, "the pulled files left the phone after their commit",
             "%d of %d left" % (len(left), len(pulled)))
        tmp = tmp_files(jd.state_dir)
        must(not tmp, "no temp file left in the archive", "%d: %s" % (len(tmp), tmp[:3]))
    finally:
        if jd.running():
            jd.stop(timeout=30)
        kill_traced()
        ds.cleanup()
    harness.finish("chaos-flush")


if __name__ == "__main__":
    main()
