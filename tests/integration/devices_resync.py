# devices_resync.py: issue 12 row b: a re-sync lists directories and asks only about names its index does not know
"""A phone with reports at the top, under Retired/ and with .synced, a sub-directory, other
reports, an empty report and a symlink. After the first sync, one new report appears; the
re-sync (devsim --verbose logs every AFC request with its path) sends one READ_DIR per
directory and a GET_FILE_INFO for exactly the names the first sync did not pull (the new
report, the directories, what is not a JetsamEvent, the empty file, the link), pulls the
new report, and still counts the pulled ones as known."""
import os
import re

from devices_common import (check, check_eq, corpus_file, daemon_reports, gen_phone, harness,
                            is_jetsam_name, put, start, tree_files, wait_states)

root = harness.tmpdir("jt-dvrs-")
A = "00008101-0000000000000D81"
pa = gen_phone(root, "a", A, "iPhone13,2", "16.7.2", "20H115", reports=5, retired=True,
               synced=True, seed=81)
put(pa, "Sub/JetsamEvent-corpus.ips", src=corpus_file("icdab-1.ips"))
put(pa, "ExcResource-memory.ips", src=corpus_file("icdab-1.ips"))   # not a JetsamEvent name
put(pa, "JetsamEvent-2024-01-01-000000.ips", data=b"")             # empty: not a report yet
os.symlink("Sub/JetsamEvent-corpus.ips", os.path.join(pa, "CrashReporter", "JetsamEvent-l.ips"))
top = os.path.join(pa, "CrashReporter")


def phone_names():
    """Every path under CrashReporter/ (directories, files, links), relative."""
    out = set()
    for dirpath, dirs, files in os.walk(top):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(dirpath, n), top))
    return out


pulled = {rel for rel, data in tree_files(pa).items() if is_jetsam_name(rel) and data}
ds, jd = start([pa], verbose=True)
wait_states(jd, {A: "idle"})
n_first = len(daemon_reports(jd, A))
check(n_first >= 6, "first sync stored the reports (%d)" % n_first)

put(pa, "Retired/JetsamEvent-2025-02-02-020202.ips", src=corpus_file("icdab-2.ips"))
want_stat = phone_names() - pulled
dirs = {"."} | {rel for rel in phone_names() if os.path.isdir(os.path.join(top, rel))
                and not os.path.islink(os.path.join(top, rel))}
mark = len(ds.stderr_text())
res = jd.ctl_json("sync", A, "--wait")["synced"][0]
check_eq((res["state"], res["new_reports"]), ("idle", 1), "re-sync pulls the new report")
ops = re.findall(r"afc %s: op (\w+) packet \d+ ?(.*)" % A, ds.stderr_text()[mark:])
stat = sorted(p for op, p in ops if op == "GET_FILE_INFO")
listed = sorted(p or "." for op, p in ops if op == "READ_DIR")
check_eq(stat, sorted(want_stat), "the re-sync's file-info requests (only unknown names)")
check_eq(sorted(set(listed)), sorted(dirs), "directories listed")
check_eq(len(listed), len(dirs), "one listing per directory")
check_eq(len(daemon_reports(jd, A)), n_first + 1, "reports after the re-sync")
m = re.findall(r"'%s': sync \S+: \d+ pulled, \d+ new, (\d+) known" % A, jd.stderr_text())
check(m and int(m[-1]) == len(pulled), "the pulled files are known (log: %r, want %d)"
      % (m[-1:], len(pulled)))
check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: re-sync asked about %d of %d names, listed %d directories"
      % (len(stat), len(phone_names()), len(listed)))
