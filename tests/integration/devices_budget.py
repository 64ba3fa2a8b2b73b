# devices_budget.py: issue 11 must-shows 4 and 5: SIGTERM with a stalled phone exits 0 in <= 5 s
# and loses no report; an endlessly deep tree or too many entries end that phone's sync in
# error at its budget while another phone keeps syncing; a stalled sync ends at sync_timeout
import json
import os
import time

from devices_common import (check, check_eq, expected_from_trees, gen_phone, harness, keys_of,
                            reload, wait_states)


def sync_wait(jd):
    """sync --wait of every phone; exits 1 when a phone fails, which is expected here."""
    rc, out, err = jd.ctl("--json", "sync", "--wait", timeout=90)
    check(rc in (0, 1), "sync --wait: rc %d: %s" % (rc, err))
    return {s["udid"]: s for s in json.loads(out)["synced"]}

root = harness.tmpdir("jt-budget-")
A = "00008101-0000000000000B41"
B = "00008101-0000000000000B42"
C = "00008101-0000000000000B43"

# ---- must-show 4: SIGTERM while a phone stalls mid-sync ----
pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=4, seed=41)
ds = harness.Devsim(phones_dirs=[pa]).start()
ds.control("fault %s stall 60000" % A)  # every AFC reply 60 s late: past libimobiledevice's 30 s
jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={"resync_interval": "60s"}).start()
wait_states(jd, {A: "syncing"}, timeout=20, what="a sync of the stalled phone")
time.sleep(1.0)  # the worker is now blocked in an AFC read
t0 = time.monotonic()
rc = jd.stop(timeout=30)
took = time.monotonic() - t0
print("SIGTERM with a stalled phone: exit %s in %.2f s" % (rc, took))
check_eq(rc, 0, "exit code after SIGTERM with a stalled phone")
check(took <= 5.0, "stopped within 5 s with a stalled phone (took %.2f s)" % took)

# nothing is lost: without the stall, the next start pulls every report once
ds.control("fault %s clear" % A)
jd.start()
wait_states(jd, {A: "idle"}, timeout=30, what="idle after the restart")
check_eq(keys_of(jd, A), sorted(expected_from_trees([pa])), "every report once after restart")
jd.stop()

# a slow phone (every AFC reply 300 ms late) stopped mid-sync keeps the reports it finished
ds.control("fault %s stall 300" % A)
jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, state_dir=os.path.join(root, "state-slow"),
                     extra_config={"resync_interval": "60s"}).start()
wait_states(jd, {A: "syncing"}, timeout=20, what="a sync of the slow phone")
time.sleep(4.5)
t0 = time.monotonic()
rc = jd.stop(timeout=30)
took = time.monotonic() - t0
kept = jd.stderr_text().count("pulled report(s) kept")
print("SIGTERM mid-sync of a slow phone: exit %s in %.2f s, kept-at-stop lines: %d"
      % (rc, took, kept))
check_eq(rc, 0, "exit code after SIGTERM mid-sync")
check(took <= 5.0, "stopped within 5 s mid-sync (took %.2f s)" % took)
# without usbmuxd: what the store holds is what the cut sync finished
offline = harness.Jetsamd(state_dir=jd.state_dir).start()
n_kept = len(keys_of(offline, A))
offline.stop()
print("reports kept from the cut sync: %d of 4" % n_kept)
check(1 <= n_kept < 4, "the cut sync kept the reports it finished (%d)" % n_kept)
ds.control("fault %s clear" % A)
jd.start()
wait_states(jd, {A: "idle"}, timeout=30, what="idle after the restart")
check_eq(keys_of(jd, A), sorted(expected_from_trees([pa])), "every report once after the cut")
jd.stop()
ds.stop()

# ---- must-show 5: an endlessly deep tree (a real one, 200 levels) next to a normal phone ----
pb = gen_phone(root, "b", B, "iPhone13,2", "15.5", "19F77", reports=2, seed=42)
pc = gen_phone(root, "c", C, "iPhone12,1", "16.1", "20B82", reports=3, seed=43)
deep = os.path.join(pb, "CrashReporter")
for i in range(200):
    deep = os.path.join(deep, "d")
os.makedirs(deep)
ds = harness.Devsim(phones_dirs=[pb, pc]).start()
jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={"resync_interval": "60s"}).start()
d = wait_states(jd, {B: "error", C: "idle"}, timeout=60, what="deep tree in error, C idle")
check("max_sync_depth" in (d[B]["error"] or ""), "deep tree error text: %r" % d[B]["error"])
print("deep tree: state %s, error %r" % (d[B]["state"], d[B]["error"]))
check_eq(keys_of(jd, C), sorted(expected_from_trees([pc])), "the other phone's reports")
check_eq(keys_of(jd, B), sorted(expected_from_trees([pb])), "the deep phone's own reports")
t0 = time.monotonic()
res = sync_wait(jd)
print("sync --wait with the deep tree: %.2f s" % (time.monotonic() - t0))
check_eq(res[B]["state"], "error", "sync --wait: deep phone state")
check_eq(res[C]["state"], "idle", "sync --wait: other phone state")

# the entry budget: 150 more files on B, a budget of 100 entries
flat = os.path.join(pb, "CrashReporter", "many")
os.makedirs(flat)
for i in range(150):
    with open(os.path.join(flat, "Other-%03d.ips" % i), "w") as f:
        f.write("x")
reload(jd, max_sync_entries="100")
res = sync_wait(jd)
check_eq(res[B]["state"], "error", "entry budget: state")
check("max_sync_entries" in (res[B].get("error") or ""), "entry budget error: %r" % res[B])
check_eq(res[C]["state"], "idle", "entry budget: other phone state")
jd.stop()

# ---- the deadline: a phone whose AFC replies hang ends at sync_timeout, not 30 s per reply --
ds.control("fault %s stall 60000" % C)
jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, state_dir=os.path.join(root, "state-dl"),
                     extra_config={"resync_interval": "60s", "sync_timeout": "10s",
                                   "mover_timeout": "1s"}).start()
t0 = time.monotonic()
d = wait_states(jd, {C: "error"}, timeout=60, what="the stalled sync ends at its deadline")
took = time.monotonic() - t0
print("stalled sync ended at its deadline after %.1f s: %r" % (took, d[C]["error"]))
check("sync_timeout" in (d[C]["error"] or ""), "deadline error text: %r" % d[C]["error"])
check(took <= 15.0, "the sync ended near its 10 s deadline (%.1f s)" % took)
jd.stop()
ds.stop()
harness.finish("devices-budget")
