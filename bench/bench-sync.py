#!/usr/bin/env python3
# bench-sync.py: benchmark rows a, b, c, f: jetsamd sync speed vs idevicecrashreport, re-sync, 32 phones, idle RSS and wake-ups
"""usage: bench-sync.py [--rows abcf] [--idle-seconds 60] [--runs 3] [--link KIND] [--keep]

Environment: JETSAMD, DEVSIM, JETSAMGEN (built binaries), IDEVICECRASHREPORT (optional).
Prints progress on stderr and one result line per row on stdout:
    ROW<TAB>id<TAB>what<TAB>figure<TAB>target<TAB>met|not met|n/a
--link usb2 (or usb3) runs devsim with that emulated USB link (tests/devsim/README.md);
the row ids then end in "-usb2" and their text says so. The default, loopback, prints the
rows as before.
Figures are printed, never asserted."""
import argparse
import json
import os
import shutil
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


def row(rid, what, figure, target, met):
    status = "n/a" if met is None else ("met" if met else "not met")
    if LINK != "loopback" and not rid.endswith("-" + LINK):
        rid, what = f"{rid}-{LINK}", f"{what} (devsim --link {LINK})"
    PRINTED.add(rid)
    print(f"ROW\t{rid}\t{what}\t{figure}\t{target}\t{status}", flush=True)


def row_na(rid, what, target, reason):
    if rid not in PRINTED and f"{rid}-{LINK}" not in PRINTED:
        row(rid, what, f"not available: {reason}", target, None)


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


class Devsim:
    def __init__(self, work, dirs):
        self.sock = os.path.join(work, "mux.sock")
        self.ctl = os.path.join(work, "dev.ctl")
        self.logf = open(os.path.join(work, "devsim.log"), "wb")
        self.proc = subprocess.Popen([ENV["DEVSIM"], "--socket", self.sock, "--control",
                                      self.ctl, "--link", LINK, *dirs],
                                     stdout=self.logf, stderr=self.logf)
        wait_for(lambda: os.path.exists(self.sock) and os.path.exists(self.ctl), 20,
                 what="devsim sockets")

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

def rows_ab(work, runs):
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
    try:
        icr = ENV.get("IDEVICECRASHREPORT") or shutil.which("idevicecrashreport")
        icr_times = []
        if icr:
            env = dict(ENV, USBMUXD_SOCKET_ADDRESS=f"UNIX:{dev.sock}")
            # one uncounted run first: both tools then read the phone's files from a warm
            # page cache
            for i in range(-1, runs):
                out = os.path.join(work, f"icr-{i}")
                os.makedirs(out)
                t0 = time.monotonic()
                p = subprocess.run([icr, "-u", udid, "-k", out], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                dt = time.monotonic() - t0
                got = count_files(out)
                if p.returncode != 0 or got < n:
                    raise RuntimeError(f"idevicecrashreport exit {p.returncode}, {got} files: "
                                       f"{p.stderr.decode(errors='replace').strip()[:200]}")
                shutil.rmtree(out)
                if i < 0:
                    log(f"a: idevicecrashreport -k warm-up: {dt:.3f} s ({got} files)")
                    continue
                icr_times.append(dt)
                log(f"a: idevicecrashreport -k run {i + 1}: {dt:.3f} s ({got} files)")
        dev.control(f"detach {udid}")
        jd_times = []
        d = None
        for i in range(runs):
            if d is not None:
                d.stop()
                dev.control(f"detach {udid}")
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
                f"{full:.2f} s vs {ref:.2f} s = {ratio:.2f}x", "<= 0.5x", ratio <= 0.5)
        else:
            row("a", f"full sync, 1 phone x {n} reports (idevicecrashreport not installed)",
                f"{full:.2f} s", "<= 0.5x idevicecrashreport", None)

        # b: the phone is unchanged: a sync on request must be cheap
        times = []
        for i in range(max(runs, 5)):
            t0 = time.monotonic()
            d.client.call("sync", udid=udid, wait=True)
            times.append(time.monotonic() - t0)
        resync = statistics.median(times)
        pct = 100.0 * resync / full
        log(f"b: re-syncs: {', '.join(f'{t * 1000:.1f}' for t in times)} ms")
        row("b", "re-sync of the unchanged phone (sync --wait) / full sync",
            f"{resync * 1000:.1f} ms = {pct:.2f} %", "<= 2 %", pct <= 2.0)
        d.stop()
    finally:
        dev.stop()


