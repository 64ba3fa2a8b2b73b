# chaos_deep.py: an endlessly deep tree ends at the sync budget in state error; others go on (Must show 5)
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (banner, daemon_reports, gen_phone_dir, harness, must, rss_kib,
                          sync_wait, truth_keys)  # noqa: E402

DEEP = "00008101-00000000000000E5"
GOOD = "00008101-00000000000000E6"
FANOUT = 4       # endless for any depth cap too: 4^16 directories below level 16
BOUND = 90.0     # the sync budget (deadline or entry budget) must end the walk by then


def devices(jd):
    with harness.Client(jd.socket) as c:
        return {d["udid"]: d for d in c.call("devices")["devices"]}


def main():
    banner("chaos-deep", "a phone with an endless tree (fanout %d) and a healthy phone" % FANOUT)
    ds = harness.Devsim()
    deep = gen_phone_dir(ds.dir, "deep", DEEP, reports=3, seed=51)
    good = gen_phone_dir(ds.dir, "good", GOOD, reports=3, seed=52)
    ds.start(phones_dirs=[deep, good])
    ds.ctl_ok("fault %s deep-tree %d" % (DEEP, FANOUT))
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={"resync_interval": "60s"})
    try:
        t0 = time.monotonic()
        jd.start()
        # the healthy phone syncs while the deep one walks
        gk = set(truth_keys([good]))
        harness.wait_until(lambda: gk <= {r["key"] for r in daemon_reports(jd.socket)},
                           timeout=60, interval=0.2, what="the healthy phone's reports")
        t_good = time.monotonic() - t0
        print("healthy phone: %d reports stored after %.1f s" % (len(gk), t_good))
        # a new report on the healthy phone while the deep walk goes on arrives too
        new = os.path.join(good, "CrashReporter", "JetsamEvent-2026-12-01-120000.ips")
        with open(os.path.join(good, "CrashReporter", sorted(
                n for n in os.listdir(os.path.join(good, "CrashReporter"))
                if n.startswith("JetsamEvent"))[0]), "rb") as f:
            data = f.read()
        with open(new, "wb") as f:
            f.write(data.replace(b'"incident_id":"', b'"incident_id":"0', 1)
                    if b'"incident_id":"' in data else data + b"\n")
        gk = set(truth_keys([good]))
        t1 = time.monotonic()
        st = sync_wait(jd.socket, GOOD, timeout=60)
        got = {r["key"] for r in daemon_reports(jd.socket)}
        print("healthy phone re-synced in %.1f s (state %s), %d/%d reports" % (
            time.monotonic() - t1, st.get("state"), len(gk & got), len(gk)))
        must(gk <= got, "the other phone keeps syncing: its new report arrives",
             "%d of %d" % (len(gk & got), len(gk)))
        # the deep phone's sync must end at its budget, in state error
        last = {}

        def ended():
            last.update(devices(jd).get(DEEP, {}))
            return last.get("state") == "error"
        harness.wait_until(ended, timeout=max(1.0, BOUND - (time.monotonic() - t0)),
                           interval=0.5, what=False)
        took = time.monotonic() - t0
        print("deep phone after %.1f s: state %s, error %r" % (took, last.get("state"),
                                                             (last.get("error") or "")[:200]))
        must(last.get("state") == "error", "the deep tree's sync ends at its budget with state "
             "error within %.0f s" % BOUND, "state %s after %.1f s" % (last.get("state"), took))
        must(jd.running(), "jetsamd still runs", "running=%s" % jd.running())
        print("jetsamd VmRSS %s KiB" % rss_kib(jd.pid))
    finally:
        if jd.running():
            t = time.monotonic()
            rc = jd.stop(timeout=30)
            print("SIGTERM: exit %s after %.1f s" % (rc, time.monotonic() - t))
        ds.cleanup()
    harness.finish("chaos-deep")


if __name__ == "__main__":
    main()
