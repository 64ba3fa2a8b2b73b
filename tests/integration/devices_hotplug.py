# devices_hotplug.py: issue 4 must-show 2: hot attach, sync on request and by itself, detach
import os
import time

from devices_common import (check, check_eq, daemon_reports, devices, gen_phone, gen_report,
                            harness, keys_of, reload, start, sync_wait, wait_states,
                            wait_until)

root = harness.tmpdir("jt-dv2-")
A = "00008101-0000000000000A21"
B = "00008030-0000000000000B22"
pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=3, seed=21)
pb = gen_phone(root, "b", B, "iPhone12,1", "16.1", "20B82", reports=4, pending=2, seed=22)

# live detection off: a report dropped into pending/ makes devsim log it, and a sync that
# live detection starts could store it before step 2's `sync --wait` asks (new_reports 0).
# Here the syncs are the ones asked for and the resync timer's; devices-live tests the other.
ds, jd = start([pa], extra_config={"resync_interval": "60s", "live_detection": "no"})
wait_states(jd, {A: "idle"})
check_eq(len(keys_of(jd, A)), 3, "reports of A after start")
check(B not in devices(jd), "B is unknown before it is attached")

# 1. hot attach: B (with two reports still in pending/, moved by crashreportmover) is synced
ds.control("attach " + pb)
d = wait_states(jd, {B: "idle"}, what="hot-attached B idle")
check_eq(d[B]["attached"], True, "B attached")
check_eq(len(keys_of(jd, B)), 6, "reports of B (4 + 2 moved from pending/)")

# 2. a report dropped into pending/ arrives after `jetsamctl sync --wait` (resync is 60 s)
inc1 = gen_report(os.path.join(pa, "pending", "JetsamEvent-2030-01-01-000001.ips"), seed=201)
check("incident:" + inc1 not in keys_of(jd, A), "new report not there before the sync")
res = sync_wait(jd, A)
check_eq((res[A]["state"], res[A]["new_reports"], res[A]["error"]), ("idle", 1, None),
         "sync --wait result for A")
check("incident:" + inc1 in keys_of(jd, A), "new report stored after sync --wait")

# 3. ... and by itself within resync_interval (2 s after a SIGHUP reload)
reload(jd, resync_interval="2s")  # re-arms the idle phone's timer
inc2 = gen_report(os.path.join(pa, "pending", "Sub", "JetsamEvent-2030-01-01-000002.ips"),
                  seed=202)
t0 = time.monotonic()
wait_until(lambda: "incident:" + inc2 in keys_of(jd, A), timeout=10, interval=0.1,
           what="report dropped into pending/ to arrive by itself")
dt = time.monotonic() - t0
check(dt < 2.0 + 3.0, "arrived by itself after %.1f s, resync_interval is 2 s" % dt)
check(not os.listdir(os.path.join(pa, "pending")) or
      not os.path.exists(os.path.join(pa, "pending", "Sub", "JetsamEvent-2030-01-01-000002.ips")),
      "the mover moved the pending report")

# 4. detach: state detached, data stays queryable
before = keys_of(jd, A)
n_events = len(jd.ctl_json("events", "--udid", A, "--limit", "100000")["events"])
ds.control("detach " + A)
d = wait_states(jd, {A: "detached"}, what="A detached")
check_eq(d[A]["attached"], False, "A attached flag after detach")
# B resyncs every 2 s, so its state at one instant is idle or syncing: assert what is stable
check(d[B]["attached"] and d[B]["state"] in ("idle", "syncing"),
      "B unaffected by A's detach: attached %r, state %r" % (d[B]["attached"], d[B]["state"]))
check_eq(len(keys_of(jd, B)), 6, "reports of B after A's detach")
check_eq(keys_of(jd, A), before, "A's reports after detach")
check_eq(len(jd.ctl_json("events", "--udid", A, "--limit", "100000")["events"]), n_events,
         "A's events after detach")
rc, out, err = jd.ctl("sync", A)
check(rc != 0 and "not" in (out + err).lower(), "sync of a detached phone fails: rc %d %r"
      % (rc, out + err))

# 5. detached in the middle of a (slow) sync: its waiter hears "detached", the stale result
#    is dropped, a re-attach syncs it whole. The detach closes the phone's connections and
#    sends usbmuxd's Detached event: if the worker's "connection lost" result reaches the loop
#    before that event, the reports it pulled whole before the cut are stored (the phone is
#    not known to be gone yet); otherwise the result is dropped as stale. Either is right as
#    long as nothing is half-stored, lost or counted twice, which is what is asserted.
S = "00008101-0000000000000C23"
ps = gen_phone(root, "s", S, "iPhone13,2", "15.5", "19F77", reports=15, seed=23)
ds.control("attach " + ps)
ds.control("fault %s stall 200" % S)  # a whole sync takes > 15 s
wait_states(jd, {S: "syncing"}, what="S syncing")
with jd.client() as c:
    c.send({"id": 7, "cmd": "sync", "udid": S, "wait": True})
    time.sleep(0.3)
    ds.control("detach " + S)
    r = c.reply(7)
check(r.get("ok"), "waited sync reply: %r" % r)
check_eq([(x["udid"], x["state"]) for x in r["result"]["synced"]], [(S, "detached")],
         "waited sync of a phone detached meanwhile")
wait_states(jd, {S: "detached"})
cut = {r["key"]: r for r in daemon_reports(jd, S)}
check(len(cut) < 15, "the detach cut the sync short: %d of 15 reports stored" % len(cut))
check(all(r["status"] == "ok" for r in cut.values()),
      "reports stored from the cut sync are whole: %r" % [r["status"] for r in cut.values()])
ds.control("attach " + ps)
ds.control("fault %s clear" % S)
wait_states(jd, {S: "idle"}, what="S idle after re-attach")
after = daemon_reports(jd, S)
check_eq(len(after), 15, "S's reports after re-attach")
check_eq(len({r["key"] for r in after}), 15, "no report of S stored twice")
check(set(cut) <= {r["key"] for r in after}, "reports stored from the cut sync kept")

check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: pending report arrived by itself after %.1f s" % dt)
