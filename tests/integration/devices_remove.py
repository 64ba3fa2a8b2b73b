# devices_remove.py: issue 4 must-show 5: remove_after_pull removes exactly the stored reports
import os
import re

from devices_common import (check, check_eq, corpus_file, daemon_reports, expected_from_trees,
                            gen_phone, harness, is_jetsam_name, put, start, tree_files,
                            wait_states, wait_until)

root = harness.tmpdir("jt-dv5-")
A = "00008101-0000000000000A51"
B = "00008101-0000000000000B52"  # remove_after_pull must not touch a phone's other files
pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=6, retired=True,
               synced=True, seed=51)
pb = gen_phone(root, "b", B, "iPhone12,8", "15.4", "19E241", reports=2, seed=52)
put(pa, "Sub/JetsamEvent-corpus.ips", src=corpus_file("icdab-1.ips"))
put(pa, "ExcResource-memory.ips", src=corpus_file("icdab-1.ips"))   # not a JetsamEvent name
put(pa, "JetsamEvent-2024-01-01-000000.ips", data=b"")             # empty: not a report yet
os.symlink("Sub/JetsamEvent-corpus.ips", os.path.join(pa, "CrashReporter", "JetsamEvent-l.ips"))

before = {p: tree_files(d) for p, d in ((A, pa), (B, pb))}
want = expected_from_trees([pa, pb])
pulled = {p: {rel for rel, data in files.items() if is_jetsam_name(rel) and data}
          for p, files in before.items()}
check(len(pulled[A]) >= 8, "test set-up: %d Jetsam files on A" % len(pulled[A]))

ds, jd = start([pa, pb], extra_config={"remove_after_pull": "yes", "collect": "jetsam"})
wait_states(jd, {A: "idle", B: "idle"})
wait_until(lambda: "removed %d pulled report(s)" % len(pulled[A]) in jd.stderr_text(),
           timeout=10, what="removal on A")

reports = daemon_reports(jd)
stored = {r["key"] for r in reports}
check_eq(sorted(stored), sorted(want), "stored reports")
for p, d in ((A, pa), (B, pb)):
    after = tree_files(d)
    gone = set(before[p]) - set(after)
    check_eq(sorted(gone), sorted(pulled[p]), "%s: files removed from the phone" % p)
    for rel in gone:
        data = before[p][rel]
        k = [k for k, r in want.items() if (p, rel) in r["paths"]]
        check(len(k) == 1 and k[0] in stored, "%s: removed '%s' is a stored report" % (p, rel))
    for rel, data in after.items():
        check_eq(data, before[p][rel], "%s: '%s' kept intact" % (p, rel))
check(os.path.islink(os.path.join(pa, "CrashReporter", "JetsamEvent-l.ips")), "symlink kept")
check("JetsamEvent-2024-01-01-000000.ips" in tree_files(pa), "empty report file kept")
check("ExcResource-memory.ips" in tree_files(pa), "non-Jetsam report kept")
check(all(r["removed_from_device"] for r in reports),
      "every stored report is marked removed: %r" % [r["path"] for r in reports
                                                     if not r["removed_from_device"]])
# durability first: each removal job made the store durable (fsync, in its worker) before it
# removed its first file from the phone
log = jd.stderr_text().splitlines()
for p in (A, B):
    durable = [i for i, l in enumerate(log) if "fetch: %s: store durable before removal" % p in l]
    removed = [i for i, l in enumerate(log) if re.search(r"fetch: %s: removed '" % p, l)]
    check(durable and removed and durable[0] < removed[0],
          "%s: store made durable before the first removal (lines %r, %r)"
          % (p, durable[:1], removed[:1]))
# nothing is pulled twice: the next sync finds nothing new and removes nothing
res = jd.ctl_json("sync", A, "--wait")["synced"][0]
check_eq((res["state"], res["new_reports"]), ("idle", 0), "second sync")
check_eq(len(re.findall(r"fetch: \S+: removed '[^']+' from the device", jd.stderr_text())),
         len(pulled[A]) + len(pulled[B]),
         "removal log lines (no second removal)")

check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: removed %d + %d files, kept %d others" % (
    len(pulled[A]), len(pulled[B]), len(tree_files(pa)) + len(tree_files(pb))))
