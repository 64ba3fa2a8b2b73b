# devices_nosleep.py: issue 12 must-show 2: no 100 ms sleep in a TLS handshake (jetsamd under strace)
"""jetsamd runs under `strace -f` against devsim: a first sync, a re-sync, remove_after_pull's
connection and the live syslog watcher each do a lockdown TLS handshake. libimobiledevice
1.3.0 sleeps 100 ms (nanosleep) in a handshake on a non-blocking socket; jetsamd runs its
handshakes on a blocking one. The syscall trace is the evidence, no clock is read: the test
fails when a nanosleep/clock_nanosleep of 100 ms or more appears. devsim adds a round-trip
latency so that the sleep cannot be missed by luck, and idevicecrashreport under the same
trace (when installed) shows that the trace does catch the library's sleep."""
import os
import re
import shutil
import signal
import subprocess

from devices_common import (check, check_eq, daemon_reports, fail, gen_phone, harness,
                            long_sleeps, require_strace, strace_argv, strace_jetsamd,
                            wait_states, wait_until)

require_strace()
root = harness.tmpdir("jt-dvns-")
A = "00008101-0000000000000C71"
pa = gen_phone(root, "a", A, "iPhone13,2", "16.7.2", "20H115", reports=6, retired=True,
               synced=True, seed=71)
# a 10 ms round trip: the server's TLS reply is never there when a client first reads, so a
# handshake on a non-blocking socket always gets EAGAIN (and 1.3.0 then always sleeps)
ds = harness.Devsim(phones_dirs=[pa]).start(args=["--latency", "10ms"])

# the peer first: the same trace shows the library's handshake sleep
peer = shutil.which("idevicecrashreport")
if peer:
    peer_trace = os.path.join(root, "peer.trace")
    out = os.path.join(root, "peer-out")
    os.mkdir(out)
    env = dict(os.environ, USBMUXD_SOCKET_ADDRESS=ds.usbmuxd)
    p = subprocess.run(strace_argv(peer_trace) + [peer, "-k", "-u", A, out], env=env,
                       capture_output=True, timeout=120)
    check_eq(p.returncode, 0, "idevicecrashreport under strace: %s" % p.stderr[-500:])
    check(long_sleeps(peer_trace), "the trace shows idevicecrashreport's 100 ms handshake sleep")

trace = os.path.join(root, "jetsamd.trace")
wrapper = strace_jetsamd(os.path.join(root, "jetsamd-strace"), trace)
jd = harness.Jetsamd(binary_path=wrapper, usbmuxd_socket=ds.usbmuxd,
                     extra_config={"resync_interval": "60s", "remove_after_pull": "yes"})
jd.start(timeout=30)
wait_states(jd, {A: "idle"}, timeout=60)
n_first = len(daemon_reports(jd, A))
check(n_first >= 6, "first sync stored the phone's reports (%d)" % n_first)
wait_until(lambda: re.search(r"'%s': removed [1-9]\d* pulled report" % A, jd.stderr_text()),
           timeout=60, what="removal of the pulled reports (a third connection)")
wait_until(lambda: "'%s': system log stream open" % A in jd.stderr_text(), timeout=60,
           what="the live syslog watcher's connection")
res = jd.ctl_json("sync", A, "--wait", timeout=60)["synced"][0]
check_eq((res["state"], res["new_reports"]), ("idle", 0), "re-sync")

# stop jetsamd itself (strace passes its exit status on) and read the whole trace
children = []
with open("/proc/%d/task/%d/children" % (jd.pid, jd.pid)) as f:
    children = [int(x) for x in f.read().split()]
check_eq(len(children), 1, "strace runs one jetsamd")
os.kill(children[0], signal.SIGTERM)
check_eq(jd.stop(timeout=30), 0, "jetsamd exit status under strace")
with open(trace, errors="replace") as f:
    text = f.read()
check(re.search(r"execve\(\"[^\"]*jetsamd\"", text) is not None,
      "the trace covers jetsamd (its execve is in it)")
bad = long_sleeps(trace)
if bad:
    fail("jetsamd slept 100 ms or more %d time(s):\n%s" % (len(bad), "\n".join(bad[:10])))
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: %d reports, removal, live watch, a re-sync, no sleep of 100 ms or more in jetsamd's trace" % n_first)
