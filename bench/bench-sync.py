#!/usr/bin/env python3
# bench-sync.py: benchmark rows a, b, c, f: jetsamd sync speed vs idevicecrashreport, re-sync, 32 phones, idle RSS and wake-ups
"""usage: bench-sync.py [--rows abcf] [--idle-seconds 60] [--runs 3] [--link KIND]
                     [--bus-bandwidth RATE] [--no-warmup] [--keep]

Environment: JETSAMD, DEVSIM, JETSAMGEN (built binaries), IDEVICECRASHREPORT (optional; rows
a and c compare with it), STRACE (optional, default: strace on PATH; row b2), LIBCJSON
(optional: the libcjson row c2 calls through ctypes; default: the system's),
BENCH_JETSAMD_CONF (optional: more jetsamd.conf lines, separated by ";", e.g.
"max_parallel_syncs = 6", for an experiment; bench/run never sets it).
Rows: a (full sync of 500 reports vs idevicecrashreport -k), b (re-sync of the unchanged
phone / full sync), b2 (sleeps of >= 100 ms while the daemon re-syncs, by strace), c (32
phones x 100 reports: jetsamd vs 32 idevicecrashreport -k at once), c2 (jetsamd CPU per
report during c vs raw cJSON parse of the same files), c3 (row c's floor on this machine:
the CPU any collector must spend, over the cores; bytes over the shared bus cap), f1 (VmRSS and private anonymous
memory idle with 32 phones), f2 (idle wake-ups). Timed figures are min and median of
--runs runs; ratios are of medians from this same run.
Prints progress on stderr and one result line per row on stdout:
    ROW<TAB>id<TAB>what<TAB>figure<TAB>target<TAB>met|not met|n/a
--link usb2 (or usb3) runs devsim with that emulated USB link (tests/devsim/README.md);
the row ids then end in "-usb2" and their text says so. usb2 also caps the bus shared by
all phones at 40 MB/s (one USB 2.0 hub; --bus-bandwidth overrides, 0 = unlimited).
Figures are printed, never asserted."""
import argparse
import ctypes
import ctypes.util
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ENV = os.environ


def log(msg):
    print(f"bench-sync: {msg}", file=sys.stderr, flush=True)


PRINTED = set()
LINK = "loopback"  # devsim --link, set by --link
BUS = None  # devsim --bus-bandwidth, set by --bus-bandwidth (usb2: 40MB/s)


def row(rid, what, figure, target, met):
    status = "n/a" if met is None else ("met" if met else "not met")
    if LINK != "loopback" and not rid.endswith("-" + LINK):
        rid, what = f"{rid}-{LINK}", f"{what} (devsim --link {LINK})"
    PRINTED.add(rid)
    print(f"ROW\t{rid}\t{what}\t{figure}\t{target}\t{status}", flush=True)


def row_na(rid, what, target, reason):
    if rid not in PRINTED and f"{rid}-{LINK}" not in PRINTED:
        row(rid, what, f"not available: {reason}", target, None)


def min_med(v):
    """(min, median) of a list of timings"""
    return min(v), statistics.median(v)


def fmt_s(v):
    """'min X / med Y s' of a list of timings in seconds"""
    lo, med = min_med(v)
    return f"min {lo:.2f} / med {med:.2f} s"


