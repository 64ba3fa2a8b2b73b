# devices_fault.py: issue 4 must-show 7: a connection cut mid-file leaves no half report
import hashlib
import os
import re
import time

from devices_common import (check, check_eq, expected_from_trees, gen_phone, harness, keys_of,
                            reload, sync_wait, tree_files, wait_states)

root = harness.tmpdir("jt-dv7-")
A = "00008101-0000000000000A71"
pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=4, seed=71)
files = tree_files(pa)
sizes = sorted(len(v) for k, v in files.items() if k.startswith("JetsamEvent"))
check(len(sizes) == 4 and sizes[0] > 20000, "test set-up: report sizes %r" % sizes)
cut = sizes[0] + sizes[0] // 2  # past the first file, in the middle of the second one
whole = {hashlib.sha256(v).hexdigest() for v in files.values()}

ds = harness.Devsim(phones_dirs=[pa]).start()
ds.control("fault %s drop-after %d" % (A, cut))
jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd,
                     extra_config={"retry_min": "2s", "retry_max": "4s"}).start()

d = wait_states(jd, {A: "error"}, timeout=20, what="error state after the cut")
check("connection lost" in (d[A]["error"] or ""), "error message: %r" % d[A]["error"])
first = keys_of(jd, A)
check(1 <= len(first) < 4, "reports stored by the cut sync: %d" % len(first))


def archived():
    out = []
    top = os.path.join(jd.state_dir, "archive")
    for dirpath, _d, names in os.walk(top):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as f:
                out.append((n, hashlib.sha256(f.read()).hexdigest()))
    return out


for name, h in archived():
    check(name.startswith(h), "archive file %s holds other bytes (%s)" % (name, h))
    check(h in whole, "archive file %s is not a whole phone file" % name)
check_eq(len(archived()), len(first), "archive files after the cut sync")

# the retry (backoff 2 s) completes it: every report once, nothing half
d = wait_states(jd, {A: "idle"}, timeout=20, what="idle after the retry")
check_eq(d[A]["error"], None, "error cleared")
check_eq(keys_of(jd, A), sorted(expected_from_trees([pa])), "every report once after retry")
for name, h in archived():
    check(h in whole and name.startswith(h), "archive file %s after retry" % name)
check_eq(len(archived()), 4, "archive files after the retry")
for r in jd.client().call("reports", udid=A)["reports"]:
    check_eq(r["status"], "ok", "status of %s" % r["path"])

# crashreportmover faults: no ping (waits mover_timeout, then copies), closed at once (copies
# what is there; the pending reports come with the next sync)
reload(jd, mover_timeout="1s")
N = "00008101-0000000000000B72"
M = "00008101-0000000000000C73"
pn = gen_phone(root, "n", N, "iPhone13,2", "15.5", "19F77", reports=2, pending=1, seed=72)
pm = gen_phone(root, "m", M, "iPhone13,2", "15.5", "19F77", reports=2, pending=2, seed=73)
time.sleep(0.3)
ds.control("attach " + pn)
ds.control("fault %s mover none" % N)
ds.control("attach " + pm)
ds.control("fault %s mover close" % M)
d = wait_states(jd, {N: "idle", M: "idle"}, timeout=20, what="idle despite mover faults")
check_eq(len(keys_of(jd, N)), 3, "mover without ping: pending report moved and pulled")
check_eq(len(keys_of(jd, M)), 2, "mover closed at once: only the moved reports")
check(re.search(r"%s: crashreportmover sent no ping within 1000 ms" % N, jd.stderr_text()),
      "mover timeout logged")
ds.control("fault %s clear" % M)
res = sync_wait(jd, M)
check_eq((res[M]["state"], res[M]["new_reports"]), ("idle", 2), "sync after the mover is back")

check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: cut at %d bytes: %d report(s) kept whole, rest completed by the retry; mover faults"
      % (cut, len(first)))
