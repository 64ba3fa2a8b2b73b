#!/usr/bin/env python3
# daemon_protocol.py: protocol-level checks of jetsamd: error replies, ids, ordering, limits
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import Client, Jetsamd, check, check_eq, fail  # noqa: E402


def err_code(reply):
    check(reply is not None, "a reply")
    check_eq(reply.get("ok"), False, "ok in an error reply %r" % reply)
    e = reply.get("error") or {}
    check(isinstance(e.get("message"), str) and e["message"], "error message in %r" % reply)
    return e.get("code")


def test_errors(j):
    c = j.client()
    # not JSON, not an object, no cmd: bad_request, the connection stays
    c.send_line(b"this is not json")
    check_eq(err_code(c.recv()), "bad_request", "not JSON")
    c.send_line(b"[1,2,3]")
    check_eq(err_code(c.recv()), "bad_request", "not an object")
    c.send_line(b'{"id":5}')
    r = c.recv()
    check_eq(err_code(r), "bad_request", "no cmd")
    check_eq(r.get("id"), 5, "id echoed in an error reply")
    c.send({"id": "s1", "cmd": 42})
    r = c.recv()
    check_eq(err_code(r), "bad_request", "cmd not a string")
    check_eq(r.get("id"), "s1", "string id echoed")
    c.send({"id": 6, "cmd": "frobnicate"})
    r = c.recv()
    check_eq(err_code(r), "unknown_command", "unknown command")
    check("frobnicate" in r["error"]["message"], "unknown command named")
    # wrong argument types and values
    for req in ({"cmd": "events", "limit": "ten"}, {"cmd": "events", "limit": 0},
                {"cmd": "events", "limit": 100001}, {"cmd": "events", "limit": 1.5},
                {"cmd": "events", "role": "hero"}, {"cmd": "events", "since": "yesterday"},
                {"cmd": "events", "udid": 7}, {"cmd": "reports", "status": "fine"},
                {"cmd": "limits", "product": ["x"]}, {"cmd": "sync", "wait": "yes"},
                {"cmd": "subscribe", "topics": "events"},
                {"cmd": "subscribe", "topics": ["events", "weather"]},
                {"cmd": "hello", "version": "one"}):
        c.send(req)
        check_eq(err_code(c.recv()), "bad_request", "bad argument in %r" % req)
    # nesting: 8 levels are fine, 9 are not
    c.send_line(b'{"id":1,"cmd":"status","x":[[[[[[[1]]]]]]]}')
    check_eq(err_code(c.recv()), "invalid_argument", "8 levels of nesting decode")
    c.send_line(b'{"id":2,"cmd":"status","x":[[[[[[[[1]]]]]]]]}')
    check_eq(err_code(c.recv()), "bad_request", "9 levels of nesting")
    # version
    r = c.request("hello", version=3, client="test")
    check_eq(err_code(r), "version_mismatch", "hello version 3")
    check("2" in r["error"]["message"] and "1" in r["error"]["message"],
          "version_mismatch names the versions")
    r = c.request("hello", version=1, client="test")
    check_eq(r["ok"], True, "hello version 1")
    check("import" in r["result"]["commands"], "commands listed")
    # unknown udid
    r = c.request("sync", udid="0000-nope")
    check_eq(err_code(r), "not_found", "sync of an unknown udid")
    # still usable after all of that
    check_eq(c.call("status")["version"], 2, "connection usable after errors")
    c.close()


def test_order_and_pipelining(j):
    c = j.client()
    # many requests in one write, answered in order with their ids
    batch = b"".join(json.dumps({"id": i, "cmd": "status" if i % 2 else "limits"}).encode() +
                     b"\n" for i in range(200))
    c.send_raw(batch)
    for i in range(200):
        r = c.recv()
        check_eq(r.get("id"), i, "reply order")
        check_eq(r.get("ok"), True, "pipelined reply ok")
    # a request split across many writes
    line = json.dumps({"id": "split", "cmd": "status"}).encode() + b"\n"
    for b in line:
        c.send_raw(bytes([b]))
    check_eq(c.recv().get("id"), "split", "request split into single bytes")
    # a request without id gets a reply without id
    c.send({"cmd": "status"})
    r = c.recv()
    check("id" not in r and r["ok"], "reply without id")
    c.close()


