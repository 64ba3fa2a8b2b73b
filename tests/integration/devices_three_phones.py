# devices_three_phones.py: issue 4 must-show 1: three phones pulled, each report once, = parse
import os

from devices_common import (check, check_eq, corpus_file, daemon_events, daemon_limits,
                            daemon_reports, expected_events, expected_from_trees,
                            expected_limits, gen_phone, harness, multi_phone_incidents,
                            parse_files, put, reload, start, sync_wait, wait_states)

root = harness.tmpdir("jt-dv1-")
A = "00008101-0000000000000A01"
B = "00008110-0000000000000B02"
C = "c0ffee0000000000000000000000000000000003"

pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=5, retired=True,
               synced=True, seed=11)
pb = gen_phone(root, "b", B, "iPhone14,5", "16.7.2", "20H115", reports=4, seed=12)
pc = gen_phone(root, "c", C, "iPhone10,6", "14.8", "18H17", reports=3, retired=True, seed=13)

# corpus reports that parse whole, in sub-folders; one of them also under Retired/ and with
# .synced (the same report three times on one phone), another on a second phone
good = []
for name in sorted(os.listdir(os.path.dirname(corpus_file("icdab-1.ips")))):
    if not name.endswith(".ips"):
        continue
    pr = parse_files([corpus_file(name)])[0]
    if pr.get("status") == "ok" and pr.get("events") and (pr.get("report") or {}).get("incident"):
        good.append(name)
    if len(good) == 4:
        break
check(len(good) == 4, "need 4 parseable corpus reports, found %r" % good)
put(pb, "Logs/deep/JetsamEvent-corpus-0.ips", src=corpus_file(good[0]))
put(pb, "Retired/JetsamEvent-corpus-0.ips", src=corpus_file(good[0]))
put(pb, "JetsamEvent-corpus-0.ips.synced", src=corpus_file(good[0]))
put(pc, "Sub/JetsamEvent-corpus-1.ips", src=corpus_file(good[1]))
put(pc, "Sub/Inner/JetsamEvent-corpus-2.ips", src=corpus_file(good[2]))
put(pa, "JetsamEvent-corpus-3.ips", src=corpus_file(good[3]))
put(pc, "Retired/JetsamEvent-corpus-3.ips.synced", src=corpus_file(good[3]))  # other phone
# not collected with collect = jetsam: other report kinds, and a symlink to a report
put(pa, "ExcUserFault_Lab-2024.ips", src=corpus_file(good[1]))
os.symlink("JetsamEvent-corpus-3.ips", os.path.join(pa, "CrashReporter", "JetsamEvent-link.ips"))

reports = expected_from_trees([pa, pb, pc])
want_events = expected_events(reports)
want_limits = expected_limits(reports)
check(len(reports) >= 12 + 4, "test set-up: expected at least 16 distinct reports, got %d"
      % len(reports))
check(len(multi_phone_incidents(reports)) == 1, "test set-up: one report on two phones")
check(any(len(r["paths"]) >= 3 for r in reports.values()),
      "test set-up: no report is present under three paths")

ds, jd = start([pa, pb, pc])
devs = wait_states(jd, {A: "idle", B: "idle", C: "idle"}, timeout=40)
for u, prod, build in ((A, "iPhone13,2", "19F77"), (B, "iPhone14,5", "20H115"),
                       (C, "iPhone10,6", "18H17")):
    check_eq((devs[u]["product"], devs[u]["build"], devs[u]["attached"]), (prod, build, True),
             "device %s identity" % u)

got_reports = daemon_reports(jd)
check_eq(sorted(r["key"] for r in got_reports), sorted(reports), "report keys (each once)")
check_eq(daemon_events(jd, multi_phone_incidents(reports)), want_events,
         "events (jetsamctl --json events vs parse)")
check_eq(daemon_limits(jd), want_limits, "limits (jetsamctl --json limits vs parse)")
# the symlink and the non-Jetsam report were not pulled
paths = {r["path"] for r in got_reports}
check(not any("link" in p or "ExcUserFault" in p for p in paths), "skipped files pulled: %r"
      % sorted(paths))

# collect = all (SIGHUP reload, then a waited sync of every phone): every regular report file,
# still each report once, still equal to parse
reload(jd, collect="all")
res = sync_wait(jd)
check_eq(sorted(res), sorted([A, B, C]), "waited sync of all phones")
check(all(r["state"] == "idle" for r in res.values()), "sync results: %r" % res)
all_reports = expected_from_trees([pa, pb, pc], collect_all=True)
check(len(all_reports) > len(reports), "test set-up: collect = all adds reports")
check_eq(sum(r["new_reports"] for r in res.values()), len(all_reports) - len(reports),
         "new reports with collect = all")
check_eq(sorted(r["key"] for r in daemon_reports(jd)), sorted(all_reports),
         "report keys with collect = all")
check_eq(daemon_events(jd, multi_phone_incidents(all_reports)), expected_events(all_reports),
         "events with collect = all")

check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: %d reports, %d events, %d limit rows" % (len(reports), len(want_events),
                                                    len(want_limits)))
