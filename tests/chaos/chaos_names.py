# chaos_names.py: hostile phone bytes: every reply is valid UTF-8, the log has no raw control bytes (Must show 6)
"""A phone whose report files are named with invalid UTF-8 and with ESC/BEL, and whose
device name is 100 000 characters with ESC/BEL. Every line jetsamd sends (watch pushes,
reports, devices, events, status, limits) must decode as strict UTF-8, and its log must
carry no byte below 0x20 but the newline."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_common import (bad_utf8_lines, banner, control_bytes, daemon_keys, device_json,
                          harness, incident, lost_doubled, must, raw_request)  # noqa: E402

UDID = "00008101-00000000000000F6"
NAMES = [b"JetsamEvent-\xff\xfe\xc3(.ips", b"JetsamEvent-\x1b[31mred\x07bell.ips",
         b"JetsamEvent-ok-\xe2\x82.ips", b"Retired/JetsamEvent-\r\x08\x7f.ips"]
DEVICE_NAME = "Chaos\x1b]0;pwned\x07\x1b[31m" + "n" * (100000 - 17)


def write_reports(phone):
    base = os.path.join(os.fsencode(phone), b"CrashReporter")
    for i, n in enumerate(NAMES):
        p = os.path.join(base, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        hdr = {"bug_type": "298", "timestamp": "2022-04-02 12:17:09.65 -0400",
               "os_version": "iPhone OS 15.5 (19F77)", "incident_id": incident(61, i)}
        body = {"product": "iPhone13,2", "build": "iPhone OS 15.5 (19F77)",
                "memoryStatus": {"pageSize": 16384},
                "processes": [{"pid": 10 + i, "name": "proc\u00e9-%d" % i, "rpages": 1000,
                               "reason": "per-process-limit", "states": ["frontmost"]}]}
        with open(p, "wb") as f:
            f.write((json.dumps(hdr) + "\n" + json.dumps(body) + "\n").encode())


class Subscriber:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.s.sendall(b'{"id":1,"cmd":"subscribe"}\n')
        self.buf = b""

    def drain(self, quiet=1.0, limit=30.0):
        """Read until nothing came for `quiet` s (at most `limit` s); return raw lines."""
        end = time.monotonic() + limit
        self.s.settimeout(quiet)
        while time.monotonic() < end:
            try:
                d = self.s.recv(1 << 20)
            except socket.timeout:
                break
            if not d:
                break
            self.buf += d
        lines = self.buf.split(b"\n")
        return [l for l in lines if l]

    def close(self):
        self.s.close()


def main():
    banner("chaos-names", "invalid UTF-8 and ESC/BEL in file names, a 100 000-char device name")
    ds = harness.Devsim()
    phone = device_json(os.path.join(ds.dir, "hostile"), UDID, name=DEVICE_NAME)
    write_reports(phone)
    # (not through `jetsamctl parse`: its "file" field carries the name's raw bytes)
    truth = {"incident:" + incident(61, i): UDID for i in range(len(NAMES))}
    ds.start(phones_dirs=[])
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config={"resync_interval": "60s"})
    sub = None
    try:
        jd.start()
        sub = Subscriber(jd.socket)
        ds.ctl_ok("attach %s" % phone)
        harness.wait_until(lambda: len(set(truth) & set(daemon_keys(jd.socket))) == len(truth)
                           or jd.proc.poll() is not None, timeout=60, interval=0.2,
                           what=False)
        lines = sub.drain()
        pushes = len(lines)
        for req in ({"cmd": "reports", "limit": 100000}, {"cmd": "devices"},
                    {"cmd": "events", "limit": 100000}, {"cmd": "status"}, {"cmd": "limits"},
                    {"cmd": "devices"}):
            lines.append(raw_request(jd.socket, req))
        bad = bad_utf8_lines(lines)
        print("%d reply lines (%d on the subscription), %d bytes: %d not valid UTF-8" % (
            len(lines), pushes, sum(len(l) for l in lines), len(bad)))
        for off, ctx in bad[:5]:
            print("  invalid UTF-8 at byte %d: %r" % (off, ctx))
        must(not bad, "every reply line is valid UTF-8", "%d invalid lines" % len(bad))
        lost, doubled = lost_doubled(truth, daemon_keys(jd.socket))
        print("reports: %d on the phone, lost %d, doubled %d" % (len(truth), lost, doubled))
        must(lost == 0 and doubled == 0, "every hostile-named report is stored once",
             "lost %d, doubled %d" % (lost, doubled))
        try:
            devs = json.loads(raw_request(jd.socket, {"cmd": "devices"}).decode(
                errors="replace"))["result"]["devices"]
            name = {d["udid"]: d for d in devs}.get(UDID, {}).get("name") or ""
        except (ValueError, KeyError) as e:
            name = ""
            print("devices reply unreadable: %r" % e)
        print("device name in replies: %d characters, starts %r" % (len(name), name[:24]))
        must(len(name) < 100000, "a 100 000-character device name is not sent in full",
             "%d characters" % len(name))
        must(jd.running(), "jetsamd still runs", "running=%s" % jd.running())
    finally:
        if sub:
            sub.close()
        rc = jd.stop() if jd.running() else None
        ds.cleanup()
    with open(jd.log, "rb") as f:
        log = f.read()
    cb = control_bytes(log)
    print("jetsamd log: %d bytes, %d raw control bytes (< 0x20, not newline)" % (len(log), len(cb)))
    for i in cb[:5]:
        print("  byte 0x%02x at %d: %r" % (log[i], i, log[max(0, i - 40):i + 10]))
    must(not cb, "the log carries no raw control bytes", "%d control bytes" % len(cb))
    must(rc == 0, "jetsamd exits 0", rc)
    harness.finish("chaos-names")


if __name__ == "__main__":
    main()
