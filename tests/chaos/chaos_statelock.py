# chaos_statelock.py: a second jetsamd on the same state dir exits 1 naming the holder (Must show 7)
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import banner, harness, must  # noqa: E402


def main():
    banner("chaos-statelock", "two daemons, one state dir, two sockets")
    first = harness.Jetsamd().start()
    second = harness.Jetsamd(state_dir=first.state_dir)  # own dir, config and socket
    try:
        t0 = time.monotonic()
        second.start(wait_ready=False)
        # it must exit; READY=1 (it runs beside the first) ends the wait early
        end = time.monotonic() + 10
        while second.proc.poll() is None and time.monotonic() < end and \
                not any(n.startswith("READY=1") for n in second.notifications):
            time.sleep(0.02)
        try:
            rc = second.proc.wait(0.2)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        log = second.stderr_text()
        lines = log.strip().splitlines() or ["(no output)"]
        named = [l for l in lines if str(first.pid) in l]
        last = (named or lines)[-1]
        print("second jetsamd: exit %s after %.2f s; %s: %s" % (
            rc, took, "the line naming the holder" if named else "its last log line",
            last[:300]))
        must(rc == 1, "the second jetsamd exits 1", "exit %s%s" % (
            rc, " (it runs: READY=1 or 10 s)" if rc is None else ""))
        must(str(first.pid) in log, "its message names the holder's pid %d" % first.pid,
             repr(last[:200]))
        must(first.running(), "the first jetsamd keeps running", "running=%s" % first.running())
        ok = harness.Client(first.socket).call("status")
        must(ok.get("pid") == first.pid, "the first one still answers status", ok.get("pid"))
    finally:
        if second.running():
            second.kill()
        first.stop()
    harness.finish("chaos-statelock")


if __name__ == "__main__":
    main()
