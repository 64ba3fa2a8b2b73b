# chaos_disk.py: a full disk mid-sync: jetsamd survives, keeps what it stored, recovers with nothing lost
"""The state dir lives on a 10 MiB tmpfs; the phone holds ~14 MB of reports, so the disk fills
partway through the sync. jetsamd must keep running and answering, keep the reports it
finished (an interrupted sync keeps its progress), and after the tmpfs grows and a new sync
hold every report once with no temp file left. Skipped when tmpfs cannot be mounted."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (banner, daemon_keys, gen_phone_dir, harness, lost_doubled, must,
                          status_once, sync_wait, tmp_files, truth_keys)  # noqa: E402

UDID = "00008101-00000000000000C7"


def mount(args):
    return subprocess.run(["mount"] + args, capture_output=True, timeout=30)


def main():
    banner("chaos-disk", "the state dir's disk fills in the middle of a sync")
    mnt = harness.tmpdir("jt-disk-")
    r = mount(["-t", "tmpfs", "-o", "size=10m,mode=0755", "tmpfs", mnt]) \
        if os.geteuid() == 0 else None
    if r is None or r.returncode != 0:
        print("SKIP: cannot mount a tmpfs (%s)" % (r.stderr.decode().strip() if r else
                                                   "not root"))
        sys.exit(harness.SKIP)
    # fail() ends the test with os._exit: unmount first, on every path
    harness.on_fail(lambda: subprocess.run(["umount", "-l", mnt], capture_output=True,
                                           timeout=30))
    ds = jd = None
    try:
        ds = harness.Devsim()
        phone = gen_phone_dir(ds.dir, "full", UDID, reports=60, seed=71)
        truth = truth_keys([phone])
        size = sum(os.path.getsize(os.path.join(dp, n)) for dp, _d, fs in
                   os.walk(os.path.join(phone, "CrashReporter")) for n in fs)
        print("phone: %d reports, %.1f MB; state dir on a 10 MiB tmpfs" % (len(truth),
                                                                          size / 1e6))
        ds.start(phones_dirs=[phone])
        jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, state_dir=os.path.join(mnt, "state"),
                             extra_config={"resync_interval": "60s"})
        jd.start()
        st = sync_wait(jd.socket, UDID)
        df = os.statvfs(mnt)
        stored = len(daemon_keys(jd.socket))
        print("sync on the full disk: state %s, error %r; %d of %d stored; %d KiB free" % (
            st.get("state"), (st.get("error") or "")[:160], stored, len(truth),
            df.f_bavail * df.f_frsize // 1024))
        lat = status_once(jd.socket)
        must(jd.running() and lat < 1.0, "jetsamd runs and answers on a full disk",
             "running=%s, status %.1f ms" % (jd.running(), lat * 1000))
        must(stored > 0, "what was stored before the disk filled is kept",
             "%d of %d" % (stored, len(truth)))
        r = mount(["-o", "remount,size=256m", mnt])
        harness.check(r.returncode == 0, "remount: %s" % r.stderr.decode())
        t0 = time.monotonic()
        st = sync_wait(jd.socket, UDID)
        lost, doubled = lost_doubled(truth, daemon_keys(jd.socket))
        print("after the disk grew: sync %.1f s, state %s; lost %d, doubled %d" % (
            time.monotonic() - t0, st.get("state"), lost, doubled))
        must(lost == 0 and doubled == 0, "after space returns: 0 lost, 0 doubled",
             "lost %d, doubled %d" % (lost, doubled))
        rc = jd.stop(timeout=30)
        jd.start()  # a restart sweeps what a failed write left
        tmp = tmp_files(jd.state_dir)
        must(not tmp, "no temp file is left in the state dir", "%d: %s" % (len(tmp), tmp[:3]))
        must(rc == 0, "jetsamd exits 0", rc)
        jd.stop(timeout=30)
    finally:
        if jd is not None and jd.running():
            jd.kill()
        if ds is not None:
            ds.cleanup()
        subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
    harness.finish("chaos-disk")


if __name__ == "__main__":
    main()
