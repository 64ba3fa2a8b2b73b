# devsim_faults.py: the devsim faults the chaos suite needs, seen by raw AFC and libimobiledevice
"""deep-tree (an endless virtual directory), stall forever, stall-after BYTES (a stall that
starts mid-file), file names with invalid UTF-8 and control bytes, a 100 000-character
device name with control bytes."""
import html
import os
import plistlib
import re
import shutil
import socket
import ssl
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from devsim_common import (ld_recv, ld_send, make_phone, mux_connect_raw, mux_open_port,
                           mux_request, recv_exact)
from harness import Devsim, check, check_eq, fail  # noqa: E402

UDID_A = "00008101-00000000000000C1"
UDID_B = "00008101-00000000000000C2"
BIG = bytes(range(256)) * 400  # 102400 bytes
BAD_UTF8 = b"JetsamEvent-\xff\xfe\xc3(.ips"
CTRL = b"JetsamEvent-\x1b[31mred\x07bell.ips"
LONG_NAME = "Lab\x1b[31m\x07" + "n" * (100000 - 9)


def tls_lockdown(ds, udid, device_id):
    m = mux_connect_raw(ds.socket)
    r = mux_request(m, {"MessageType": "ReadPairRecord", "PairRecordID": udid})
    m.close()
    host_id = plistlib.loads(r["PairRecordData"])["HostID"]
    s = mux_open_port(ds.socket, device_id, 62078)
    ld_send(s, {"Request": "StartSession", "HostID": host_id, "Label": "chaos"})
    check_eq(ld_recv(s).get("EnableSessionSSL"), True, "StartSession")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s)


class Afc:
    """A raw crashreportcopymobile client (one request at a time)."""

    def __init__(self, ds, udid, device_id):
        t = tls_lockdown(ds, udid, device_id)
        ld_send(t, {"Request": "StartService", "Service": "com.apple.crashreportcopymobile"})
        r = ld_recv(t)
        check("Port" in r, "StartService reply %r" % r)
        self.s = mux_open_port(ds.socket, device_id, r["Port"])
        self.t = t
        self.pnum = 0

    def send(self, op, payload=b""):
        self.pnum += 1
        self.s.sendall(b"CFA6LPAA" + struct.pack("<QQQQ", 40 + len(payload),
                                                 40 + len(payload), self.pnum, op) + payload)

    def reply(self, timeout=10):
        self.s.settimeout(timeout)
        hdr = recv_exact(self.s, 40)
        entire, this, _pnum, op = struct.unpack("<QQQQ", hdr[8:])
        fixed = recv_exact(self.s, this - 40)
        data = recv_exact(self.s, entire - this)
        if op == 1:
            return ("status", struct.unpack("<Q", fixed)[0])
        if op == 0x0e:
            return ("handle", struct.unpack("<Q", fixed)[0])
        return ("data", data)

    def req(self, op, payload=b""):
        self.send(op, payload)
        return self.reply()

    def silent(self, seconds):
        """True when nothing arrives for `seconds` and the connection stays open."""
        self.s.settimeout(seconds)
        try:
            return self.s.recv(1) == b"" and False
        except socket.timeout:
            return True

    def names(self, path):
        kind, data = self.req(3, path + b"\0")
        check_eq(kind, "data", "READ_DIR %r" % path)
        return sorted(data.split(b"\0")[:-1])

    def info(self, path):
        kind, data = self.req(0x0a, path + b"\0")
        if kind != "data":
            return (kind, data)
        parts = data.split(b"\0")[:-1]
        return {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts), 2)}

    def read_file(self, path, chunk=8192):
        kind, h = self.req(0x0d, struct.pack("<Q", 1) + path + b"\0")
        check_eq(kind, "handle", "FILE_OPEN %r" % path)
        out = b""
        while True:
            kind, d = self.req(0x0f, struct.pack("<QQ", h, chunk))
            check_eq(kind, "data", "FILE_READ")
            if not d:
                return out
            out += d

    def close(self):
        self.s.close()
        self.t.close()


def deep_tree(ds):
    a = Afc(ds, UDID_A, 1)
    check(b"deep-tree" not in a.names(b"."), "deep-tree listed before the fault")
    check_eq(ds.ctl("fault %s deep-tree 0" % UDID_A)[-1][:13], "error: usage:", "fanout 0")
    check_eq(ds.ctl("fault %s deep-tree 65" % UDID_A)[-1][:13], "error: usage:", "fanout 65")
    ds.ctl_ok("fault %s deep-tree 3" % UDID_A)
    check(b"deep-tree" in a.names(b"."), "deep-tree not in the root after the fault")
    check_eq(a.names(b"deep-tree"), [b".", b"..", b"d0", b"d1", b"d2"], "deep-tree level 1")
    levels = 300  # the path of level 300 is 909 bytes
    path = b"deep-tree" + b"/d2" * levels
    check_eq(a.names(path), [b".", b"..", b"d0", b"d1", b"d2"], "deep-tree level %d" % levels)
    check_eq(a.info(b"/deep-tree/d1/d0/../d2")["st_ifmt"], "S_IFDIR", "GET_FILE_INFO in tree")
    check_eq(a.req(0x0d, struct.pack("<Q", 1) + path + b"\0"), ("status", 9), "FILE_OPEN dir")
    check_eq(a.info(b"deep-tree/d3"), ("status", 8), "d3 is not in a fanout-3 tree")
    check_eq(a.req(0x08, b"deep-tree\0"), ("status", 8), "REMOVE_PATH of the virtual tree")
    ds.ctl_ok("fault %s deep-tree on" % UDID_A)
    check_eq(a.names(b"deep-tree/d0/d0/d0"), [b".", b"..", b"d0"], "deep-tree on: one subdir")
    ds.ctl_ok("fault %s deep-tree off" % UDID_A)
    check(b"deep-tree" not in a.names(b"."), "deep-tree listed after off")
    check_eq(a.info(b"deep-tree/d0"), ("status", 8), "deep-tree path after off")
    a.close()
    print("deep-tree: fanout 3 answered %d levels deep; on = 1 subdirectory; off hides it"
          % levels)


