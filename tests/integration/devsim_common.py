# devsim_common.py: helpers shared by the devsim integration tests (start devsim, phones, trees)
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import plistlib

SKIP = 77


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def check_eq(got, want, what):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


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


def devsim_path():
    p = os.environ.get("DEVSIM")
    if not p or not os.access(p, os.X_OK):
        fail("DEVSIM must point at the devsim binary")
    return p


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


def tmp_state(path):
    """Explain a missing test path: was the whole private /tmp/jt-* dir removed under us?"""
    parts = path.split(os.sep)
    if len(parts) > 2 and parts[1] == "tmp":
        top = os.sep.join(parts[:3])
        if not os.path.isdir(top):
            return "the test dir '%s' is gone: removed by another process" % top
    return "the test dir still exists"


class Devsim:
    """A devsim process with a private temp dir, socket and control socket."""

    def __init__(self, verbose=False):
        self.exe = devsim_path()
        self.tmp = tempfile.mkdtemp(prefix="jt-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "mux.sock")
        self.ctl_path = os.path.join(self.tmp, "ctl.sock")
        self.log_path = os.path.join(self.tmp, "devsim.log")
        self.verbose = verbose
        self.proc = None
        self.env = dict(os.environ)
        self.env["USBMUXD_SOCKET_ADDRESS"] = "UNIX:" + self.sock

    def start(self, dirs):
        args = [self.exe, "--socket", self.sock, "--control", self.ctl_path]
        if self.verbose:
            args.append("--verbose")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args + list(dirs), stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 60  # a readiness wait, generous for loaded ASan runs
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("devsim exited with %d:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.ctl_path):
                try:
                    self.ctl("list")
                    return
                except OSError:
                    pass
            time.sleep(0.02)
        fail("devsim did not start:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no devsim log: %s)" % tmp_state(self.log_path)

    def ctl(self, line):
        """Send one control command; return the reply lines (the last is ok or error: ...)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.ctl_path)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while True:
            lines = buf.decode().split("\n")
            done = [l for l in lines[:-1] if l == "ok" or l.startswith("error: ")]
            if done:
                break
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return buf.decode().rstrip("\n").split("\n")

    def ctl_ok(self, line):
        r = self.ctl(line)
        check_eq(r[-1], "ok", "reply to control command %r" % line)
        return r[:-1]

    def run(self, args, timeout=90):
        return subprocess.run(args, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def popen(self, args):
        return subprocess.Popen(args, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM devsim; it must exit 0 (under ASan this also means no leaks)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail("devsim did not stop on SIGTERM:\n" + self.log())
        self.logf.close()
        code = self.proc.returncode
        if code != 0:
            fail("devsim exited with %d:\n%s" % (code, self.log()))
        check(not os.path.exists(self.sock), "devsim left its socket behind")

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


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
