# chaos_shutdown.py: SIGTERM with a hung phone exits 0 in <= 5 s, nothing lost (Must show 4)
"""A phone hangs mid-file (devsim `stall-after`: the AFC connection goes silent after N
bytes), then at its first AFC reply (`stall forever`). Each time jetsamd gets SIGTERM while
it syncs that phone: it must exit 0 within 5 s; after a restart and a full sync every report
is stored once. Then a detach mid-file, and usbmuxd (devsim) killed mid-file and restarted:
the phone comes back and nothing is lost or doubled."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (banner, daemon_keys, gen_phone_dir, harness, lost_doubled, must,
                          sync_wait, truth_keys)  # noqa: E402

UDID = "00008101-00000000000000D4"
STOP_BOUND = 5.0
WAIT_BOUND = 15.0  # then SIGKILL: enough to tell a 5 s exit from libimobiledevice's 30 s


def sigterm_while_hung(ds, jd, phone, fault, truth, label):
    ds.ctl_ok("fault %s %s" % (UDID, fault))
    n0 = ds.stderr_text().count("fault: stalling after")
    jd.start()
    if fault.startswith("stall-after"):
        harness.wait_until(lambda: ds.stderr_text().count("fault: stalling after") > n0,
                           timeout=60, what="the phone to hang mid-file")
    else:
        harness.wait_until(lambda: "afc %s" % UDID in ds.stderr_text() or
                           "start service com.apple.crashreportcopymobile" in
                           ds.stderr_text(), timeout=60, what="the AFC connection")
    time.sleep(0.5)  # jetsamd is now blocked on the hung phone
    t0 = time.monotonic()
    jd.proc.send_signal(signal.SIGTERM)
    try:
        rc = jd.proc.wait(WAIT_BOUND)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    if rc is None:
        jd.kill()
    else:
        jd.stop()
    print("%s: SIGTERM -> %s after %.2f s" % (label, "exit %d" % rc if rc is not None else
                                               "still running (SIGKILL)", took))
    must(rc == 0 and took <= STOP_BOUND, "%s: SIGTERM exits 0 within %.0f s" % (
        label, STOP_BOUND), "exit %s after %.2f s" % (rc, took) if rc is not None else "no exit within %.0f s"
         % WAIT_BOUND)
    # the phone recovers: restart, full sync, every report once
    ds.ctl_ok("fault %s clear" % UDID)
    ds.ctl_ok("detach %s" % UDID)
    ds.ctl_ok("attach %s" % phone)
    jd.start()
    st = sync_wait(jd.socket, UDID)
    lost, doubled = lost_doubled(truth, daemon_keys(jd.socket))
    print("%s: after restart + sync (state %s): %d reports, lost %d, doubled %d" % (
        label, st.get("state"), len(truth), lost, doubled))
    must(lost == 0 and doubled == 0, "%s: no report lost or doubled" % label,
         "lost %d, doubled %d" % (lost, doubled))
    jd.stop()


def detach_mid_file(ds, jd, phone, truth):
    ds.ctl_ok("fault %s stall-after 700000" % UDID)
    n0 = ds.stderr_text().count("fault: stalling after")
    jd.start()
    harness.wait_until(lambda: ds.stderr_text().count("fault: stalling after") > n0,
                       timeout=60, what="the phone to hang mid-file")
    ds.ctl_ok("detach %s" % UDID)
    time.sleep(0.3)
    ds.ctl_ok("attach %s" % phone)
    ds.ctl_ok("fault %s clear" % UDID)
    st = sync_wait(jd.socket, UDID)
    lost, doubled = lost_doubled(truth, daemon_keys(jd.socket))
    print("detach mid-file: after re-attach + sync (state %s): lost %d, doubled %d" % (
        st.get("state"), lost, doubled))
    must(lost == 0 and doubled == 0, "detach mid-file: no report lost or doubled",
         "lost %d, doubled %d" % (lost, doubled))
    rc = jd.stop()
    must(rc == 0, "jetsamd exits 0 after the detach case", rc)


def usbmuxd_restart_mid_file(ds, jd, phone, truth):
    ds.ctl_ok("fault %s stall-after 900000" % UDID)
    n0 = ds.stderr_text().count("fault: stalling after")
    jd.start()
    harness.wait_until(lambda: ds.stderr_text().count("fault: stalling after") > n0,
                       timeout=60, what="the phone to hang mid-file")
    ds.kill()  # usbmuxd dies: every phone connection with it
    time.sleep(0.3)
    ds.start()
    ds.ctl_ok("fault %s clear" % UDID)
    harness.wait_until(lambda: sync_wait(jd.socket, UDID, timeout=60).get("state") == "idle",
                       timeout=90, interval=0.5, what=False)
    lost, doubled = lost_doubled(truth, daemon_keys(jd.socket))
    print("usbmuxd (devsim) killed mid-file and restarted: lost %d, doubled %d" % (lost,
                                                                                  doubled))
    must(lost == 0 and doubled == 0, "usbmuxd restart mid-file: no report lost or doubled",
         "lost %d, doubled %d" % (lost, doubled))
    rc = jd.stop()
    must(rc == 0, "jetsamd exits 0 after the usbmuxd restart", rc)


def main():
    banner("chaos-shutdown", "SIGTERM with a hung phone; detach mid-file")
    ds = harness.Devsim()
    phone = gen_phone_dir(ds.dir, "hung", UDID, reports=12, seed=41)
    truth = truth_keys([phone])
    ds.start(phones_dirs=[phone])
    try:
        for label, fault in (("mid-file", "stall-after 1500000"), ("stall", "stall forever")):
            jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd,
                                 extra_config={"resync_interval": "60s"})
            try:
                sigterm_while_hung(ds, jd, phone, fault, truth, label)
            finally:
                if jd.running():
                    jd.kill()
        for case in (detach_mid_file, usbmuxd_restart_mid_file):
            jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd,
                                 extra_config={"resync_interval": "60s"})
            try:
                case(ds, jd, phone, truth)
            finally:
                if jd.running():
                    jd.kill()
    finally:
        ds.cleanup()
    harness.finish("chaos-shutdown")


if __name__ == "__main__":
    main()
