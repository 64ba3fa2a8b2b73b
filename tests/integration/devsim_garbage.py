# devsim_garbage.py: garbage on any devsim socket ends one connection; AFC conformance (Must show 6)
import os
import random
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devsim_common import (is_closed, ld_recv, ld_send, make_phone, mux_connect_raw,
                           mux_open_port, mux_request, need_tools, recv_exact)
from harness import Devsim, check, check_eq, fail  # noqa: E402

UDID = "00008101-001234560E12345E"
REPORT = b"report bytes\n" * 50


def wait_log(ds, text, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in ds.stderr_text():
            return
        time.sleep(0.02)
    fail("no log line containing %r:\n%s" % (text, ds.stderr_text()))


def still_serving(ds):
    check(ds.alive(), "devsim died")
    s = mux_connect_raw(ds.socket)
    r = mux_request(s, {"MessageType": "ListDevices"}, tag=7)
    s.close()
    check_eq([d["Properties"]["SerialNumber"] for d in r["DeviceList"]], [UDID],
             "ListDevices after garbage")


def garbage_mux(ds):
    cases = [
        (struct.pack("<IIII", 8, 1, 8, 1), "mux: bad message length 8"),
        (struct.pack("<IIII", 0x7fffffff, 1, 8, 1), "mux: bad message length 2147483647"),
        (struct.pack("<IIII", 16 + 12, 1, 8, 1) + b"not a plist!", "mux: payload is not a plist"),
    ]
    for data, line in cases:
        s = mux_connect_raw(ds.socket)
        s.sendall(data)
        check(is_closed(s), "usbmux connection not closed after %r" % data[:16])
        s.close()
        wait_log(ds, line)
        still_serving(ds)
    # early close in the middle of a header
    s = mux_connect_raw(ds.socket)
    s.sendall(b"\x10\x00\x00")
    s.close()
    still_serving(ds)
    # well-framed but unknown requests get real usbmuxd result codes, the connection stays
    s = mux_connect_raw(ds.socket)
    check_eq(mux_request(s, {"MessageType": "Frobnicate"}, tag=3),
             {"MessageType": "Result", "Number": 1}, "unknown MessageType")
    body = b"<?xml version=\"1.0\"?><plist><dict/></plist>"
    s.sendall(struct.pack("<IIII", 16 + len(body), 0, 8, 4) + body)
    length = struct.unpack("<I", recv_exact(s, 16)[:4])[0]
    check(b"<integer>6</integer>" in recv_exact(s, length - 16), "version 0 is not BADVERSION")
    check_eq(mux_request(s, {"MessageType": "Connect", "DeviceID": 99, "PortNumber": 32498},
                         tag=5), {"MessageType": "Result", "Number": 2}, "Connect bad device")
    check_eq(mux_request(s, {"MessageType": "Connect", "DeviceID": 1,
                             "PortNumber": 0x3412}, tag=6),
             {"MessageType": "Result", "Number": 3}, "Connect to a port nobody serves")
    check_eq(mux_request(s, {"MessageType": "ReadPairRecord", "PairRecordID": "nope"}, tag=8),
             {"MessageType": "Result", "Number": 2}, "ReadPairRecord unknown udid")
    r = mux_request(s, {"MessageType": "ListDevices"}, tag=9)
    check_eq(len(r["DeviceList"]), 1, "ListDevices on the same connection")
    s.close()


def lockdown_open(ds):
    return mux_open_port(ds.socket, 1, 62078)


def garbage_lockdown(ds):
    s = lockdown_open(ds)
    s.sendall(b"\xff\xff\xff\xff")
    check(is_closed(s), "lockdown not closed after a huge length")
    wait_log(ds, "lockdown %s: bad message length 4294967295" % UDID)
    still_serving(ds)

    s = lockdown_open(ds)
    s.sendall(struct.pack(">I", 9) + b"\x00garbage!")
    check(is_closed(s), "lockdown not closed after a non-plist body")
    wait_log(ds, "lockdown %s: message is not a plist dict with a Request" % UDID)
    still_serving(ds)

    s = lockdown_open(ds)
    s.sendall(struct.pack(">I", 400) + b"<?xml")
    s.close()
    still_serving(ds)

    # an unknown request gets an error reply; the connection stays usable
    s = lockdown_open(ds)
    ld_send(s, {"Request": "Frobnicate", "Label": "test"})
    check_eq(ld_recv(s), {"Request": "Frobnicate", "Error": "InvalidRequest"}, "unknown Request")
    ld_send(s, {"Request": "GetValue", "Key": "NoSuchKey", "Label": "test"})
    check_eq(ld_recv(s), {"Request": "GetValue", "Key": "NoSuchKey", "Error": "MissingValue"},
             "unknown GetValue key")
    ld_send(s, {"Request": "StartService", "Service": "com.apple.crashreportmover"})
    check_eq(ld_recv(s)["Error"], "SessionInactive", "StartService without a session")
    ld_send(s, {"Request": "StartSession", "HostID": "00000000-0000-0000-0000-000000000000"})
    check_eq(ld_recv(s)["Error"], "InvalidHostID", "StartSession with a foreign HostID")
    # garbage instead of a TLS ClientHello after StartSession
    start_session(ds, s)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    check(is_closed(s), "lockdown not closed after garbage instead of TLS")
    wait_log(ds, "lockdown %s: tls failed" % UDID)
    still_serving(ds)


def host_id(ds):
    s = mux_connect_raw(ds.socket)
    r = mux_request(s, {"MessageType": "ReadPairRecord", "PairRecordID": UDID})
    s.close()
    import plistlib
    return plistlib.loads(r["PairRecordData"])["HostID"]


def start_session(ds, s):
    ld_send(s, {"Request": "StartSession", "HostID": host_id(ds), "Label": "test"})
    r = ld_recv(s)
    check_eq((r.get("Request"), r.get("EnableSessionSSL")), ("StartSession", True),
             "StartSession reply")


def tls_session(ds):
    s = lockdown_open(ds)
    start_session(ds, s)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s)