def wait_for(pred, timeout, step=0.01, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---------------------------------------------------------------------------------------
# simulated phones

PRODUCTS = [
    ("iPhone13,2", "15.5", "19F77"),
    ("iPhone14,5", "17.0.3", "21A360"),
    ("iPhone12,1", "14.2", "18B5061e"),
    ("iPad8,2", "13.1.2", "17A860"),
]


def make_phone(path, index, reports, pending=0):
    """One simulated phone with `reports` JetsamEvent reports; returns its udid."""
    product, os_version, build = PRODUCTS[index % len(PRODUCTS)]
    udid = f"00008101-{0xB0000000 + index:016X}"
    cmd = [ENV["JETSAMGEN"], "phone", "--dir", path, "--udid", udid,
           "--product", product, "--os-version", os_version, "--build", build,
           "--name", f"Bench phone {index}", "--reports", str(reports),
           "--pending", str(pending), "--seed", str(1000 + index)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return udid


def count_files(root):
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc/PID/stat"""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """utime + stime of this process's waited-for children"""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Devsim:
    def __init__(self, work, dirs):
        self.sock = os.path.join(work, "mux.sock")
        self.ctl = os.path.join(work, "dev.ctl")
        self.logf = open(os.path.join(work, "devsim.log"), "wb")
        bus = ["--bus-bandwidth", BUS] if BUS else []
        self.proc = subprocess.Popen([ENV["DEVSIM"], "--socket", self.sock, "--control",
                                      self.ctl, "--link", LINK, *bus, *dirs],
                                     stdout=self.logf, stderr=self.logf)
        wait_for(lambda: os.path.exists(self.sock) and os.path.exists(self.ctl), 20,
                 what="devsim sockets")

    def cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid)

    def control(self, *lines):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.ctl)
            f = s.makefile("rwb")
            replies = []
            for line in lines:
                f.write(line.encode() + b"\n")
                f.flush()
                replies.append(f.readline().decode().strip())
            for line, reply in zip(lines, replies):
                if not reply.startswith("ok"):
                    raise RuntimeError(f"devsim '{line}': {reply}")
            return replies

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


