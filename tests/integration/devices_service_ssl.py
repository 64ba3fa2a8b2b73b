# devices_service_ssl.py: crash services answered with EnableServiceSSL: jetsamd's service TLS handshakes
"""A lockdownd may answer StartService with EnableServiceSSL = true; the host then runs TLS on
the service connection before the mover's ping and AFC. devsim --service-ssl does that for
com.apple.crashreportmover and com.apple.crashreportcopymobile. Two phones (iOS 16: TLS 1.3;
iOS 9: libimobiledevice caps the host at TLS 1.0) are synced by jetsamd once without and once
with service SSL: with it, every report is recorded once and the events are the same as
without it; devsim's log shows a TLS session on every mover and AFC connection jetsamd made;
jetsamd runs under strace with a 10 ms round trip (so a handshake on a non-blocking socket
always meets EAGAIN, where libimobiledevice 1.3.0 sleeps 100 ms) and no nanosleep of 100 ms
or more appears. Then the unmodified idevicecrashreport -k copies both phones' trees through
the same TLS (byte-for-byte), and under strace it shows at least three 100 ms handshake
sleeps (lockdown, mover, AFC) where it shows one without service SSL: the trace sees service
handshakes, and devsim speaks them to the library itself."""
import os
import re
import shutil
import signal
import subprocess
import sys

from devices_common import (check, check_eq, daemon_events, daemon_reports, expected_events,
                            expected_from_trees, fail, gen_phone, harness, long_sleeps,
                            require_strace, strace_argv, strace_jetsamd, sync_wait, tree_files,
                            wait_states)

def copy_phones(name):
    """Fresh copies of the two phones (the mover changes a tree) under root/name."""
    out = []
    for src in (pa, pb):
        dst = os.path.join(root, name, os.path.basename(src))
        shutil.copytree(src, dst)
        out.append(dst)
    return out


def sync_phones(dirs, devsim_args, binary_path=None):
    """devsim over dirs + jetsamd: first sync and a re-sync; returns (devsim, jetsamd, reports
    by udid, events)."""
    ds = harness.Devsim(phones_dirs=dirs).start(args=devsim_args)
    jd = harness.Jetsamd(binary_path=binary_path, usbmuxd_socket=ds.usbmuxd,
                         extra_config={"resync_interval": "60s"})
    jd.start(timeout=30)
    wait_states(jd, {A: "idle", B: "idle"}, timeout=60)
    reports = {u: sorted(r["key"] for r in daemon_reports(jd, u)) for u in (A, B)}
    want = expected_from_trees(dirs)
    check_eq(sorted(reports[A] + reports[B]), sorted(want), "report keys, each once (%s)"
             % " ".join(devsim_args))
    events = daemon_events(jd)
    check_eq(events, expected_events(want), "events = the phones' reports (%s)"
             % " ".join(devsim_args))
    for u, res in sync_wait(jd).items():
        check_eq((res["state"], res["new_reports"]), ("idle", 0), "re-sync of %s" % u)
    check_eq(sorted(r["key"] for r in daemon_reports(jd)), sorted(want),
             "report keys after the re-sync")
    return ds, jd, reports, events


require_strace()
root = harness.tmpdir("jt-dvssl-")
A = "00008101-0000000000000E51"
B = "4e9b3a1c0000000000000000000000000000e052"
pa = gen_phone(os.path.join(root, "base"), "a", A, "iPhone13,2", "16.7.2", "20H115", reports=6,
               pending=2, retired=True, synced=True, seed=81)
pb = gen_phone(os.path.join(root, "base"), "b", B, "iPhone8,1", "9.3.5", "13G36", reports=4,
               pending=1, seed=82)

# without service SSL: the reference
ds0, jd0, reports0, events0 = sync_phones(copy_phones("plain"), [])
check(len(reports0[A]) >= 8 and len(reports0[B]) >= 5,
      "reference sync stored the reports: %d, %d" % (len(reports0[A]), len(reports0[B])))
check_eq(jd0.stop(timeout=30), 0, "jetsamd exit status (reference)")
check_eq(ds0.stop(), 0, "devsim exit status (reference)")
check(" ssl\n" not in ds0.stderr_text() and "service tls" not in ds0.stderr_text(),
      "no service SSL without --service-ssl")

# with service SSL, jetsamd under strace, a 10 ms round trip
trace = os.path.join(root, "jetsamd.trace")
ds, jd, reports, events = sync_phones(copy_phones("ssl"), ["--service-ssl", "--latency", "10ms"],
                                      binary_path=strace_jetsamd(
                                          os.path.join(root, "jetsamd-strace"), trace))