def afc_open(ds, t):
    ld_send(t, {"Request": "StartService", "Service": "com.apple.crashreportcopymobile"})
    r = ld_recv(t)
    check("Port" in r, "StartService reply %r" % r)
    return mux_open_port(ds.socket, 1, r["Port"])


def afc_req(s, op, payload=b"", pnum=1):
    s.sendall(b"CFA6LPAA" + struct.pack("<QQQQ", 40 + len(payload), 40 + len(payload), pnum,
                                        op) + payload)
    hdr = recv_exact(s, 40)
    check_eq(hdr[:8], b"CFA6LPAA", "AFC reply magic")
    entire, this, rpnum, rop = struct.unpack("<QQQQ", hdr[8:])
    check_eq(rpnum, pnum, "AFC reply packet number")
    fixed = recv_exact(s, this - 40)
    data = recv_exact(s, entire - this)
    if rop == 1:
        check_eq((this, entire), (48, 48), "STATUS reply lengths")
        return ("status", struct.unpack("<Q", fixed)[0])
    if rop == 2:
        check_eq(this, 40, "DATA reply this_length")
        return ("data", data)
    if rop == 0x0e:
        check_eq((this, entire), (48, 48), "FILE_OPEN_RES lengths")
        return ("handle", struct.unpack("<Q", fixed)[0])
    if rop == 0x13:
        return ("tell", struct.unpack("<Q", fixed)[0])
    fail("unexpected AFC reply op %d" % rop)


def info_dict(data):
    parts = data.split(b"\0")[:-1]
    return {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts), 2)}


