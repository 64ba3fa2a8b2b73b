# chaos_common.py: helpers of the chaos suite (issue 11): latencies, RSS, big reports, truth, raw clients
"""Shared by tests/chaos/chaos_*.py. Processes and dirs come from tests/lib/harness.py.

    SANITIZED                  True under ASan/UBSan (JETSAM_SANITIZED=1 from meson, or
                               libasan in `ldd $JETSAMD`): tests use smaller counts and say so
    scaled(n, asan_n)          n, or asan_n when SANITIZED
    must(cond, what, figure)   soft check printing "ok"/"FAIL" with the must-show and the figure
    raise_nofile(n)            RLIMIT_NOFILE of this process (and so of jetsamd) to >= n
    rss_kib(pid) / vm_hwm_kib(pid)
    status_once(path, timeout) -> seconds one fresh connection takes for {"cmd":"status"}
    StatusPoller(path, period) thread: .start(), .stop() -> latencies; stats(lat) -> dict
    percentile(values, p)
    compact_report(path, incident, nproc, names, seed)   a JetsamEvent report with nproc kill
                               entries (compact JSON); names: a list cycled through, or None
                               for distinct names
    gen_phone_dir(root, name, udid, reports, seed)   jetsamgen phone (device.json + reports)
    truth_keys(phone_dirs)     report keys the phones hold (jetsamctl parse), once each
    daemon_keys(jd)            report keys the daemon stored (with repeats, as listed)
    lost_doubled(truth, got)   (lost, doubled) counts
    tmp_files(state_dir)       stray *.tmp under the archive
    raw_request(path, req, timeout) -> the raw reply line (bytes) on a fresh connection
    sync_wait(path, udid, timeout) -> the phone's `synced` entry of `sync` with wait
    import_raw(path, name, data, timeout) -> the import's reply (errors as a reply)
    stop_or_kill(jd, timeout)  SIGTERM, then SIGKILL after timeout (cleanup of a wedged daemon)
    bad_utf8_lines(lines)      lines that are not strict UTF-8
    control_bytes(data)        offsets of bytes < 0x20 other than \\n
    NotifyListener(path, paused)  a private NOTIFY_SOCKET that timestamps every datagram;
                               paused: read by nobody until .resume()
"""
import collections
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from harness import check, fail  # noqa: E402,F401


def _sanitized():
    v = os.environ.get("JETSAM_SANITIZED")
    if v in ("0", "1"):
        return v == "1"
    exe = os.environ.get("JETSAMD")
    if not exe:
        return False
    try:
        out = subprocess.run(["ldd", exe], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"libasan" in out or b"libubsan" in out


SANITIZED = _sanitized()

# meson's timeout sends SIGTERM: fail() then stops devsim/jetsamd and removes the dirs (and
# runs the on_fail handlers, e.g. an unmount) instead of leaving them behind
signal.signal(signal.SIGTERM, lambda *_a: harness.fail("SIGTERM (the meson timeout?)"))


def scaled(n, asan_n):
    return asan_n if SANITIZED else n


def banner(name, what):
    print("== %s: %s%s" % (name, what, " (sanitizer build: JETSAM_SANITIZED=1)" if SANITIZED
                           else ""), flush=True)


def must(cond, what, figure):
    """A must-show: prints the requirement and the measured figure ("ok   ..." or
    "FAIL: ..."); soft: harness.finish() ends the test with the count of failures."""
    msg = "%s [measured: %s]" % (what, figure)
    if not harness.expect(cond, msg):
        return False
    print("ok   " + msg, flush=True)
    return True


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n)
    if hard != resource.RLIM_INFINITY and want > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def _proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def rss_kib(pid):
    return _proc_status(pid, "VmRSS")


def vm_hwm_kib(pid):
    return _proc_status(pid, "VmHWM")