class Client:
    """A jetsamd protocol v1 client (JSON lines), with its own receive buffer."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1

    def read_msg(self, timeout=None):
        """The next message, or None when `timeout` seconds pass without one."""
        while b"\n" not in self.buf:
            self.s.settimeout(timeout)
            try:
                chunk = self.s.recv(1 << 16)
            except socket.timeout:
                return None
            if not chunk:
                raise RuntimeError("jetsamd closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd, **args):
        rid = self.next_id
        self.next_id += 1
        self.s.settimeout(None)
        self.s.sendall(json.dumps({"id": rid, "cmd": cmd, **args}).encode() + b"\n")
        while True:
            msg = self.read_msg()
            if msg.get("id") != rid:
                continue  # a push
            if not msg.get("ok"):
                raise RuntimeError(f"jetsamd '{cmd}': {msg.get('error')}")
            return msg["result"]

    def close(self):
        self.s.close()


class Jetsamd:
    def __init__(self, work, mux_sock, resync="3600s", tag="d"):
        self.dir = os.path.join(work, f"jetsamd-{tag}")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "ctl.sock")
        conf = os.path.join(self.dir, "jetsamd.conf")
        with open(conf, "w") as f:
            f.write(f"resync_interval = {resync}\n")
            f.write(ENV.get("BENCH_JETSAMD_CONF", "").replace(";", "\n") + "\n")
        self.logf = open(os.path.join(self.dir, "jetsamd.log"), "wb")
        self.proc = subprocess.Popen(
            [ENV["JETSAMD"], "--config", conf, "--socket", self.sock, "--state-dir",
             os.path.join(self.dir, "state"), "--usbmuxd-socket", f"UNIX:{mux_sock}"],
            stdout=self.logf, stderr=self.logf)
        wait_for(self._connect, 30, step=0.02, what="jetsamd socket")

    def _connect(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"jetsamd exited with {self.proc.returncode} "
                               f"(log: {self.logf.name})")
        try:
            self.client = Client(self.sock)
            return True
        except OSError:
            return False

    def devices(self):
        return {d["udid"]: d for d in self.client.call("devices")["devices"]}

    def subscribe(self):
        """Open a devices subscription before the phones arrive (so no state change is missed)."""
        self.sub = Client(self.sock)
        self.sub.call("subscribe", topics=["devices"])

    def wait_synced(self, udids, reports, timeout=600, since=None):
        """Wait until every udid is idle with `reports` reports; returns the time it took.

        Driven by the daemon's device pushes (no polling load on the loop being measured),
        with a `devices` query every 0.5 s as a safety net; subscribe() must come first."""
        t0 = time.monotonic() if since is None else since
        want = set(udids)
        done = set()

        def good(d):
            if d.get("state") == "error":
                raise RuntimeError(f"phone {d.get('udid')}: {d.get('error')}")
            return d.get("state") == "idle" and (d.get("reports") or 0) >= reports

        while done != want:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"{len(want - done)} of {len(want)} phone(s) not synced "
                                   f"after {timeout} s")
            msg = self.sub.read_msg(timeout=0.5)
            if msg is None:
                for u, d in self.devices().items():
                    if u in want and good(d):
                        done.add(u)
                continue
            d = msg.get("device") if msg.get("push") == "device" else None
            if d and d.get("udid") in want and good(d):
                done.add(d["udid"])
        return time.monotonic() - t0

    def proc_status(self):
        """RSS of the process, and context switches summed over its threads."""
        rss = 0
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        switches = 0
        task = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(task):
            try:
                with open(f"{task}/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches:",
                                            "nonvoluntary_ctxt_switches:")):
                            switches += int(line.split()[1])
            except FileNotFoundError:
                pass
        return rss, switches, len(os.listdir(task))

    def cpu_seconds(self):
        """utime + stime of the daemon (all its threads), from /proc/PID/stat"""
        return proc_cpu_seconds(self.proc.pid)

    def smaps_rollup(self):
        """/proc/PID/smaps_rollup as {field: bytes}"""
        out = {}
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1]) * 1024
        return out

    def stop(self):
        for c in (getattr(self, "sub", None), self.client):
            try:
                c.close()
            except Exception:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


# ---------------------------------------------------------------------------------------
# rows

def icr_path():
    return ENV.get("IDEVICECRASHREPORT") or shutil.which("idevicecrashreport")


SETTLE_S = 5.0


def settle():
    """Before each timed run of either tool: ext4 without a journal (as here) will not reuse
    an inode freed in the last few seconds, and scans past each one for every new file; the
    previous run's outputs were just deleted, so the next run's file creations would pay
    for them (about a fifth of jetsamd's CPU in row c, measured with perf). Flush and wait
    them out, the same for both sides."""
    os.sync()
    time.sleep(SETTLE_S)


def icr_once(icr, dev, udid, out, n):
    """idevicecrashreport -k of one phone into `out`; returns its wall time"""
    env = dict(ENV, USBMUXD_SOCKET_ADDRESS=f"UNIX:{dev.sock}")
    os.makedirs(out)
    settle()
    t0 = time.monotonic()
    p = subprocess.run([icr, "-u", udid, "-k", out], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    got = count_files(out)
    shutil.rmtree(out)
    if p.returncode != 0 or got < n:
        raise RuntimeError(f"idevicecrashreport exit {p.returncode}, {got} files: "
                           f"{p.stderr.decode(errors='replace').strip()[:200]}")
    return dt


def rows_ab(work, runs, warmup=True):
    n = 500
    phone = os.path.join(work, "p500")
    log(f"a: generating one phone with {n} reports")
    udid = make_phone(phone, 0, n)
    files = count_files(os.path.join(phone, "CrashReporter")) + \
        count_files(os.path.join(phone, "pending"))
    size = sum(os.path.getsize(os.path.join(r, f))
               for r, _, fs in os.walk(phone) for f in fs)
    log(f"a: {files} files, {size / 1048576:.1f} MiB on the phone")
    dev = Devsim(work, [phone])
    d = None
    try:
        icr = icr_path()
        icr_times = []
        if icr:
            # one uncounted run first: both tools then read the phone's files from a warm
            # page cache (they were just written, so --no-warmup saves time in a smoke run;
            # on an emulated link the link's time dwarfs the page cache's: no warm-up)
            warmup = warmup and LINK == "loopback"
            for i in range(-1 if warmup else 0, runs):
                dt = icr_once(icr, dev, udid, os.path.join(work, f"icr-{i}"), n)
                if i < 0:
                    log(f"a: idevicecrashreport -k warm-up: {dt:.3f} s")
                    continue
                icr_times.append(dt)
                log(f"a: idevicecrashreport -k run {i + 1}: {dt:.3f} s")
        dev.control(f"detach {udid}")
        jd_times = []
        for i in range(runs):
            if d is not None:
                d.stop()
                shutil.rmtree(d.dir, ignore_errors=True)
                dev.control(f"detach {udid}")
            settle()
            d = Jetsamd(work, dev.sock, tag=f"a{i}")
            d.subscribe()
            t0 = time.monotonic()
            dev.control(f"attach {phone}")
            dt = d.wait_synced([udid], n, since=t0)
            jd_times.append(dt)
            log(f"a: jetsamd full sync run {i + 1}: {dt:.3f} s")
        full = statistics.median(jd_times)
        if icr_times:
            ref = statistics.median(icr_times)
            ratio = full / ref
            row("a", f"full sync, 1 phone x {n} reports: jetsamd vs idevicecrashreport -k",
                f"{fmt_s(jd_times)} vs {fmt_s(icr_times)} = {ratio:.2f}x (medians, "
                f"{runs} run{'s' if runs > 1 else ''} each)", "<= 0.4x", ratio <= 0.4)
        else:
            row("a", f"full sync, 1 phone x {n} reports (idevicecrashreport not installed)",
                fmt_s(jd_times), "<= 0.4x idevicecrashreport", None)

        # b: the phone is unchanged: a sync on request must be cheap
        times = []
        for i in range(max(runs, 5)):
            t0 = time.monotonic()
            d.client.call("sync", udid=udid, wait=True)
            times.append(time.monotonic() - t0)
        lo, resync = min_med(times)
        pct = 100.0 * resync / full
        log(f"b: re-syncs: {', '.join(f'{t * 1000:.1f}' for t in times)} ms")
        row("b", "re-sync of the unchanged phone (sync --wait) / full sync",
            f"min {lo * 1000:.1f} / med {resync * 1000:.1f} ms = {pct:.2f} % of the median "
            f"full sync ({len(times)} re-syncs)", "<= 2 %", pct <= 2.0)
        try:
            row_b2(d, udid)
        except Exception as e:  # b2 says why; a and b stand
            log(f"row b2 failed: {e}")
            rows_na("b", str(e)[:120])
    finally:
        if d is not None:
            d.stop()
        dev.stop()


# strace -T lines: "PID name(args) = RET <SECONDS>" or "PID <... name resumed>...) = RET <S>"
STRACE_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\().*\)\s+=\s+(-?\d+|\?)"
                         r"[^<]*<([0-9.]+)>\s*$")


def count_sleeps(path):
    """(sleeps, waits): sleeps are clock_nanosleep/nanosleep calls of >= 100 ms and
    select/poll calls that timed out (returned 0) after >= 100 ms; waits are select/poll
    calls of >= 100 ms that ended with data (a thread waiting for the phone)"""
    sleeps = waits = 0
    with open(path, errors="replace") as f:
        for line in f:
            m = STRACE_LINE.match(line)
            if not m or float(m.group(5)) < 0.1:
                continue
            name = m.group(2) or m.group(3)
            if name in ("clock_nanosleep", "nanosleep") or m.group(4) == "0":
                sleeps += 1
                log(f"b2: sleep: {line.strip()[:160]}")
            else:
                waits += 1
    return sleeps, waits


def row_b2(d, udid, syncs=5):
    what = "sleeps >= 100 ms in the daemon during re-syncs (strace -f)"
    strace = ENV.get("STRACE") or shutil.which("strace")
    if not strace:
        row("b2", what, "not measured: strace not installed", "0", None)
        return
    out = os.path.join(d.dir, "strace.txt")
    err = os.path.join(d.dir, "strace.err")
    with open(err, "wb") as ef:
        p = subprocess.Popen([strace, "-f", "-T", "-o", out, "-e",
                              "trace=clock_nanosleep,nanosleep,select,poll",
                              "-p", str(d.proc.pid)], stderr=ef)
    try:
        # strace says "Process N attached" once it traces every thread
        wait_for(lambda: p.poll() is not None or b"attached" in open(err, "rb").read(), 20,
                 what="strace to attach")
        if p.poll() is not None:
            raise RuntimeError(f"strace exited with {p.returncode}: "
                               f"{open(err, errors='replace').read().strip()[:120]}")
        for _ in range(syncs):
            d.client.call("sync", udid=udid, wait=True)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)  # detaches from the daemon, which keeps running
            p.wait(30)
    sleeps, waits = count_sleeps(out)
    log(f"b2: strace over {syncs} re-syncs: {sleeps} sleep(s) >= 100 ms, {waits} wait(s) "
        f">= 100 ms that ended with data")
    row("b2", what, f"{sleeps} in {syncs} re-syncs (clock_nanosleep/nanosleep >= 100 ms, "
        f"select/poll timed out after >= 100 ms)", "0", sleeps == 0)


def icr_parallel(icr, dev, udids, work, n):
    """idevicecrashreport -k of every phone at once; returns the wall time until the last ends
    and the CPU seconds the idevicecrashreports and devsim used meanwhile"""
    env = dict(ENV, USBMUXD_SOCKET_ADDRESS=f"UNIX:{dev.sock}")
    outs = [os.path.join(work, f"icr-c-{k:02d}") for k in range(len(udids))]
    for o in outs:
        os.makedirs(o)
    settle()
    c0 = children_cpu_seconds() + dev.cpu_seconds()
    t0 = time.monotonic()
    procs = [subprocess.Popen([icr, "-u", u, "-k", o], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for u, o in zip(udids, outs)]
    errs = [p.communicate()[1] for p in procs]
    dt = time.monotonic() - t0
    cpu = children_cpu_seconds() + dev.cpu_seconds() - c0
    for p, o, e in zip(procs, outs, errs):
        got = count_files(o)
        shutil.rmtree(o)
        if p.returncode != 0 or got < n:
            raise RuntimeError(f"idevicecrashreport exit {p.returncode}, {got} files: "
                               f"{e.decode(errors='replace').strip()[:200]}")
    return dt, cpu


def raw_cjson_per_report(files, rounds=3):
    """CPU seconds (this process's utime + stime) of cJSON_ParseWithLength + cJSON_Delete per
    file, called through ctypes on the libcjson jetsamd links; a file whose first line is a
    JSON object (the .ips header) is parsed as two documents, as the daemon does. Best of
    `rounds` rounds; returns (seconds, None) or (None, why)"""
    try:
        lib = ctypes.CDLL(ENV.get("LIBCJSON") or ctypes.util.find_library("cjson")
                          or "libcjson.so.1")
    except OSError as e:
        return None, f"libcjson not loadable ({e})"
    lib.cJSON_ParseWithLength.restype = ctypes.c_void_p
    lib.cJSON_ParseWithLength.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.cJSON_Delete.argtypes = [ctypes.c_void_p]
    docs = []
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        nl = data.find(b"\n")
        if data.startswith(b"{") and nl > 1 and data[nl - 1:nl] == b"}":
            docs += [data[:nl + 1], data[nl + 1:]]
        else:
            docs.append(data)
    parse, delete = lib.cJSON_ParseWithLength, lib.cJSON_Delete
    best = None
    for _ in range(rounds):
        t0 = time.process_time()
        for doc in docs:
            delete(parse(doc, len(doc)))
        dt = time.process_time() - t0
        best = dt if best is None else min(best, dt)
    size = sum(len(d) for d in docs)
    log(f"c2: raw cJSON on {len(files)} files ({size / 1e6:.1f} MB): best of {rounds} rounds "
        f"{best:.3f} s CPU = {size / 1e6 / best:.0f} MB/s")
    return best / len(files), None


def rows_cf(work, idle_seconds, runs, with_f=True):
    n, m = 100, 32
    log(f"c: generating {m} phones with {n} reports each")
    many = []
    for i in range(m):
        path = os.path.join(work, f"c-{i:02d}")
        many.append((path, make_phone(path, 200 + i, n)))
    udids = [u for _, u in many]
    dev = Devsim(work, [])
    d = None
    try:
        icr = icr_path()
        icr_times, jd_times, cpu, raws = [], [], [], []
        icr_cpu, dev_cpu = [], []  # CPU of the 32 idevicecrashreports + devsim; devsim's in jetsamd's runs
        # c2's reference: raw cJSON on the same generated files (4 of the phones), measured
        # after each daemon run so that both see the same machine load
        files = sorted(os.path.join(p, "CrashReporter", f) for p, _ in many[:4]
                       for f in os.listdir(os.path.join(p, "CrashReporter"))
                       if f.startswith("JetsamEvent-"))
        why = None
        for i in range(runs):
            # each side sees phones it never synced: a fresh output dir per
            # idevicecrashreport, a fresh daemon with an empty state dir per run
            if d is not None:
                d.stop()
                shutil.rmtree(d.dir, ignore_errors=True)
                dev.control(*[f"detach {u}" for u in udids])
            if icr:
                dev.control(*[f"attach {p}" for p, _ in many])
                dt, icpu = icr_parallel(icr, dev, udids, work, n)
                icr_times.append(dt)
                icr_cpu.append(icpu)
                log(f"c: {m} idevicecrashreport -k at once, run {i + 1}: {dt:.3f} s, CPU "
                    f"{icpu:.2f} s (with devsim's)")
                dev.control(*[f"detach {u}" for u in udids])
            settle()
            d = Jetsamd(work, dev.sock, tag=f"c{i}")
            d.subscribe()
            c0, dc0 = d.cpu_seconds(), dev.cpu_seconds()
            t0 = time.monotonic()
            dev.control(*[f"attach {p}" for p, _ in many])
            dt = d.wait_synced(udids, n, timeout=1800, since=t0)
            cpu.append(d.cpu_seconds() - c0)
            dev_cpu.append(dev.cpu_seconds() - dc0)
            jd_times.append(dt)
            log(f"c: jetsamd {m} phones x {n}, run {i + 1}: {dt:.3f} s, CPU {cpu[-1]:.2f} s, "
                f"devsim CPU {dev_cpu[-1]:.2f} s")
            if why is None:
                raw, why = raw_cjson_per_report(files, rounds=2)
                if raw is not None:
                    raws.append(raw)
        full = statistics.median(jd_times)
        if icr_times:
            ratio = full / statistics.median(icr_times)
            row("c", f"{m} phones x {n} reports: jetsamd vs {m} idevicecrashreport -k at once",
                f"{fmt_s(jd_times)} vs {fmt_s(icr_times)} = {ratio:.2f}x (medians, "
                f"{runs} run{'s' if runs > 1 else ''} each)", "<= 0.4x", ratio <= 0.4)
        else:
            row("c", f"{m} phones x {n} reports (idevicecrashreport not installed)",
                fmt_s(jd_times), "<= 0.4x idevicecrashreport", None)

        # c2: CPU per report against raw cJSON
        per = [c / (m * n) for c in cpu]
        what = "jetsamd CPU per report during c vs raw cJSON parse+delete of the same files"
        lo, med = min_med(per)
        fig = f"min {lo * 1e3:.2f} / med {med * 1e3:.2f} ms"
        if not raws:
            row("c2", what, f"{fig}; raw cJSON not measured: {why}", "<= 2x", None)
        else:
            rlo, rmed = min_med(raws)
            row("c2", what + " (4 of the phones)", f"{fig} vs min {rlo * 1e3:.2f} / med "
                f"{rmed * 1e3:.2f} ms = {med / rmed:.2f}x (medians; utime+stime / {m * n} "
                "reports)", "<= 2x", med / rmed <= 2.0)

        # c3: the floor of row c on this machine, from the same runs
        if icr_times and raws:
            row_c3(many, icr_times, icr_cpu, cpu, dev_cpu, raws, m * n)

        # f: idle with 32 phones attached (resync timer set to 1 h for this row)
        if with_f:
            row_f(d, m, idle_seconds)
    finally:
        if d is not None:
            d.stop()
        dev.stop()


def bus_bytes_per_s():
    """the emulated shared bus cap (devsim --bus-bandwidth, devsim's units) in bytes/s, or None"""
    units = {"": 1, "B/s": 1, "kB/s": 1e3, "KiB/s": 1024, "MB/s": 1e6, "MiB/s": 1048576,
             "GB/s": 1e9, "GiB/s": 1073741824, "bit/s": 0.125, "kbit/s": 125,
             "Mbit/s": 125000, "Gbit/s": 125e6}
    g = re.fullmatch(r"([0-9.]+) *(.*)", BUS or "")
    if not g or g.group(2) not in units or float(g.group(1)) == 0:
        return None
    return float(g.group(1)) * units[g.group(2)]


def row_c3(many, icr_times, icr_cpu, cpu, dev_cpu, raws, reports):
    """How fast row c could be here at best. devsim (the phones) runs on the same cores as the
    daemon, and the daemon must at least parse every report (with cJSON, c2's yardstick); so
    no such collector can finish in
    less than (raw cJSON of all reports + devsim's CPU serving them) / cores, nor, on an
    emulated link, in less than (bytes on the phones) / (shared bus cap). Compared with 0.4x
    the peer's median wall time, this says whether row c's target is reachable here."""
    cores = os.cpu_count() or 1
    floor_cpu = [r * reports + dc for r, dc in zip(raws, dev_cpu)]
    floor = statistics.median(floor_cpu) / cores
    goal = 0.4 * statistics.median(icr_times)
    size = sum(os.path.getsize(os.path.join(r, f)) for p, _ in many
               for r, _, fs in os.walk(p) for f in fs)
    bus = bus_bytes_per_s()
    bus_floor = size / bus if bus else 0.0
    best = max(floor, bus_floor)
    log(f"c3: raw cJSON of {reports} reports {statistics.median(raws) * reports:.2f} s CPU, "
        f"devsim serving jetsamd {fmt_s(dev_cpu)} CPU, jetsamd {fmt_s(cpu)} CPU, "
        f"{len(icr_times)} x 32 idevicecrashreport + devsim {fmt_s(icr_cpu)} CPU; "
        f"{size / 1e6:.0f} MB on the phones" + (f", bus cap {BUS}" if bus else ""))
    fig = (f"{floor:.2f} s = (raw cJSON {statistics.median(raws) * reports:.2f} s + devsim "
           f"{statistics.median(dev_cpu):.2f} s CPU) / {cores} cores")
    if bus:
        fig += f"; bus {size / 1e6:.0f} MB / {BUS} = {bus_floor:.2f} s"
    fig += (f"; jetsamd's median {statistics.median(cpu) + statistics.median(dev_cpu):.2f} s "
            f"CPU with devsim's = {(statistics.median(cpu) + statistics.median(dev_cpu)) / cores:.2f} s"
            f" / {cores}; vs 0.4x the peer = {goal:.2f} s")
    row("c3", "row c's floor here: no collector that parses every report with cJSON can be "
        "faster (CPU it must spend on the cores it shares with devsim; bytes through the "
        "shared bus)", fig,
        "<= 0.4x the peer (else c's target is out of reach here)", best <= goal)


def row_f(d, m, idle_seconds):
    time.sleep(3)
    rss0, sw0, threads = d.proc_status()
    log(f"f: idle for {idle_seconds} s with {m} phones attached, {threads} threads")
    t0 = time.monotonic()
    time.sleep(idle_seconds)
    rss1, sw1, threads = d.proc_status()
    per_min = (sw1 - sw0) * 60.0 / (time.monotonic() - t0)
    sm = d.smaps_rollup()
    # private anonymous memory: anonymous pages (heap, stacks, copy-on-write copies of
    # file pages) plus any of them swapped out; jetsamd has no child, so none is shared
    anon = sm.get("Anonymous", 0) + sm.get("Swap", 0)
    log("f1: smaps_rollup: " + ", ".join(f"{k} {sm.get(k, 0) // 1024} kB" for k in (
        "Rss", "Pss", "Anonymous", "Pss_Anon", "Private_Dirty", "Private_Clean",
        "Shared_Clean", "Swap")))
    mib = 1048576
    row("f1", f"jetsamd memory, idle, {m} phones attached: VmRSS; private anon "
        "(smaps_rollup Anonymous + Swap)", f"{rss1 / mib:.1f} MiB; {anon / mib:.1f} MiB",
        "<= 10 MiB; <= 4 MiB", rss1 <= 10 * mib and anon <= 4 * mib)
    row("f2", f"jetsamd wake-ups when idle ({m} phones, resync timer off)",
        f"{per_min:.1f} /min (context switches, all {threads} threads)", "0 /min",
        per_min < 1.0)


# what each row says when it could not be measured: id -> (what, target)
NA_ROWS = {
    "a": ("full sync, 1 phone x 500 reports vs idevicecrashreport -k", "<= 0.4x"),
    "b": ("re-sync of an unchanged phone / full sync", "<= 2 %"),
    "b2": ("sleeps >= 100 ms in the daemon during re-syncs (strace -f)", "0"),
    "c": ("32 phones x 100 reports vs 32 idevicecrashreport -k at once", "<= 0.4x"),
    "c2": ("jetsamd CPU per report during c vs raw cJSON parse+delete", "<= 2x"),
    "c3": ("row c's floor here: no collector that parses with cJSON can be faster",
           "<= 0.4x the peer (else c's target is out of reach here)"),
    "f1": ("jetsamd memory, idle, 32 phones attached: VmRSS; private anon",
           "<= 10 MiB; <= 4 MiB"),
    "f2": ("jetsamd wake-ups when idle", "0 /min"),
}
ROW_GROUPS = {"a": ("a",), "b": ("b", "b2"), "c": ("c", "c2", "c3"), "f": ("f1", "f2")}


def rows_na(groups, reason):
    for g in groups:
        for rid in ROW_GROUPS.get(g, ()):
            row_na(rid, *NA_ROWS[rid], reason)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="abcf")
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs) for a look")
    ap.add_argument("--link", default="loopback", choices=["loopback", "usb2", "usb3"],
                    help="devsim's emulated USB link")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="no uncounted idevicecrashreport run before row a's")
    ap.add_argument("--bus-bandwidth", default=None,
                    help="devsim's shared bus cap (default: 40MB/s on usb2, else none)")
    args = ap.parse_args()
    global LINK, BUS
    LINK = args.link
    BUS = args.bus_bandwidth if args.bus_bandwidth is not None else (
        "40MB/s" if LINK == "usb2" else None)
    if BUS in ("0", ""):
        BUS = None
    if BUS:
        log(f"devsim --link {LINK} --bus-bandwidth {BUS}")
    missing = [k for k in ("JETSAMD", "DEVSIM", "JETSAMGEN")
               if not (ENV.get(k) and os.access(ENV[k], os.X_OK))]
    if missing:
        rows_na(args.rows, f"not built: {', '.join(m.lower() for m in missing)}")
        return 0
    if args.keep:
        work = tempfile.mkdtemp(prefix="jb-", dir="/tmp")
        log(f"keeping phones, logs and stores in {work}")
        return run_rows(args, work)
    with tempfile.TemporaryDirectory(prefix="jb-", dir="/tmp") as work:
        return run_rows(args, work)


def run_rows(args, work):
    if "a" in args.rows or "b" in args.rows:
        try:
            rows_ab(work, args.runs, args.warmup)
        except Exception as e:  # a row that fails says why, the others still run
            log(f"rows a/b failed: {e}")
            rows_na("ab", str(e)[:120])
    if "c" in args.rows or "f" in args.rows:
        try:
            rows_cf(work, args.idle_seconds, args.runs, "f" in args.rows)
        except Exception as e:
            log(f"rows c/f failed: {e}")
            rows_na("cf" if "f" in args.rows else "c", str(e)[:120])
    return 0


if __name__ == "__main__":
    sys.exit(main())
