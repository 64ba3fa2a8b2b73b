# bench-devsim.py: devsim figures: AFC throughput of a 64 MiB file, RSS with 64 idle phones
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PHONES = 64
SIZE = 64 * 1024 * 1024


def rss_kib(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def ctl(path, line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    buf = b""
    while not (buf.endswith(b"ok\n") or b"error: " in buf):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return buf.decode()


def main():
    devsim = os.environ["DEVSIM"]
    afc_bench = os.environ["BENCH_DEVSIM_AFC"]
    tmp = tempfile.mkdtemp(prefix="jt-bench-", dir="/tmp")
    sock = os.path.join(tmp, "mux.sock")
    ctlp = os.path.join(tmp, "ctl.sock")
    dirs = []
    for i in range(PHONES):
        d = os.path.join(tmp, "p%02d" % i)
        os.makedirs(os.path.join(d, "CrashReporter"))
        udid = "00008101-%016X" % (0xB000 + i)
        with open(os.path.join(d, "device.json"), "w") as f:
            json.dump({"udid": udid, "product_type": "iPhone13,2", "product_version": "15.5",
                       "build_version": "19F77", "device_name": "Bench %d" % i}, f)
        dirs.append((d, udid))
    with open(os.path.join(dirs[0][0], "CrashReporter", "big.ips"), "wb") as f:
        f.write(os.urandom(SIZE))
    env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + sock)
    log = open(os.path.join(tmp, "devsim.log"), "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen([devsim, "--socket", sock, "--control", ctlp], stderr=log)
    try:
        while not os.path.exists(ctlp):
            time.sleep(0.01)
        t1 = time.monotonic()
        for d, _ in dirs:
            r = ctl(ctlp, "attach " + d)
            assert r == "ok\n", r
        t2 = time.monotonic()
        print("devsim start (key generation): %.3f s" % (t1 - t0))
        print("attach %d phones through the control socket: %.3f s (%.2f ms each)"
              % (PHONES, t2 - t1, (t2 - t1) * 1000 / PHONES))
        time.sleep(0.2)
        m = rss_kib(proc.pid)
        print("devsim RSS with %d idle phones: %.1f MiB (VmRSS %d KiB, peak %d KiB)"
              % (PHONES, m["VmRSS"] / 1024, m["VmRSS"], m["VmHWM"]))
        r = subprocess.run(["idevice_id", "-l"], env=env, stdout=subprocess.PIPE)
        print("idevice_id -l lists %d phones" % len(r.stdout.split()))
        for chunk in (4096, 65536, 1 << 20, 4 << 20):
            rounds = 1 if chunk == 4096 else 3
            subprocess.run([afc_bench, dirs[0][1], "big.ips", str(chunk), str(rounds)],
                           env=env, check=True)
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        t = time.monotonic()
        subprocess.run(["idevicecrashreport", "-u", dirs[0][1], "-k", out], env=env,
                       stdout=subprocess.DEVNULL, check=True)
        t = time.monotonic() - t
        print("idevicecrashreport -k of the 64 MiB file: %.3f s = %.1f MB/s (4096-byte reads)"
              % (t, SIZE / t / 1e6))
        time.sleep(0.2)
        m = rss_kib(proc.pid)
        print("devsim RSS idle after the transfers: %.1f MiB (VmRSS %d KiB, peak %d KiB)"
              % (m["VmRSS"] / 1024, m["VmRSS"], m["VmHWM"]))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("devsim exit status %d" % proc.returncode)


if __name__ == "__main__":
    sys.exit(main())
