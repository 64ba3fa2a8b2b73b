# devsim_common.py: helpers of the devsim integration tests (phone dirs, tree snapshots, raw usbmux/lockdown clients)
"""The devsim process itself is harness.Devsim (tests/lib/harness.py), as are check/fail."""
import json
import os
import shutil
import socket
import struct
import sys
import plistlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import SKIP, check_eq, fail, tmp_state  # noqa: E402


def need_tools(*names):
    """Return the paths of the libimobiledevice tools, or skip the test if one is missing."""
    paths = {}
    for n in names:
        p = shutil.which(n)
        if not p:
            print("SKIP: %s not installed (Debian package libimobiledevice-utils)" % n)
            sys.exit(SKIP)
        paths[n] = p
    return paths


def make_phone(root, name, udid, product_type="iPhone13,2", product_version="15.5",
               build_version="19F77", device_name="Lab iPhone", files=None, pending=None,
               links=None, **extra):
    """Create a DEVICE_DIR: device.json, CrashReporter/ files and symlinks, pending/ files."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "CrashReporter"))
    cfg = {"udid": udid, "product_type": product_type, "product_version": product_version,
           "build_version": build_version, "device_name": device_name}
    cfg.update(extra)
    with open(os.path.join(d, "device.json"), "w") as f:
        json.dump(cfg, f)
    for base, tree in (("CrashReporter", files or {}), ("pending", pending or {})):
        for rel, data in tree.items():
            p = os.path.join(d, base, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
    for rel, target in (links or {}).items():
        os.symlink(target, os.path.join(d, "CrashReporter", rel))
    return d


def snapshot(path):
    """Map every path below `path` to ('d',), ('f', bytes) or ('l', target).

    `path` must be a directory: os.walk() yields nothing for a missing one, and two
    snapshots of missing trees would compare equal and make a check pass or fail vacuously.
    """
    if not os.path.isdir(path):
        fail("cannot snapshot '%s': not a directory (%s)" % (path, tmp_state(path)))
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, path)
            if os.path.islink(p):
                out[rel] = ("l", os.readlink(p))
                if n in dirnames:
                    dirnames.remove(n)
            elif os.path.isdir(p):
                out[rel] = ("d",)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("f", f.read())
    return out


# --- raw usbmuxd / lockdown clients for the garbage tests ---

def mux_connect_raw(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


def mux_request(s, msg, tag=1):
    body = plistlib.dumps(msg, fmt=plistlib.FMT_XML)
    s.sendall(struct.pack("<IIII", 16 + len(body), 1, 8, tag) + body)
    hdr = recv_exact(s, 16)
    length, version, mtype, rtag = struct.unpack("<IIII", hdr)
    check_eq((version, mtype, rtag), (1, 8, tag), "usbmux reply header")
    return plistlib.loads(recv_exact(s, length - 16))


def mux_open_port(path, device_id, port):
    """Connect to a device port through usbmuxd; returns the raw stream socket."""
    s = mux_connect_raw(path)
    swapped = ((port & 0xff) << 8) | (port >> 8)
    r = mux_request(s, {"MessageType": "Connect", "DeviceID": device_id,
                        "PortNumber": swapped, "ProgName": "devsim-test"})
    check_eq(r.get("Number"), 0, "Connect result for port %d" % port)
    return s


def ld_send(s, msg):
    body = plistlib.dumps(msg, fmt=plistlib.FMT_XML)
    s.sendall(struct.pack(">I", len(body)) + body)


def ld_recv(s):
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    return plistlib.loads(recv_exact(s, n))


def is_closed(s, timeout=5):
    """True when the peer closed the connection (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
