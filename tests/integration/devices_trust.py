# devices_trust.py: issue 4 must-show 4: locked / pending / denied phones, synced once usable
from devices_common import (check, check_eq, gen_phone, harness, keys_of, start, wait_states)

root = harness.tmpdir("jt-dv4-")
L = "00008101-0000000000000A41"  # paired, passcode locked
P = "00008101-0000000000000B42"  # pairing dialog pending
D = "00008101-0000000000000C43"  # pairing denied
U = "00008101-0000000000000D44"  # never paired: the pair request makes it pending
OK = "00008101-0000000000000E45"
phones = [
    gen_phone(root, "l", L, "iPhone13,2", "15.5", "19F77", reports=2, seed=41, locked=True),
    gen_phone(root, "p", P, "iPhone13,2", "15.5", "19F77", reports=3, seed=42, trust="pending"),
    gen_phone(root, "d", D, "iPhone14,2", "16.0", "20A362", reports=4, seed=43, trust="denied"),
    gen_phone(root, "u", U, "iPhone14,2", "16.0", "20A362", reports=1, seed=44,
              trust="unpaired"),
    gen_phone(root, "ok", OK, "iPhone14,2", "16.0", "20A362", reports=2, seed=45),
]
ds, jd = start(phones, extra_config={"retry_min": "1s", "retry_max": "2s"})

d = wait_states(jd, {L: "locked", P: "untrusted", D: "untrusted", U: "untrusted", OK: "idle"},
                timeout=30, what="locked/untrusted states")
check_eq(d[P]["error"], "pairing pending", "pending phone's error")
check_eq(d[D]["error"], "pairing denied", "denied phone's error")
check_eq(d[U]["error"], "pairing pending", "unpaired phone's error (pair request pending)")
check(d[L]["error"] and "locked" in d[L]["error"], "locked phone's error: %r" % d[L]["error"])
for u in (L, P, D, U):
    check_eq(d[u]["attached"], True, "%s attached" % u)
    check_eq(keys_of(jd, u), [], "%s: nothing pulled while unusable" % u)
check_eq(len(keys_of(jd, OK)), 2, "healthy phone synced meanwhile")

# still in those states after a few retries (no flapping into idle)
d = wait_states(jd, {L: "locked", P: "untrusted", D: "untrusted"}, timeout=5)
retries = jd.stderr_text().count("'%s': next try in" % D)

ds.control("set %s locked off" % L)
ds.control("set %s trust paired" % P)
ds.control("set %s trust paired" % D)
ds.control("set %s trust paired" % U)
d = wait_states(jd, {L: "idle", P: "idle", D: "idle", U: "idle"}, timeout=20,
                what="phones synced by themselves once usable")
for u, n in ((L, 2), (P, 3), (D, 4), (U, 1)):
    check_eq(len(keys_of(jd, u)), n, "%s reports once usable" % u)
    check_eq(d[u]["error"], None, "%s error cleared" % u)

check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: locked/pending/denied/unpaired recovered by themselves (%d retries of the denied one)"
      % retries)