def status_once(path, timeout=5):
    """Seconds from connect to the end of a status reply on a fresh connection."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(b'{"id":1,"cmd":"status"}\n')
        buf = b""
        while b"\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise EOFError("closed after %d bytes" % len(buf))
            buf += d
        r = json.loads(buf.split(b"\n", 1)[0])
        if not r.get("ok"):
            raise ValueError("status failed: %r" % r)
    finally:
        s.close()
    return time.monotonic() - t0


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def stats(lat):
    return {"n": len(lat), "p50_ms": percentile(lat, 50) * 1000,
            "p99_ms": percentile(lat, 99) * 1000, "max_ms": max(lat) * 1000 if lat else 0}


class StatusPoller:
    """Sends {"cmd":"status"} on one connection every `period` s and times each reply.

    A request that gets no reply within `timeout` counts as `timeout` seconds and the
    poller reconnects (so a wedged daemon shows as a max latency, not as a hang)."""

    def __init__(self, path, period=0.02, timeout=30, fresh=False):
        self.path, self.period, self.timeout, self.fresh = path, period, timeout, fresh
        self.lat = []
        self.errors = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(self.timeout + 5)
        return self.lat

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        return s

    def _run(self):
        s, buf, rid = None, b"", 0
        while not self._stop.is_set():
            rid += 1
            t0 = time.monotonic()
            try:
                if s is None or self.fresh:
                    if s is not None:
                        s.close()
                    s, buf = self._connect(), b""
                s.sendall(b'{"id":%d,"cmd":"status"}\n' % rid)
                while True:
                    while b"\n" not in buf:
                        d = s.recv(1 << 16)
                        if not d:
                            raise EOFError("daemon closed the poller's connection")
                        buf += d
                    line, buf = buf.split(b"\n", 1)
                    if b'"id":%d,' % rid in line or b'"id":%d}' % rid in line:
                        break
                self.lat.append(time.monotonic() - t0)
            except (OSError, EOFError) as e:
                self.lat.append(time.monotonic() - t0)
                self.errors.append(repr(e))
                if s is not None:
                    s.close()
                s = None
                time.sleep(0.05)
            self._stop.wait(self.period)
        if s is not None:
            s.close()


class NotifyListener:
    """A NOTIFY_SOCKET of our own: every datagram line with its monotonic time. paused: bound
    but read by nobody until resume(), a service manager that reads nothing."""

    def __init__(self, path, paused=False):
        self.path = path
        self.msgs = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._reading = threading.Event()
        if not paused:
            self._reading.set()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def resume(self):
        self._reading.set()

    def _run(self):
        while not self._stop.is_set():
            if not self._reading.wait(0.1):
                continue
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            for line in d.decode(errors="replace").split("\n"):
                if line:
                    self.msgs.append((now, line))

    def times(self, prefix):
        return [t for t, m in list(self.msgs) if m.startswith(prefix)]

    def wait(self, prefix, timeout, proc=None):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.times(prefix):
                return True
            if proc is not None and proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def close(self):
        self._stop.set()
        self._t.join(2)
        self.sock.close()


def compact_report(path, incident, nproc, names=None, seed=1, product="iPhone13,2",
                   build="19F77", osv="15.5"):
    """A JetsamEvent report whose nproc process entries are all kills (compact JSON)."""
    rng = random.Random(seed)
    reasons = ("per-process-limit", "vm-pageshortage", "highwater")
    hdr = {"bug_type": "298", "timestamp": "2022-04-02 12:17:09.65 -0400",
           "os_version": "iPhone OS %s (%s)" % (osv, build), "incident_id": incident}
    parts = []
    for i in range(nproc):
        name = names[i % len(names)] if names else "proc-%06d-%d" % (i, seed)
        parts.append('{"pid":%d,"name":"%s","rpages":%d,"reason":"%s","states":["daemon"]}'
                     % (i + 1, name, 100 + rng.randrange(100000),
                        reasons[0] if names is None else reasons[i % 3]))
    body = ('{"product":"%s","incident":"%s","date":"2022-04-02 12:17:09.64 -0400",'
            '"build":"iPhone OS %s (%s)","memoryStatus":{"pageSize":16384},'
            '"largestProcess":"proc","processes":[' % (product, incident, osv, build)
            + ",".join(parts) + "]}\n")
    data = (json.dumps(hdr) + "\n" + body).encode()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return data


def incident(seed, i):
    r = random.Random(seed * 100003 + i)
    h = "%032X" % r.getrandbits(128)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def device_json(d, udid, name="Chaos iPhone", **extra):
    cfg = {"udid": udid, "product_type": "iPhone13,2", "product_version": "15.5",
           "build_version": "19F77", "device_name": name}
    cfg.update(extra)
    os.makedirs(os.path.join(d, "CrashReporter"), exist_ok=True)
    with open(os.path.join(d, "device.json"), "w") as f:
        json.dump(cfg, f)
    return d


def gen_phone_dir(root, name, udid, reports, seed):
    d = os.path.join(root, name)
    p = subprocess.run([harness.binary("JETSAMGEN"), "phone", "--dir", d, "--udid", udid,
                        "--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
                        "--name", name, "--reports", str(reports), "--seed", str(seed)],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        fail("jetsamgen phone: rc %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    return d


def truth_keys(phone_dirs):
    """key -> udid of every report the phones hold (jetsamctl parse), once each."""
    from devices_common import expected_from_trees
    return {k: r["udid"] for k, r in expected_from_trees(phone_dirs).items()}


def daemon_reports(path, timeout=60):
    """Every stored report (read leniently: invalid UTF-8 in a reply must not hide them)."""
    line = raw_request(path, {"id": 1, "cmd": "reports", "limit": 100000}, timeout)
    try:
        r = json.loads(line.decode("utf-8", errors="replace"))
    except ValueError:
        fail("reports reply is not JSON: %r" % line[:300])
    if not r.get("ok"):
        fail("reports failed: %r" % r)
    return r["result"]["reports"]


def daemon_keys(path, timeout=60):
    return [r["key"] for r in daemon_reports(path, timeout)]


def lost_doubled(truth, got):
    cnt = collections.Counter(got)
    lost = sum(1 for k in truth if cnt[k] == 0)
    doubled = sum(n - 1 for n in cnt.values() if n > 1)
    return lost, doubled


def tmp_files(state_dir):
    out = []
    for dirpath, _dirs, files in os.walk(state_dir):
        for n in files:
            if n.endswith(".tmp") or ".tmp." in n or n.startswith(".tmp"):
                out.append(os.path.relpath(os.path.join(dirpath, n), state_dir))
    return out


def raw_request(path, req, timeout=30):
    """One request on a fresh connection; its raw reply line (bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
        return buf.split(b"\n", 1)[0]
    finally:
        s.close()


def import_raw(path, name, data, timeout=60):
    """An import on a fresh connection: the reply dict, or {"ok": False, "error": why} when
    the daemon closes or times out (never ends the test: threads use it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(json.dumps({"id": 1, "cmd": "import", "name": name,
                              "size": len(data)}).encode() + b"\n")
        s.sendall(data)
        buf = b""
        while b"\n" not in buf:
            d = s.recv(1 << 20)
            if not d:
                return {"ok": False, "error": "closed after %d bytes" % len(buf)}
            buf += d
        return json.loads(buf.split(b"\n", 1)[0].decode("utf-8", errors="replace"))
    except (OSError, ValueError) as e:
        return {"ok": False, "error": repr(e)}
    finally:
        s.close()


def sync_wait(path, udid, timeout=120):
    """`sync` with wait on a fresh connection: the phone's entry of `synced` (a failed
    sync is a result here, not an error), or {"state": None, "error": why}. A phone the
    daemon does not know yet (`not_found`: a daemon just started has not heard usbmuxd's
    attach yet) is asked again until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        line = raw_request(path, {"id": 1, "cmd": "sync", "udid": udid, "wait": True},
                           max(1.0, deadline - time.monotonic()))
        try:
            r = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            return {"state": None, "error": "reply is not JSON: %r" % line[:200]}
        if r.get("ok"):
            return {s["udid"]: s for s in r["result"]["synced"]}.get(udid, {"state": None})
        err = r.get("error") or {}
        if (isinstance(err, dict) and err.get("code") == "not_found" and
                time.monotonic() + 0.2 < deadline):
            time.sleep(0.2)
            continue
        return {"state": None, "error": err}


def bad_utf8_lines(lines):
    bad = []
    for line in lines:
        try:
            line.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            bad.append((e.start, line[max(0, e.start - 40):e.start + 20]))
    return bad


def control_bytes(data, allowed=b"\n"):
    return [i for i, b in enumerate(data) if b < 0x20 and b not in allowed]


def stop_or_kill(jd, timeout=10):
    """Stop jetsamd if it runs (SIGTERM, then SIGKILL): for cleanup paths. Returns the exit
    code, or None when it had to be killed (printed)."""
    if jd is None or not jd.running():
        return None
    t0 = time.monotonic()
    jd.proc.terminate()
    try:
        rc = jd.proc.wait(timeout)
        print("SIGTERM: exit %s after %.1f s" % (rc, time.monotonic() - t0))
    except subprocess.TimeoutExpired:
        print("SIGTERM: no exit within %.0f s: SIGKILL" % timeout)
        rc = None
    jd.kill()  # reaps it and forgets it (also after a clean exit)
    return rc
