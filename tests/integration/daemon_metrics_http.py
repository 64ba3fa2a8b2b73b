#!/usr/bin/env python3
# daemon_metrics_http.py: the metrics HTTP server against bad clients (garbage, oversize, slow, many) and socket activation
"""
jetsamd with metrics_listen on a free port, no phones:
1. GET /metrics: 200, OpenMetrics, Connection: close, Content-Length = the body; HEAD: the
   same head, no body; another path 404, another method 405 (Allow), garbage (a TLS hello,
   a line without a version) 400, a head over 8 KiB 431: each answered, then closed.
2. A slow client (half a request line) gets 408 after the read timeout and is closed;
   meanwhile scrapes and `jetsamctl status` are answered at once.
3. 40 idle connections: the 32 first are held, the others get 503 and are closed; status
   and (once they are gone) scrapes are answered.
4. A TCP listener passed by systemd (LISTEN_FDS, named "metrics") serves GET /metrics
   without metrics_listen.
Environment: JETSAMD, JETSAMCTL (meson).
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import check, check_eq, wait_until  # noqa: E402

OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port, data, timeout=15, shut=False):
    """Send data, read until the server closes; -> (status line, headers dict, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def status_fast(jd, what):
    t0 = time.monotonic()
    rc, out, err = jd.ctl("status", timeout=10)
    dt = time.monotonic() - t0
    check(rc == 0, "%s: jetsamctl status answers (rc %d %s)" % (what, rc, err))
    print("ok   %s: status answered in %.0f ms" % (what, dt * 1000))


def test_requests(port):
    line, h, body = exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check_eq(line, "HTTP/1.1 200 OK", "GET /metrics")
    check_eq((h.get("content-type"), h.get("connection")), (OM_TYPE, "close"),
             "content type and Connection: close")
    check_eq(int(h.get("content-length", -1)), len(body), "Content-Length = body")
    check(body.endswith(b"# EOF\n"), "the body ends with # EOF")
    line, h, hbody = exchange(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    check(line == "HTTP/1.1 200 OK" and hbody == b"" and int(h["content-length"]) > 0,
          "HEAD: a head, no body (%r %r)" % (line, hbody[:40]))
    for req, want in ((b"GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
                      (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                       "HTTP/1.1 405 Method Not Allowed"),
                      (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", "HTTP/1.1 400 Bad Request"),
                      (b"hello there\r\n\r\n", "HTTP/1.1 400 Bad Request"),
                      (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000,
                       "HTTP/1.1 431 Request Header Fields Too Large")):
        line, h, _ = exchange(port, req)
        check_eq(line, want, "answer to %r" % req[:30])
        if want.startswith("HTTP/1.1 405"):
            check_eq(h.get("allow"), "GET, HEAD", "405 names the methods")
    # a peer that closes its side at once still gets its answer
    line, _, _ = exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n", shut=True)
    check_eq(line, "HTTP/1.1 200 OK", "GET then shutdown(SHUT_WR)")


def test_slow(jd, port):
    slow = socket.create_connection(("127.0.0.1", port), timeout=30)
    slow.sendall(b"GET /metr")
    t0 = time.monotonic()
    for _ in range(3):
        line, _, _ = exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n")
        check_eq(line, "HTTP/1.1 200 OK", "a scrape while a slow client waits")
    status_fast(jd, "slow client")
    got = b""
    while True:
        chunk = slow.recv(4096)
        if not chunk:
            break
        got += chunk
    dt = time.monotonic() - t0
    slow.close()
    check(got.startswith(b"HTTP/1.1 408 "), "the slow client gets 408 (%r)" % got[:40])
    check(8 <= dt <= 20, "after the 10 s read timeout (%.1f s)" % dt)


def test_many(jd, port):
    time.sleep(0.5)  # the connections of earlier checks are closed on the daemon's side too
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
    time.sleep(0.5)
    refused = 0
    for c in conns:
        c.setblocking(False)
        try:
            data = c.recv(4096)
            if data.startswith(b"HTTP/1.1 503 "):
                refused += 1
        except BlockingIOError:
            pass
    check_eq(refused, 8, "connections past 32 get 503")
    status_fast(jd, "40 connections")
    for c in conns:
        c.close()

    def scrape_ok():
        # until the daemon has seen the 40 close, a new connection may still be one too
        # many: 503, or a reset when it closes before reading the request
        try:
            line, _, _ = exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n")
        except ConnectionResetError:
            return False
        return line == "HTTP/1.1 200 OK"
    wait_until(scrape_ok, timeout=10, what="a scrape once the idle connections closed")


def test_activation():
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    port = tcp.getsockname()[1]
    jd = harness.Jetsamd()
    jd._open_notify()
    env = dict(os.environ)
    for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(k, None)
    env.update({"NOTIFY_SOCKET": jd._notify_path, "LISTEN_FDS": "1",
                "LISTEN_FDNAMES": "metrics"})
    fd = tcp.fileno()
    # fd 3 is open here (see harness.Jetsamd.start): the child moves the listener onto it
    if fd != 3:
        os.dup2(fd, 3)

    def preexec():
        os.set_inheritable(3, True)
    argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', jd.binary,
            "--config", jd.config_path]
    jd._spawn(argv, env=env, pass_fds=(3,), preexec_fn=preexec)
    jd.wait_notify("READY=1", 10)
    tcp.close()
    line, h, body = exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n")
    check_eq((line, h.get("content-type")), ("HTTP/1.1 200 OK", OM_TYPE),
             "GET /metrics on the activated listener")
    check(b"# TYPE jetsamd_kills counter" in body, "the activated listener serves the metrics")
    rc, _, err = jd.ctl("status")
    check(rc == 0, "the control socket (bound from the config) answers: %s" % err)
    check(jd.stop() == 0, "jetsamd (activated metrics socket) exits 0")


def main():
    port = free_port()
    jd = harness.Jetsamd(extra_config={"metrics_listen": "127.0.0.1:%d" % port}).start()
    test_requests(port)
    test_many(jd, port)
    test_slow(jd, port)
    check("serving GET /metrics on 127.0.0.1:%d" % port in jd.stderr_text(),
          "the log names the listener")
    check(jd.stop() == 0, "jetsamd exits 0")
    test_activation()
    print("daemon-metrics-http: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
