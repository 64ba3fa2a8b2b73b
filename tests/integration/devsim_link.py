# devsim_link.py: devsim's link emulation (--link usb2, --latency, --bandwidth, --bus-bandwidth) gives at least the time physics says
"""Only lower bounds are asserted: a transfer over an emulated link cannot be faster than
size / bandwidth, a request round trip not faster than the latency. Loopback figures are
printed, never asserted (a loaded machine is slow, never too fast)."""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devsim_common import ld_recv, ld_send, make_phone, mux_open_port, need_tools, snapshot
from harness import Devsim, binary, check, check_eq  # noqa: E402

UDID = "00008101-001234560E12345E"
MIB = 1024 * 1024
USB2_BANDWIDTH = 30e6  # bytes/s, README.md "Link emulation"
USB2_LATENCY = 1e-3  # s, round trip


def pull(ds, icr, udid, out):
    """idevicecrashreport -k of the whole phone; returns the seconds it took."""
    os.makedirs(out)
    t0 = time.monotonic()
    r = ds.run([icr, "-u", udid, "-k", out], timeout=300)
    dt = time.monotonic() - t0
    check_eq(r.returncode, 0, "idevicecrashreport exit (%s)" % r.stderr.decode(errors="replace"))
    return dt


def afc_read(ds, udid, name, chunk):
    """Seconds bench-devsim-afc takes to read NAME with CHUNK-byte AFC reads (after its
    handshake): each request and its reply cross the link."""
    r = ds.run([os.environ["BENCH_DEVSIM_AFC"], udid, name, str(chunk), "1"], timeout=300)
    check_eq(r.returncode, 0, "bench-devsim-afc exit (%s)" % r.stderr.decode(errors="replace"))
    m = re.search(r"afc read: (\d+) bytes in ([0-9.]+) s", r.stdout.decode())
    check(m is not None, "bench-devsim-afc output: %r" % r.stdout)
    return int(m.group(1)), float(m.group(2))


def round_trips(ds, device_id, n=20):
    """Seconds of n lockdown QueryType request/reply round trips through usbmux."""
    s = mux_open_port(ds.socket, device_id, 62078)
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        ld_send(s, {"Request": "QueryType", "Label": "devsim-link"})
        r = ld_recv(s)
        times.append(time.monotonic() - t0)
        check_eq(r.get("Type"), "com.apple.mobile.lockdown", "QueryType reply")
    s.close()
    return times


def run_link(tools, args, label, size):
    """One phone with a SIZE-byte report behind a devsim started with ARGS."""
    ds = Devsim(show_log=True)
    data = os.urandom(size)
    phone = make_phone(ds.dir, "p", UDID, files={"ExcResource-big.ips": data,
                                                 "JetsamEvent-2024-01-01-120000.ips": b"{}\n"})
    ds.start(phones_dirs=[phone], args=args)
    try:
        dt = pull(ds, tools["idevicecrashreport"], UDID, os.path.join(ds.dir, "out"))
        got = snapshot(os.path.join(ds.dir, "out"))
        check_eq(got.get("ExcResource-big.ips"), ("f", data), "%s: pulled file" % label)
        n, afc = afc_read(ds, UDID, "ExcResource-big.ips", MIB)
        check_eq(n, size, "%s: bytes read with 1 MiB AFC reads" % label)
        rtt = round_trips(ds, 1)
        if label == "usb2":
            # a fault still gives the host exactly BYTES before the close
            ds.ctl_ok("fault %s drop-after 300000" % UDID)
            out = os.path.join(ds.dir, "out-fault")
            os.makedirs(out)
            r = ds.run([tools["idevicecrashreport"], "-u", UDID, "-k", out], timeout=300)
            check_eq(r.returncode, 0, "idevicecrashreport exit with drop-after on usb2")
            check(b"File size mismatch. Skipping..." in r.stdout + r.stderr,
                  "drop-after on usb2: %r" % (r.stdout + r.stderr))
        print("%s: %d MiB: idevicecrashreport %.3f s = %.1f MB/s, 1 MiB AFC reads %.3f s = "
              "%.1f MB/s; lockdown round trip min %.3f ms, median %.3f ms"
              % (label, size // MIB, dt, size / dt / 1e6, afc, size / afc / 1e6,
                 min(rtt) * 1e3, statistics.median(rtt) * 1e3))
        ds.stop_clean()
        log = ds.stderr_text()
    finally:
        ds.cleanup()
    return afc, rtt, log


