# chaos_notify.py: a service manager that reads nothing holds up no client; STATUS= is coalesced, lifecycle states are retried in order
"""jetsamd tells the service manager READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 and STATUS=
(counts) over NOTIFY_SOCKET, a datagram socket. When the manager reads nothing, the kernel
queues net.unix.max_dgram_qlen datagrams and a blocking send then waits until it reads: each
client that connects or leaves changes STATUS=, so a burst of clients once held the loop
there (chaos-clients: a new client's status took 102 ms in CI).

Here the NOTIFY_SOCKET's queue is full before jetsamd starts (datagrams of the test's own) and
read by nobody while CLIENTS clients come and go and a SIGHUP reloads: jetsamd must serve, and
every status answer in < BOUND. Then reading starts: RELOADING=1 and its
READY=1 arrive (retried in order, not lost), at most about one STATUS= a second reaches the
manager while clients keep coming, and the last STATUS= counts 0 clients once they are gone.
STOPPING=1 arrives at SIGTERM."""
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (NotifyListener, banner, harness, must, scaled, stats,  # noqa: E402
                          status_once)

CLIENTS = 300
BOUND = scaled(0.5, 1.0)  # a blocked send would wait until the test ends: any bound shows it
CHURN_S = 3.0
STATUS_INTERVAL_S = 1.0  # NOTIFY_STATUS_INTERVAL_MS


def wait_serving(jd, timeout=20):
    def up():
        if not jd.running():
            harness.fail("jetsamd exited:\n%s" % jd.stderr_text()[-2000:])
        try:
            status_once(jd.socket, timeout=2)
            return True
        except (OSError, EOFError, ValueError):
            return False
    harness.wait_until(up, timeout, what="jetsamd answering status")


def fill(path):
    """Queue datagrams of ours on path until the kernel refuses one: the queue is full."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n = 0
    try:
        while n < 100000:
            s.sendto(b"FILL=%d" % n, socket.MSG_DONTWAIT, path)
            n += 1
    except BlockingIOError:
        pass
    finally:
        s.close()
    return n


def manager_msgs(notify, status=False):
    """What jetsamd sent (our filler left out): the states, or the STATUS= lines."""
    return [m for _t, m in list(notify.msgs)
            if not m.startswith("FILL=") and m.startswith("STATUS=") == status]


def main():
    banner("chaos-notify", "a NOTIFY_SOCKET nobody reads; %d clients, a reload" % CLIENTS)
    jd = harness.Jetsamd(extra_config={"resync_interval": "60s"})
    notify = NotifyListener(os.path.join(jd.dir, "manager.sock"), paused=True)
    try:
        filled = fill(notify.path)
        print("the manager reads nothing: its queue is full before jetsamd starts "
              "(%d datagrams of ours)" % filled)
        jd.start(wait_ready=False, env={"NOTIFY_SOCKET": notify.path})
        wait_serving(jd)
        lat, errors = [], []
        for i in range(CLIENTS):
            t0 = time.monotonic()
            try:
                lat.append(status_once(jd.socket, timeout=5))
            except (OSError, EOFError, ValueError) as e:
                lat.append(time.monotonic() - t0)
                errors.append(repr(e))
                if len(errors) >= 3:
                    break
            if i == CLIENTS // 2:
                os.kill(jd.pid, signal.SIGHUP)
        st = stats(lat)
        print("status while nobody reads: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms, "
              "%d failed %s" % (st["n"], st["p50_ms"], st["p99_ms"], st["max_ms"],
                                len(errors), errors[:2]))
        must(not errors and st["max_ms"] < BOUND * 1000,
             "every status answers in < %d ms while the manager reads nothing" % (BOUND * 1000),
             "max %.1f ms, %d failed" % (st["max_ms"], len(errors)))

        notify.resume()
        must(notify.wait("RELOADING=1", 5), "RELOADING=1 arrives once the manager reads",
             "%d datagrams read" % len(notify.msgs))
        harness.wait_until(lambda: manager_msgs(notify).count("READY=1") >= 2, 5, what=False)
        states = manager_msgs(notify)
        print("states read: %s" % states)
        must(states[:3] == ["READY=1", "RELOADING=1", "READY=1"],
             "READY=1, RELOADING=1, READY=1 in order, none lost", "%s" % states)

        # clients keep coming: STATUS= reaches the manager about once a second, no more
        time.sleep(STATUS_INTERVAL_S + 0.2)  # what waited went out; count from here
        t_churn = time.monotonic()
        n = 0
        while time.monotonic() - t_churn < CHURN_S:
            status_once(jd.socket, timeout=5)
            n += 1
        t_end = time.monotonic()
        sent = [t for t in notify.times("STATUS=") if t_churn <= t <= t_end + 0.05]
        print("%d clients in %.1f s: %d STATUS= datagrams" % (n, t_end - t_churn, len(sent)))
        must(len(sent) <= CHURN_S / STATUS_INTERVAL_S + 1.5,
             "at most one STATUS= a second while %d clients come and go" % n,
             "%d in %.1f s" % (len(sent), t_end - t_churn))
        must(len(sent) >= 1, "STATUS= still follows the counts", "%d" % len(sent))

        # the last change inside an interval is sent at its end: 0 clients
        def last_zero():
            last = manager_msgs(notify, status=True)
            return last and re.search(r"; 0 clients;", last[-1])
        ok = harness.wait_until(last_zero, STATUS_INTERVAL_S * 3, what=False)
        last = manager_msgs(notify, status=True)
        must(bool(ok), "the last STATUS= counts 0 clients once they are gone",
             last[-1] if last else "none")

        rc = jd.stop(timeout=30)
        must(rc == 0, "SIGTERM: exit 0", "rc %s" % rc)
        must(notify.wait("STOPPING=1", 2), "STOPPING=1 arrives", "%s" % manager_msgs(notify)[-3:])
    finally:
        if jd.running():
            jd.stop(timeout=30)
        notify.close()
    harness.finish("chaos-notify")


if __name__ == "__main__":
    main()
