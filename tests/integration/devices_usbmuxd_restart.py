# devices_usbmuxd_restart.py: issue 4 must-show 6: usbmuxd (devsim) killed and restarted
import os
import time

from devices_common import (check, check_eq, gen_phone, gen_report, harness, keys_of, start,
                            wait_states, wait_until)

root = harness.tmpdir("jt-dv6-")
A = "00008101-0000000000000A61"
B = "00008101-0000000000000B62"
pa = gen_phone(root, "a", A, "iPhone13,2", "15.5", "19F77", reports=3, seed=61)
pb = gen_phone(root, "b", B, "iPhone14,7", "16.3", "20D47", reports=2, seed=62)


def devsim_restart(ds):
    """Start devsim again; after a SIGKILL the old socket files exist: wait until it answers."""
    ds.start()

    def answers():
        try:
            ds.control("set no-such-phone locked off")
        except harness.DevsimError:
            return True  # it answered (with "error: no phone ...")
        except OSError:
            return False
        return True
    wait_until(answers, timeout=10, what="devsim control socket")


def usbmuxd_connected(jd):
    with jd.client() as c:
        return c.call("status")["usbmuxd"]["connected"]


ds, jd = start([pa], extra_config={"resync_interval": "60s"})
pid = jd.pid
wait_states(jd, {A: "idle"})
check_eq(usbmuxd_connected(jd), True, "usbmuxd connected at start")

# 1. SIGKILL: the socket file stays behind; the new devsim replaces it
ds.kill()
wait_states(jd, {A: "detached"}, timeout=10, what="A detached after devsim was killed")
wait_until(lambda: not usbmuxd_connected(jd), timeout=10, what="usbmuxd reported gone")
inc1 = gen_report(os.path.join(pa, "CrashReporter", "JetsamEvent-2032-01-01-000001.ips"), 601)
time.sleep(1)
devsim_restart(ds)
wait_states(jd, {A: "idle"}, timeout=20, what="A synced again after devsim restart")
wait_until(lambda: "incident:" + inc1 in keys_of(jd, A), timeout=10, what="new report")
check(usbmuxd_connected(jd), "usbmuxd connected again")

# 2. SIGTERM (socket removed), back after 3 s: found again (socket watch + backoff)
check_eq(ds.stop(), 0, "devsim exit status")
wait_states(jd, {A: "detached"}, timeout=10)
time.sleep(3)
inc2 = gen_report(os.path.join(pa, "CrashReporter", "JetsamEvent-2032-01-01-000002.ips"), 602)
devsim_restart(ds)
wait_states(jd, {A: "idle"}, timeout=20, what="A synced after devsim came back")
wait_until(lambda: "incident:" + inc2 in keys_of(jd, A), timeout=10, what="second new report")

# 3. a restart while no phone is attached (no removal event at all), then a hot attach
ds.control("detach " + A)
wait_states(jd, {A: "detached"})
ds.kill()
devsim_restart(ds)
ds.control("attach " + pb)
wait_states(jd, {B: "idle"}, timeout=20, what="B attached to the restarted devsim (no phones)")
check_eq(len(keys_of(jd, B)), 2, "B's reports")

check_eq(jd.pid, pid, "jetsamd was not restarted")
check(jd.running(), "jetsamd still running")
check_eq(jd.stop(), 0, "jetsamd exit status")
check_eq(ds.stop(), 0, "devsim exit status")
print("ok: re-subscribed after SIGKILL, SIGTERM and an empty restart")