def check_bus(tools):
    """Two phones pulled at once share --bus-bandwidth: together at least 2 x size / bus."""
    ds = Devsim(show_log=True)
    size = 4 * MIB
    udids = ["00008101-0000000000B05001", "00008101-0000000000B05002"]
    dirs = [make_phone(ds.dir, "b%d" % i, u, files={"ExcResource-%d.ips" % i: os.urandom(size)})
            for i, u in enumerate(udids)]
    ds.start(phones_dirs=dirs, args=["--bus-bandwidth", "10MB/s"])
    try:
        t0 = time.monotonic()
        procs = []
        for i, u in enumerate(udids):
            out = os.path.join(ds.dir, "out%d" % i)
            os.makedirs(out)
            procs.append(ds.popen([tools["idevicecrashreport"], "-u", u, "-k", out]))
        for p in procs:
            p.communicate(timeout=300)
            check_eq(p.returncode, 0, "idevicecrashreport exit on the shared bus")
        dt = time.monotonic() - t0
        print("bus 10 MB/s: 2 phones x 4 MiB at once in %.3f s" % dt)
        check(dt >= 2 * size / 10e6, "2 x 4 MiB over a 10 MB/s bus took %.3f s < %.3f s"
              % (dt, 2 * size / 10e6))
        for i in range(2):
            check_eq(os.path.getsize(os.path.join(ds.dir, "out%d" % i, "ExcResource-%d.ips" % i)),
                     size, "file of phone %d" % i)
        ds.stop_clean()
    finally:
        ds.cleanup()


def check_many(tools):
    """32 phones on one devsim with --link usb2: every one is pulled, all at once."""
    ds = Devsim(show_log=True)
    dirs, udids = [], []
    for i in range(32):
        u = "00008101-%016X" % (0xC000 + i)
        dirs.append(make_phone(ds.dir, "m%02d" % i, u,
                               files={"JetsamEvent-2024-01-01-1200%02d.ips" % i:
                                      (b'{"bug_type":"298"}\n{"n":%d}\n' % i) * 500}))
        udids.append(u)
    ds.start(phones_dirs=dirs, args=["--link", "usb2"])
    try:
        procs = []
        for i, u in enumerate(udids):
            out = os.path.join(ds.dir, "out%02d" % i)
            os.makedirs(out)
            procs.append((out, i, ds.popen([tools["idevicecrashreport"], "-u", u, "-k", out])))
        for out, i, p in procs:
            _, err = p.communicate(timeout=600)
            check_eq(p.returncode, 0, "idevicecrashreport of phone %d (%s)" % (i, err))
            check_eq(len(os.listdir(out)), 1, "files pulled from phone %d" % i)
        ds.stop_clean()
    finally:
        ds.cleanup()


def check_options():
    exe = binary("DEVSIM")
    for bad in (["--link", "usb4"], ["--latency", "fast"], ["--bandwidth", "-3MB/s"],
                ["--bus-bandwidth", "10 parsecs"], ["--syslog-rate", "x"]):
        r = subprocess.run([exe, "--socket", "/tmp/jt-never.sock"] + bad,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check_eq(r.returncode, 2, "devsim %s exit status" % " ".join(bad))
        check(r.stderr.startswith(b"devsim: "), "devsim %s: %r" % (" ".join(bad), r.stderr))


def main():
    tools = need_tools("idevicecrashreport")
    check_options()
    size = 16 * MIB
    dt, rtt, log = run_link(tools, ["--link", "usb2"], "usb2", size)
    check("link round trip 1.000 ms, 30 MB/s per phone" in log, "usb2 in the log:\n" + log)
    check(dt >= size / USB2_BANDWIDTH,
          "usb2: 16 MiB in %.3f s, faster than %.0f MB/s" % (dt, USB2_BANDWIDTH / 1e6))
    check(min(rtt) >= USB2_LATENCY, "usb2: round trip %.6f s < 1 ms" % min(rtt))
    # explicit values override the preset
    dt, rtt, log = run_link(tools, ["--link", "usb2", "--latency", "20ms", "--bandwidth",
                                    "64Mbit/s"], "20 ms, 8 MB/s", MIB)
    check("link round trip 20.000 ms, 8 MB/s per phone" in log, "explicit link:\n" + log)
    check(dt >= MIB / 8e6 + 0.020, "1 MiB at 8 MB/s with a 20 ms round trip in %.3f s" % dt)
    check(min(rtt) >= 0.020, "round trip %.6f s < 20 ms" % min(rtt))
    _, _, log = run_link(tools, [], "loopback", size)
    check("link loopback (no emulation)" in log, "loopback by default:\n" + log)
    check_bus(tools)
    check_many(tools)
    print("PASS")


if __name__ == "__main__":
    main()