def send_until_refused(c, data, chunk=65536):
    """Send data; stop quietly if the daemon resets the connection. Returns the bytes sent."""
    sent = 0
    try:
        while sent < len(data):
            sent += c.sock.send(data[sent:sent + chunk])
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_too_long(j):
    c = j.client()
    c.call("status")
    # exactly 65536 bytes with the newline is accepted
    pad = 65536 - len(b'{"cmd":"status","id":""}') - 1
    c.send_line(b'{"cmd":"status","id":"' + b"x" * pad + b'"}')
    check_eq(c.recv().get("ok"), True, "line of 65536 bytes")
    # one more byte: too_large, then the connection is closed. The daemon goes on reading
    # (and discarding) until it has shut its end, so the bytes after the limit never make
    # the kernel reset the connection: all of them are sent, then the reply and EOF come.
    line = b'{"cmd":"status","id":"' + b"x" * (pad + 1) + b'"}\n'
    check_eq(send_until_refused(c, line), len(line), "bytes sent of a line of 65537 bytes")
    check_eq(err_code(c.recv()), "too_large", "line of 65537 bytes")
    check(c.recv_line() is None, "connection closed after too_large")
    c.close()
    # a line that never ends is cut off as well, without the daemon buffering it all
    # (1 MiB is 16 times the limit; its memory use is not observable here, only the reply)
    c = j.client()
    data = b"y" * (16 * 65536)
    check_eq(send_until_refused(c, data), len(data), "bytes sent of an endless line")
    check_eq(err_code(c.recv()), "too_large", "endless line")
    check(c.recv_line() is None, "connection closed after an endless line")
    c.close()
    # a client that stops reading and sending after the limit is closed all the same
    c = j.client()
    c.send_raw(b"z" * 70000)
    check_eq(err_code(c.recv()), "too_large", "line over the limit, client idle after")
    check(c.recv_line() is None, "connection closed while the client keeps its end open")
    c.close()


def test_import_framing(j):
    c = j.client()
    # size out of range: too_large and closed
    c.send({"id": 1, "cmd": "import", "name": "x.ips", "size": 0})
    check_eq(err_code(c.recv()), "too_large", "import size 0")
    check(c.recv_line() is None, "closed after a bad import size")
    c.close()
    c = j.client()
    c.send({"id": 1, "cmd": "import", "name": "x.ips", "size": 64 * 1024 * 1024})
    check_eq(err_code(c.recv()), "too_large", "import over max_report_size")
    check(c.recv_line() is None, "closed after an import over the limit")
    c.close()
    c = j.client()
    c.send({"id": 1, "cmd": "import", "name": "x.ips"})
    check_eq(err_code(c.recv()), "bad_request", "import without size")
    check(c.recv_line() is None, "closed after an import without size")
    c.close()
    # a bad name with a good size: the bytes are consumed, the error comes, framing is kept
    c = j.client()
    body = b'{"not": "a report"}\n{"cmd":"status"}\n'
    c.send({"id": 2, "cmd": "import", "size": len(body)})
    c.send_raw(body)
    r = c.recv()
    check_eq(err_code(r), "bad_request", "import without name")
    check_eq(r.get("id"), 2, "import error id")
    check_eq(c.call("status")["version"], 2, "framing kept after a refused import")
    c.close()


def test_max_clients():
    j = Jetsamd(extra_config={"max_clients": 3})
    j.start()
    cs = [j.client() for _ in range(3)]
    for c in cs:
        c.call("status")
        c.call("subscribe")  # a subscriber is not idle: never closed to make room
    extra = j.client()
    try:
        extra.send({"cmd": "status"})
        m = extra.recv()
        check(m is not None and (m.get("error") or {}).get("code") == "too_many_clients",
              "client over max_clients gets too_many_clients: %r" % (m,))
        check(extra.recv_line() is None, "client over max_clients is closed")
    except (ConnectionResetError, BrokenPipeError):
        pass
    extra.close()
    cs[0].close()
    time.sleep(0.2)
    with j.client() as c:
        c.call("status")
    for c in cs[1:]:
        c.close()
    check_eq(j.stop(), 0, "exit code")


def main():
    j = Jetsamd()
    j.start()
    test_errors(j)
    test_order_and_pipelining(j)
    test_too_long(j)
    test_import_framing(j)
    check_eq(j.stop(), 0, "exit code\n" + j.stderr_text()[-2000:])
    test_max_clients()
    print("ok")


if __name__ == "__main__":
    main()