check_eq(reports, reports0, "reports per phone = without service SSL")
check_eq(events, events0, "events = without service SSL")
with open("/proc/%d/task/%d/children" % (jd.pid, jd.pid)) as f:
    children = [int(x) for x in f.read().split()]
check_eq(len(children), 1, "strace runs one jetsamd")
os.kill(children[0], signal.SIGTERM)
check_eq(jd.stop(timeout=30), 0, "jetsamd exit status under strace")
check_eq(ds.stop(), 0, "devsim exit status")
log = ds.stderr_text()
check("tls failed" not in log and "error:" not in log, "devsim logged no error:\n%s" % log[-3000:])
for u, ver in ((A, "TLSv1.3"), (B, "TLSv1")):
    for svc, kind in (("com.apple.crashreportmover", "mover"),
                      ("com.apple.crashreportcopymobile", "afc")):
        started = len(re.findall(r"lockdown %s: start service %s port \d+ ssl\n" % (u, svc), log))
        tls = len(re.findall(r"conn \d+ %s %s: service tls %s\n" % (kind, u, re.escape(ver)), log))
        # first sync and re-sync: at least two of each, and a TLS session on every one
        check(started >= 2 and tls == started,
              "%s %s: %d StartService with EnableServiceSSL, %d %s sessions" % (u, kind, started,
                                                                             tls, ver))
with open(trace, errors="replace") as f:
    check(re.search(r"execve\(\"[^\"]*jetsamd\"", f.read()) is not None,
          "the trace covers jetsamd (its execve is in it)")
bad = long_sleeps(trace)
if bad:
    fail("jetsamd slept 100 ms or more %d time(s):\n%s" % (len(bad), "\n".join(bad[:10])))

# the unmodified library: idevicecrashreport -k through service SSL, and without it
peer = shutil.which("idevicecrashreport")
if not peer:
    print("ok (idevicecrashreport not installed: the peer part is skipped)")
    sys.exit(0)
dirs = copy_phones("peer")
ds = harness.Devsim(phones_dirs=dirs).start(args=["--service-ssl", "--latency", "10ms"])
check_eq(ds.ctl("set %s service-ssl maybe" % A)[-1],
         "error: service-ssl must be on or off, not 'maybe'", "set service-ssl: bad value")
sleeps = {}
for mode in ("on", "off"):
    for u, d in zip((A, B), dirs):
        check_eq(ds.ctl("set %s service-ssl %s" % (u, mode))[-1], "ok", "set service-ssl")
        out = os.path.join(root, "peer-out-%s-%s" % (mode, u))
        os.mkdir(out)
        ptrace = os.path.join(root, "peer-%s-%s.trace" % (mode, u))
        p = subprocess.run(strace_argv(ptrace) + [peer, "-k", "-u", u, out], env=ds.env,
                           capture_output=True, timeout=120)
        check_eq(p.returncode, 0, "idevicecrashreport -k (service-ssl %s, %s): %s"
                 % (mode, u, p.stderr[-500:]))
        # idevicecrashreport strips ".synced" (jetsamgen's copies of reports it also keeps)
        got = tree_files(out, base=".")
        want = {(k[:-len(".synced")] if k.endswith(".synced") else k): v
                for k, v in sorted(tree_files(d).items())}
        check(got == want, "idevicecrashreport's copy = the phone's tree (service-ssl %s, %s): "
              "missing %r, extra %r, different %r" % (
                  mode, u, sorted(set(want) - set(got)), sorted(set(got) - set(want)),
                  sorted(k for k in set(got) & set(want) if got[k] != want[k])))
        sleeps[(mode, u)] = len(long_sleeps(ptrace))
for u in (A, B):
    check(sleeps[("on", u)] >= 3 and sleeps[("on", u)] > sleeps[("off", u)],
          "idevicecrashreport's 100 ms handshake sleeps with service SSL (lockdown, mover, AFC) "
          "and without: %r" % sleeps)
log = ds.stderr_text()
check("tls failed" not in log and "error:" not in log, "devsim logged no error:\n%s" % log[-3000:])
check_eq(len(re.findall(r": service tls TLSv1(\.3)?\n", log)), 4,
         "one TLS session per mover and AFC connection of the two ssl runs")
check_eq(ds.stop(), 0, "devsim exit status (peer)")
print("ok: %d + %d reports once each, same events as without service SSL, TLS on every mover "
      "and AFC connection, no 100 ms sleep in jetsamd; idevicecrashreport -k: %r"
      % (len(reports[A]), len(reports[B]), sleeps))