def afc_conformance(ds, t, phone):
    s = afc_open(ds, t)
    pn = [0]

    def req(op, payload=b""):
        pn[0] += 1
        return afc_req(s, op, payload, pn[0])

    names = req(3, b".\0")
    check_eq(names[0], "data", "READ_DIR reply")
    check_eq(sorted(names[1].split(b"\0")[:-1]),
             sorted([b".", b"..", b"a.ips", b"Retired", b"escape.ips", b"outdir", b"inlink.ips"]),
             "READ_DIR entries")
    check_eq(req(3, b"/Retired"), ("data", b".\0..\0b.ips\0"), "READ_DIR appium style path")
    st = info_dict(req(0x0a, b"./a.ips\0")[1])
    sb = os.stat(os.path.join(phone, "CrashReporter", "a.ips"))
    check_eq((st["st_size"], st["st_ifmt"], st["st_mtime"]),
             (str(len(REPORT)), "S_IFREG", str(sb.st_mtime_ns)), "GET_FILE_INFO of a file")
    st = info_dict(req(0x0a, b"escape.ips\0")[1])
    check_eq((st["st_ifmt"], st["LinkTarget"]), ("S_IFLNK", "/etc/passwd"), "symlink info")
    check_eq(info_dict(req(0x0a, b"/Retired")[1])["st_ifmt"], "S_IFDIR", "directory info")
    check_eq(req(0x0a, b"./missing.ips\0"), ("status", 8), "GET_FILE_INFO missing")
    # nothing outside CrashReporter/ is reachable
    check_eq(req(3, b"..\0"), ("status", 10), "READ_DIR ..")
    check_eq(req(3, b"/../../etc\0"), ("status", 10), "READ_DIR /../../etc")
    check_eq(req(0x0a, b"Retired/../../device.json\0"), ("status", 10), "escape via Retired/..")
    check_eq(req(0x0d, struct.pack("<Q", 1) + b"escape.ips\0"), ("status", 10),
             "FILE_OPEN of a symlink pointing out")
    check_eq(req(3, b"outdir\0"), ("status", 10), "READ_DIR of a symlinked dir pointing out")
    check_eq(req(0x0a, b"outdir/device.json\0"), ("status", 10), "path through an outside link")
    check_eq(req(0x08, b"outdir/device.json\0"), ("status", 10), "REMOVE through an outside link")
    check_eq(req(0x08, b".\0"), ("status", 10), "REMOVE_PATH of the root")
    check_eq(req(0x22, b"/\0"), ("status", 10), "REMOVE_PATH_AND_CONTENTS of the root")
    check_eq(req(0x0d, struct.pack("<Q", 3) + b"a.ips\0"), ("status", 10), "FILE_OPEN for write")
    check_eq(req(0x0d, struct.pack("<Q", 1) + b"Retired\0"), ("status", 9), "FILE_OPEN of a dir")
    check_eq(req(0x0d, struct.pack("<Q", 1) + b"nope.ips\0"), ("status", 8), "FILE_OPEN missing")
    check_eq(req(0x09, b"newdir\0"), ("status", 10), "MAKE_DIR on the crash store")
    # reading: handle non-zero and < 2^32, DATA never longer than asked, EOF as 0 bytes
    kind, h = req(0x0d, struct.pack("<Q", 1) + b"Retired/../inlink.ips\0")
    check(kind == "handle" and 0 < h < 2 ** 32, "FILE_OPEN handle %r" % h)
    got = b""
    while True:
        kind, d = req(0x0f, struct.pack("<QQ", h, 100))
        check(kind == "data" and len(d) <= 100, "FILE_READ reply")
        if not d:
            break
        got += d
    check_eq(got, REPORT, "file read through an inside symlink")
    check_eq(req(0x12, struct.pack("<Q", h)), ("tell", len(REPORT)), "FILE_TELL")
    check_eq(req(0x14, struct.pack("<Q", h)), ("status", 0), "FILE_CLOSE")
    check_eq(req(0x0f, struct.pack("<QQ", h, 100)), ("status", 7), "FILE_READ closed handle")
    check_eq(req(0x14, struct.pack("<Q", 12345)), ("status", 7), "FILE_CLOSE bad handle")
    dev = info_dict(req(0x0b)[1])
    check_eq(dev["Model"], "iPhone13,2", "GET_DEVINFO Model")
    check(int(dev["FSTotalBytes"]) > 0, "GET_DEVINFO FSTotalBytes")
    # removing
    check_eq(req(0x08, b"Retired\0"), ("status", 1), "REMOVE_PATH of a non-empty dir")
    check_eq(req(0x22, b"/Retired\0"), ("status", 0), "REMOVE_PATH_AND_CONTENTS")
    check(not os.path.exists(os.path.join(phone, "CrashReporter", "Retired")), "Retired kept")
    check_eq(req(0x08, b"escape.ips\0"), ("status", 0), "REMOVE_PATH of a symlink")
    check(os.path.exists("/etc/passwd"), "symlink target removed")
    s.close()