def rows_cf(work, idle_seconds, with_f=True):
    n, m = 100, 32
    log(f"c: generating {m + 1} phones with {n} reports each")
    single = os.path.join(work, "c-single")
    udid1 = make_phone(single, 100, n)
    many = []
    for i in range(m):
        path = os.path.join(work, f"c-{i:02d}")
        many.append((path, make_phone(path, 200 + i, n)))
    dev = Devsim(work, [])
    d = None
    try:
        d = Jetsamd(work, dev.sock, tag="c1")
        d.subscribe()
        t0 = time.monotonic()
        dev.control(f"attach {single}")
        one = d.wait_synced([udid1], n, since=t0)
        log(f"c: 1 phone x {n}: {one:.3f} s")
        d.stop()
        d = Jetsamd(work, dev.sock, tag="c32")
        d.subscribe()
        t0 = time.monotonic()
        dev.control(*[f"attach {p}" for p, _ in many])
        allt = d.wait_synced([u for _, u in many], n, timeout=1800, since=t0)
        ratio = allt / one
        log(f"c: {m} phones x {n}: {allt:.3f} s")
        row("c", f"{m} phones x {n} reports at once vs 1 phone x {n}",
            f"{allt:.2f} s vs {one:.2f} s = {ratio:.2f}x", "<= 3x", ratio <= 3.0)

        # f: idle with 32 phones attached (resync timer set to 1 h for this row)
        if not with_f:
            return
        time.sleep(3)
        rss0, sw0, threads = d.proc_status()
        log(f"f: idle for {idle_seconds} s with {m} phones attached, {threads} threads")
        t0 = time.monotonic()
        time.sleep(idle_seconds)
        rss1, sw1, threads = d.proc_status()
        per_min = (sw1 - sw0) * 60.0 / (time.monotonic() - t0)
        row("f1", f"jetsamd RSS, idle, {m} phones attached",
            f"{rss1 / 1048576:.1f} MiB", "<= 8 MiB", rss1 <= 8 * 1048576)
        row("f2", f"jetsamd wake-ups when idle ({m} phones, resync timer off)",
            f"{per_min:.1f} /min (context switches, all {threads} threads)", "0 /min",
            per_min < 1.0)
    finally:
        if d is not None:
            d.stop()
        dev.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="abcf")
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs) for a look")
    ap.add_argument("--link", default="loopback", choices=["loopback", "usb2", "usb3"],
                    help="devsim's emulated USB link")
    args = ap.parse_args()
    global LINK
    LINK = args.link
    missing = [k for k in ("JETSAMD", "DEVSIM", "JETSAMGEN")
               if not (ENV.get(k) and os.access(ENV[k], os.X_OK))]
    if missing:
        reason = f"not built: {', '.join(m.lower() for m in missing)}"
        if "a" in args.rows:
            row_na("a", "full sync, 1 phone x 500 reports vs idevicecrashreport -k", "<= 0.5x", reason)
        if "b" in args.rows:
            row_na("b", "re-sync of an unchanged phone / full sync", "<= 2 %", reason)
        if "c" in args.rows:
            row_na("c", "32 phones x 100 reports vs 1 phone x 100", "<= 3x", reason)
        if "f" in args.rows:
            row_na("f1", "jetsamd RSS, idle, 32 phones attached", "<= 8 MiB", reason)
            row_na("f2", "jetsamd wake-ups when idle", "0 /min", reason)
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
            rows_ab(work, args.runs)
        except Exception as e:  # a row that fails says why, the others still run
            log(f"rows a/b failed: {e}")
            row_na("a", "full sync, 1 phone x 500 reports vs idevicecrashreport -k", "<= 0.5x", str(e)[:120])
            row_na("b", "re-sync of an unchanged phone / full sync", "<= 2 %", "row a failed")
    if "c" in args.rows or "f" in args.rows:
        try:
            rows_cf(work, args.idle_seconds, "f" in args.rows)
        except Exception as e:
            log(f"rows c/f failed: {e}")
            row_na("c", "32 phones x 100 reports vs 1 phone x 100", "<= 3x", str(e)[:120])
            if "f" in args.rows:
                row_na("f1", "jetsamd RSS, idle, 32 phones attached", "<= 8 MiB", "row c failed")
                row_na("f2", "jetsamd wake-ups when idle", "0 /min", "row c failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