def stalls(ds):
    ds.ctl_ok("fault %s stall forever" % UDID_A)
    a = Afc(ds, UDID_A, 1)
    a.send(3, b".\0")
    t0 = time.monotonic()
    check(a.silent(1.5), "stall forever: a reply or a close came")
    ds.ctl_ok("fault %s clear" % UDID_A)
    b = Afc(ds, UDID_A, 1)
    check(b"big.bin" in b.names(b"."), "a new connection after clear is answered")
    check(a.silent(0.3), "stall forever: the held reply came after clear")
    print("stall forever: no reply for %.1f s, connection open; clear serves new connections"
          % (time.monotonic() - t0))
    a.close()
    # stall-after: exactly N file bytes, then nothing on that connection; fires once
    n = 30000
    ds.ctl_ok("fault %s stall-after %d" % (UDID_A, n))
    kind, h = b.req(0x0d, struct.pack("<Q", 1) + b"big.bin\0")
    check_eq(kind, "handle", "FILE_OPEN big.bin")
    got = b""
    while True:
        b.send(0x0f, struct.pack("<QQ", h, 8192))
        try:
            kind, d = b.reply(timeout=1.5)
        except socket.timeout:
            break
        check_eq(kind, "data", "FILE_READ before the stall")
        if not d:
            fail("stall-after %d: the whole file (%d bytes) came" % (n, len(got)))
        got += d
    check_eq(got, BIG[:n], "bytes before the stall")
    check("stalling after %d file bytes" % n in ds.stderr_text(), "no stall-after log line")
    c = Afc(ds, UDID_A, 1)
    check_eq(c.read_file(b"big.bin"), BIG, "stall-after fires once: next connection reads all")
    b.close()
    c.close()
    print("stall-after %d: exactly %d bytes, then silence; the next connection read %d bytes"
          % (n, len(got), len(BIG)))


def hostile_names(ds):
    a = Afc(ds, UDID_A, 1)
    names = a.names(b".")
    check(BAD_UTF8 in names and CTRL in names, "raw names in READ_DIR: %r" % names)
    check_eq(a.read_file(BAD_UTF8), b"bad utf8\n", "file with an invalid UTF-8 name")
    check_eq(a.read_file(CTRL), b"control\n", "file with ESC/BEL in its name")
    a.close()
    tool = shutil.which("idevicecrashreport")
    if tool:
        out = os.path.join(os.fsencode(ds.dir), b"out")
        os.mkdir(out)
        r = ds.run([tool, "-u", UDID_A, "-k", out])
        check_eq(r.returncode, 0, "idevicecrashreport rc (%s)" % r.stderr[-300:])
        got = set(os.listdir(out))
        check(BAD_UTF8 in got and CTRL in got, "idevicecrashreport copied %r" % got)
    print("hostile names: READ_DIR and FILE_OPEN carry the raw bytes%s" %
          (" (idevicecrashreport copies them)" if tool else ""))


def long_device_name(ds):
    tool = shutil.which("ideviceinfo")
    t = tls_lockdown(ds, UDID_B, 2)
    ld_send(t, {"Request": "GetValue", "Key": "DeviceName"})
    # the XML plist carries ESC/BEL raw (as libplist writes them); python's expat refuses
    # such XML, libplist reads it
    body = recv_exact(t, struct.unpack(">I", recv_exact(t, 4))[0])
    m = re.search(rb"<key>Value</key>\s*<string>(.*?)</string>", body, re.S)
    check(m is not None, "GetValue DeviceName reply %r" % body[:300])
    check_eq(html.unescape(m.group(1).decode()), LONG_NAME, "GetValue DeviceName")
    t.close()
    if tool:
        r = ds.run([tool, "-u", UDID_B, "-k", "DeviceName"])
        out = r.stdout.rstrip(b"\n")
        check(r.returncode == 0 and len(out) == len(LONG_NAME) and
              out[10:] == LONG_NAME[10:].encode(), "ideviceinfo DeviceName: rc %d, %d bytes: %r"
              % (r.returncode, len(out), out[:40]))
        print("ideviceinfo shows the name's first bytes as %r" % out[:12])
    print("device name: %d characters with ESC/BEL served by lockdownd%s" % (
        len(LONG_NAME), " and ideviceinfo" if tool else ""))


def main():
    ds = Devsim(show_log=False)
    a = make_phone(ds.dir, "a", UDID_A, files={"big.bin": BIG})
    for name, data in ((BAD_UTF8, b"bad utf8\n"), (CTRL, b"control\n")):
        with open(os.path.join(os.fsencode(a), b"CrashReporter", name), "wb") as f:
            f.write(data)
    b = make_phone(ds.dir, "b", UDID_B, device_name=LONG_NAME)
    ds.start(phones_dirs=[a, b])
    try:
        deep_tree(ds)
        stalls(ds)
        hostile_names(ds)
        long_device_name(ds)
        ds.stop_clean()
    finally:
        ds.cleanup()
    print("PASS")


if __name__ == "__main__":
    main()
