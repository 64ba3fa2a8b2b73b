# devices_restart.py: issue 4 must-show 3: restarts lose, duplicate and re-download nothing
import os
import time

from devices_common import (check, check_eq, daemon_events, daemon_limits, daemon_reports,
                            expected_events, expected_from_trees, expected_limits, gen_phone,
                            gen_report, harness, keys_of, multi_phone_incidents, start,
                            wait_states, wait_until)

root = harness.tmpdir("jt-dv3-")
A = "00008101-0000000000000A31"
B = "00008120-0000000000000B32"
C = "00008120-0000000000000C33"
pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=6, retired=True,
               synced=True, seed=31)
pb = gen_phone(root, "b", B, "iPhone15,2", "17.2", "21C62", reports=5, pending=1, seed=32)
pc = gen_phone(root, "c", C, "iPhone15,2", "17.2", "21C62", reports=12, seed=33)


def downloads(text):
    return [l for l in text.splitlines() if "fetch: " in l and ": downloaded '" in l]


def check_all(jd, phones, what):
    reports = expected_from_trees(phones)
    check_eq(keys_of(jd), sorted(reports), what + ": report keys (each once)")
    check_eq(daemon_events(jd, multi_phone_incidents(reports)), expected_events(reports),
             what + ": events")
    check_eq(daemon_limits(jd), expected_limits(reports), what + ": limits")
    return reports


ds, jd = start([pa, pb])
wait_states(jd, {A: "idle", B: "idle"})
r1 = check_all(jd, [pa, pb], "first run")
n_files = len(downloads(jd.stderr_text()))
check(n_files >= len(r1), "first run downloaded %d files for %d reports" % (n_files, len(r1)))

# restart with one new file on A: only that file is downloaded
log_at = len(jd.stderr_text())
check_eq(jd.stop(), 0, "jetsamd exit status")
inc = gen_report(os.path.join(pa, "CrashReporter", "JetsamEvent-2031-02-03-040506.ips"), 301)
jd.start()
wait_states(jd, {A: "idle", B: "idle"})
r2 = check_all(jd, [pa, pb], "after restart")
check_eq(len(r2), len(r1) + 1, "one more report after restart")
got = downloads(jd.stderr_text()[log_at:])
check_eq(len(got), 1, "files downloaded after restart (%r)" % got)
check("JetsamEvent-2031-02-03-040506.ips" in got[0], "the downloaded file is the new one")
check("incident:" + inc in keys_of(jd, A), "new report stored")

# a stop in the middle of a slow sync loses nothing either
ds.control("attach " + pc)
ds.control("fault %s stall 40" % C)
# each report is committed as soon as it is archived: what C delivered before the stop is
# stored while the sync is still under way, and kept (not downloaded again) after a restart
wait_until(lambda: len(keys_of(jd, C)) >= 1, timeout=20, interval=0.05,
           what="a first report of C stored while its sync is under way")
kept_paths = set(r["path"] for r in daemon_reports(jd, C))
kept = len(kept_paths)
log_at = len(jd.stderr_text())
t0 = time.monotonic()
check_eq(jd.stop(), 0, "jetsamd exit status when stopped mid-sync")
dt = time.monotonic() - t0
check(dt < 5, "stop mid-sync took %.1f s" % dt)
ds.control("fault %s clear" % C)
jd.start()
wait_states(jd, {A: "idle", B: "idle", C: "idle"}, timeout=40)
r3 = check_all(jd, [pa, pb, pc], "after a stop mid-sync")
again = [p for p in kept_paths if any("'%s'" % p in l for l in downloads(jd.stderr_text()[log_at:]))]
check_eq(again, [], "reports stored before the stop downloaded again")
check_eq(len(r3), len(r2) + 12, "all of C's reports after a stop mid-sync")

check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: first run %d downloads, restart 1 download, stop mid-sync took %.2f s "
      "(%d of C's reports kept from before the stop)" % (n_files, dt, kept))
