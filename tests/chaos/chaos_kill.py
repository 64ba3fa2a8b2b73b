# chaos_kill.py: kill -9 x20 during a 300-report sync and during reparse: 0 lost, 0 doubled (Must show 1)
"""jetsamd syncs a 300-report phone (every AFC reply delayed 2 ms by devsim's `stall 2`, so
the sync takes seconds) and is killed with SIGKILL at a random point 20 times, restarted each
time on the same state dir; then it finishes. When everything is stored before the 20th kill
(progress is kept), 15 new reports appear on the phone so that every kill hits a sync. The stored reports and events must equal what
`jetsamctl parse` finds on the phone: none lost, none doubled, and no temp file left in
the archive. Then the same with `reparse`. CHAOS_SEED=N repeats a run's kill points."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (banner, daemon_keys, gen_phone_dir, harness, lost_doubled, must,
                          raw_request, scaled, sync_wait, tmp_files)  # noqa: E402
from devices_common import (daemon_events, expected_events, expected_from_trees,
                            gen_report)  # noqa: E402

UDID = "00008101-00000000000000A1"
REPORTS = scaled(300, 120)
KILLS = 20
REPARSE_KILLS = scaled(8, 4)
BATCH = 15  # reports added when everything is stored before the 20 kills are done


def status(jd):
    try:
        import json
        return json.loads(raw_request(jd.socket, {"cmd": "status"}, timeout=5))["result"]
    except Exception as e:  # a busy daemon: say so, the run goes on
        return {"reports": "?(%s)" % type(e).__name__}


def check_store(jd, truth, phone_events, label):
    keys = daemon_keys(jd.socket)
    lost, doubled = lost_doubled(truth, keys)
    print("%s: %d reports on the phone, %d stored: lost %d, doubled %d" % (
        label, len(truth), len(keys), lost, doubled))
    must(lost == 0 and doubled == 0, "%s: 0 lost, 0 doubled reports" % label,
         "lost %d, doubled %d" % (lost, doubled))
    got = daemon_events(jd)
    missing = len(phone_events) - sum(1 for e in phone_events if e in set(got))
    print("%s: %d events expected, %d stored, %d missing" % (label, len(phone_events), len(got),
                                                            missing))
    must(sorted(got, key=repr) == phone_events, "%s: the events equal the phone's" % label,
         "%d stored, %d expected, %d missing" % (len(got), len(phone_events), missing))


def main():
    seed = int(os.environ.get("CHAOS_SEED") or time.time())
    rng = random.Random(seed)
    banner("chaos-kill", "%d x kill -9 during a %d-report sync, %d during reparse (seed %d)"
           % (KILLS, REPORTS, REPARSE_KILLS, seed))
    ds = harness.Devsim()
    phone = gen_phone_dir(ds.dir, "p300", UDID, reports=REPORTS, seed=7)
    ds.start(phones_dirs=[phone])
    ds.ctl_ok("fault %s stall 2" % UDID)
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={"resync_interval": "60s"})
    try:
        t_all = time.monotonic()
        during = 0
        during, total, added = 0, REPORTS, 0
        for i in range(KILLS):
            with open(jd.log, "wb"):
                pass  # one log per run: the download count below is this run's
            jd.start(timeout=30)
            st = status(jd)
            stored = st.get("reports") if isinstance(st.get("reports"), int) else 0
            if stored >= total:
                # all stored already (progress is kept): new reports, so this kill hits a sync
                for k in range(BATCH):
                    gen_report(os.path.join(phone, "CrashReporter", "JetsamEvent-new-%d-%d.ips"
                                            % (i, k)), seed=1000 + 100 * i + k)
                total += BATCH
                added += BATCH
                jd.ctl("sync", UDID, timeout=10)
            left = total - stored
            # a random point of this run's sync: after `target` downloads (target = left:
            # everything downloaded, while it is stored)
            target = left if rng.random() < 0.25 else rng.randint(0, left)
            t0 = time.monotonic()

            def reached():
                log = jd.stderr_text()
                return log.count("downloaded '") >= target and (target > 0 or
                                                                 time.monotonic() - t0 > 0.05)
            harness.wait_until(reached, timeout=20, interval=0.005, what=False)
            time.sleep(rng.uniform(0, 0.05))
            n = jd.stderr_text().count("downloaded '")
            jd.kill()
            during += 1 if n < left else 0
            print("kill %2d: %.2f s after READY, %d of %d downloaded (target %d, stored %s of %d)"
                  % (i + 1, time.monotonic() - t0, n, left, target, st.get("reports"), total),
                  flush=True)
        print("kills before the last download: %d, after it (while storing): %d; %d reports "
              "added on the way" % (during, KILLS - during, added))
        jd.start(timeout=30)
        t0 = time.monotonic()
        ds.ctl_ok("fault %s clear" % UDID)
        reports = expected_from_trees([phone])  # the phone's final files
        truth = {k: r["udid"] for k, r in reports.items()}
        phone_events = expected_events(reports)
        st = sync_wait(jd.socket, UDID, timeout=180)
        print("final sync: %.1f s, state %s, %s new; all rounds %.1f s" % (
            time.monotonic() - t0, st.get("state"), st.get("new_reports"),
            time.monotonic() - t_all))
        check_store(jd, truth, phone_events, "after %d kills during sync" % KILLS)
        tmp = tmp_files(jd.state_dir)
        print("temp files under the state dir: %d %s" % (len(tmp), tmp[:5]))
        must(not tmp, "no stray temp file is left in the archive", "%d: %s" % (len(tmp),
                                                                               tmp[:3]))
        # reparse, killed at random points
        for i in range(REPARSE_KILLS):
            c = harness.Client(jd.socket, timeout=60)
            c.send({"id": 1, "cmd": "reparse"})
            delay = rng.uniform(0.02, 0.6)
            time.sleep(delay)
            jd.kill()
            c.close()
            print("reparse kill %d: %.2f s after the request" % (i + 1, delay), flush=True)
            jd.start(timeout=30)
        t0 = time.monotonic()
        with harness.Client(jd.socket, timeout=180) as c:
            r = c.call("reparse")
        print("final reparse: %.1f s: %s" % (time.monotonic() - t0, r))
        check_store(jd, truth, phone_events, "after %d kills during reparse" % REPARSE_KILLS)
        tmp = tmp_files(jd.state_dir)
        must(not tmp, "no stray temp file after the reparse kills", "%d: %s" % (len(tmp),
                                                                                tmp[:3]))
        must(jd.running(), "jetsamd runs at the end", "running=%s" % jd.running())
    finally:
        if jd.running():
            jd.stop(timeout=30)
        ds.cleanup()
    harness.finish("chaos-kill")


if __name__ == "__main__":
    main()