def garbage_afc(ds, t):
    cases = [
        (b"XXXXXXXX" + struct.pack("<QQQQ", 40, 40, 1, 3), "afc %s: bad magic" % UDID),
        (b"CFA6LPAA" + struct.pack("<QQQQ", 1 << 40, 40, 1, 3), "afc %s: bad packet lengths"
         % UDID),
        (b"CFA6LPAA" + struct.pack("<QQQQ", 40, 48, 1, 3), "afc %s: bad packet lengths" % UDID),
        (b"CFA6LPAA" + struct.pack("<QQQQ", 40, 40, 1, 0x99),
         "afc %s: unknown operation 0x99" % UDID),
    ]
    for data, line in cases:
        s = afc_open(ds, t)
        s.sendall(data)
        check(is_closed(s), "AFC connection not closed after %r" % data)
        s.close()
        wait_log(ds, line)
        still_serving(ds)
    s = afc_open(ds, t)
    s.sendall(b"CFA6LPAA" + struct.pack("<QQ", 60, 60))
    s.close()
    still_serving(ds)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def backpressure(ds, t, phone):
    """A client that pipelines reads without reading replies must not make devsim balloon."""
    size = 2 * 1024 * 1024
    with open(os.path.join(phone, "CrashReporter", "big.ips"), "wb") as f:
        f.write(os.urandom(size))
    s = afc_open(ds, t)
    arg = struct.pack("<Q", 1) + b"big.ips\0"
    s.sendall(b"CFA6LPAA" + struct.pack("<QQQQ", 40 + len(arg), 40 + len(arg), 1, 0x0d) + arg)
    hdr = recv_exact(s, 48)
    handle = struct.unpack("<Q", hdr[40:])[0]
    rounds = 60
    reqs = b""
    for i in range(rounds):
        reqs += b"CFA6LPAA" + struct.pack("<QQQQ", 64, 64, 2 + 2 * i, 0x11) + struct.pack(
            "<QQQ", handle, 0, 0)
        reqs += b"CFA6LPAA" + struct.pack("<QQQQ", 56, 56, 3 + 2 * i, 0x0f) + struct.pack(
            "<QQ", handle, size)
    before = rss_kib(ds.proc.pid)
    s.sendall(reqs)
    time.sleep(1.0)
    grown = rss_kib(ds.proc.pid) - before
    print("backpressure: devsim grew by %d KiB while the client did not read" % grown)
    check(grown < 64 * 1024, "devsim grew by %d KiB for a client that does not read" % grown)
    total = 0
    for i in range(20):  # replies flow again once the client reads
        hdr = recv_exact(s, 40)
        entire = struct.unpack("<Q", hdr[8:16])[0]
        total += len(recv_exact(s, entire - 40)) if entire > 40 else 0
    check_eq(total, 10 * (size + 8), "bytes read back after the pause")
    s.close()  # with replies still queued
    still_serving(ds)
    os.unlink(os.path.join(phone, "CrashReporter", "big.ips"))


def random_garbage(ds, t):
    """Seeded random bytes on every kind of connection; devsim must stay up."""
    rng = random.Random(20240101)
    for i in range(60):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400)))
        kind = i % 3
        if kind == 0:
            s = mux_connect_raw(ds.socket)
            if rng.random() < 0.5:
                blob = struct.pack("<IIII", 16 + len(blob), 1, 8, i) + blob
        elif kind == 1:
            s = lockdown_open(ds)
            if rng.random() < 0.5:
                blob = struct.pack(">I", len(blob)) + blob
        else:
            s = afc_open(ds, t)
            if rng.random() < 0.5:
                blob = b"CFA6LPAA" + struct.pack("<QQQQ", 40 + len(blob), 40 + len(blob), i,
                                                 rng.randrange(0, 0x30)) + blob
        try:
            s.sendall(blob)
        except OSError:
            pass
        s.close()
    still_serving(ds)


def main():
    tools = need_tools("ideviceinfo")
    ds = Devsim(show_log=True)
    phone = make_phone(ds.dir, "p", UDID, files={"a.ips": REPORT, "Retired/b.ips": REPORT},
                       links={"escape.ips": "/etc/passwd", "outdir": "..",
                              "inlink.ips": "a.ips"})
    ds.start(phones_dirs=[phone])
    try:
        garbage_mux(ds)
        garbage_lockdown(ds)
        t = tls_session(ds)
        garbage_afc(ds, t)
        random_garbage(ds, t)
        backpressure(ds, t, phone)
        afc_conformance(ds, t, phone)
        # StopSession inside TLS, then the host's close_notify and plaintext again
        ld_send(t, {"Request": "StopSession", "SessionID": "x"})
        check_eq(ld_recv(t).get("Result"), "Success", "StopSession")
        plain = t.unwrap()
        ld_send(plain, {"Request": "GetValue", "Key": "ProductType"})
        check_eq(ld_recv(plain).get("Value"), "iPhone13,2", "plaintext GetValue after TLS")
        plain.close()
        # real clients still work after all of that
        r = ds.run([tools["ideviceinfo"], "-u", UDID, "-k", "ProductType"])
        check_eq((r.returncode, r.stdout), (0, b"iPhone13,2\n"), "ideviceinfo after garbage")
        ds.stop_clean()
    finally:
        ds.cleanup()
    print("PASS")


if __name__ == "__main__":
    main()
