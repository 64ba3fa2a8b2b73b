#!/usr/bin/env python3
# daemon_slow_client.py: a client that never reads is disconnected and the daemon's memory
# stays bounded (client_queue_max), while other clients are served
import glob
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Jetsamd, check, check_eq, fail, wait_until  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail("no VmRSS for pid %d" % pid)


def main():
    root = os.environ.get("JETSAM_CORPUS")
    if not root:
        fail("JETSAM_CORPUS must name the corpus directory")
    j = Jetsamd(extra_config={"client_queue_max": "256K"}, log_level="info")
    j.start()
    with j.client() as c:
        for f in sorted(glob.glob(os.path.join(root, "jetsam", "*.ips"))):
            with open(f, "rb") as fh:
                check_eq(c.import_bytes(os.path.basename(f), fh.read())["ok"], True, "import")
        n_events = c.call("status")["events"]
        check(n_events > 20, "events to reply with")
        one = len(json.dumps(c.request("events", limit=100000)))
    check(one > 10000, "an events reply is large (%d bytes)" % one)

    # a client that sends requests and never reads
    slow = j.client()
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rss0 = rss_kib(j.pid)
    req = (json.dumps({"cmd": "events", "limit": 100000}) + "\n").encode()
    sent = 0
    disconnected = False
    t0 = time.monotonic()
    slow.sock.settimeout(10)
    try:
        while sent < 20000 and time.monotonic() - t0 < 60:
            slow.sock.sendall(req * 10)
            sent += 10
    except (BrokenPipeError, ConnectionResetError):
        disconnected = True
    except socket.timeout:
        fail("the daemon stopped reading requests instead of disconnecting the client")
    check(disconnected, "the slow client was disconnected (sent %d requests, %d bytes each "
          "reply)" % (sent, one))
    # replies queued would be sent * one bytes: far more than the cap
    check(sent * one > 10 * 256 * 1024, "more than the cap was asked for")
    rss1 = rss_kib(j.pid)
    print("slow client: %d requests sent before disconnect, reply %d bytes, RSS %d -> %d KiB"
          % (sent, one, rss0, rss1))
    check(rss1 - rss0 < 64 * 1024, "daemon memory bounded: RSS grew by %d KiB" % (rss1 - rss0))
    wait_until(lambda: "does not read" in j.stderr_text(), 5, what="disconnect logged")
    slow.close()
    check_eq(j.stop(), 0, "exit code\n" + j.stderr_text()[-2000:])

    # pushes to a subscriber that never reads: it is disconnected too, others are served
    # (a small cap, so that the socket buffers fill after a few hundred pushes)
    j.write_config({"client_queue_max": "4K"})
    j.start()
    lazy_sub = j.client()
    lazy_sub.send({"id": 1, "cmd": "subscribe"})
    reader = j.client()
    reader.call("subscribe", topics=["events"])
    with j.client() as c:
        with open(os.path.join(root, "jetsam", "icdab-5.ips"), "rb") as fh:
            base = fh.read()
        incident = b"B04A36B1-19EC-4895-B203-6AE21BE52B02"
        check(incident in base, "icdab-5.ips has its incident id")
        for i in range(1500):
            # a new incident id makes each import a new report with the same kill events
            data = base.replace(incident, b"B04A36B1-19EC-4895-B203-%012d" % i)
            r = c.import_bytes("v%d.ips" % i, data)
            if not r["ok"]:
                fail("import %d failed: %r" % (i, r))
            while True:  # the reading subscriber keeps up
                reader.sock.settimeout(0.001)
                try:
                    m = reader.recv()
                except (socket.timeout, TimeoutError):
                    break
                if m and "push" in m:
                    reader.pushes.append(m)
            # left, once the lazy subscriber is dropped: the reader and this client
            if i % 20 == 19 and c.call("status")["clients"] == 2:
                break
        st = c.call("status")
    # left: the reading subscriber and the importing client
    check_eq(st["clients"], 2, "clients after the lazy subscriber was dropped")
    check(j.stderr_text().count("does not read") >= 2, "both disconnects logged")
    check(i < 1499, "the lazy subscriber was dropped before the last import")
    print("lazy subscriber dropped after %d imports" % (i + 1))
    reader.sock.settimeout(5)
    check(len(reader.pushes) > 0, "the reading subscriber got pushes")
    # the reader is still served (the importing client has gone by now)
    wait_until(lambda: reader.call("status")["clients"] == 1, 5,
               what="only the reading subscriber connected")
    lazy_sub.close()
    reader.close()
    rss2 = rss_kib(j.pid)
    print("lazy subscriber: RSS %d KiB at the end" % rss2)
    check_eq(j.stop(), 0, "exit code\n" + j.stderr_text()[-2000:])
    print("ok")


if __name__ == "__main__":
    main()
