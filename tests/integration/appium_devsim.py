# appium_devsim.py: devsim must-show 3: appium-ios-device (node, no libimobiledevice code) reads phones from devsim
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPIUM_DIR = os.environ.get("APPIUM_DIR", os.path.join(HERE, "..", "appium"))
DEVSIM = os.environ.get("DEVSIM", "")
JETSAMGEN = os.environ.get("JETSAMGEN", "")

PHONES = [
    # udid, product, os, build, name, extra jetsamgen options
    ("00008101-001234560E12345E", "iPhone13,2", "15.5", "19F77", "Lab iPhone 12",
     ["--reports", "4", "--pending", "2", "--retired", "--synced"]),
    ("00008030-000A1B2C3D4E5F60", "iPhone12,1", "14.2", "18B5061e", "Lab iPhone 11",
     ["--reports", "3"]),
]


def main():
    if not os.path.isdir(os.path.join(APPIUM_DIR, "node_modules", "appium-ios-device")):
        print("skip: %s/node_modules is missing (run npm ci --prefix tests/appium)" % APPIUM_DIR)
        return 77
    for var, val in (("DEVSIM", DEVSIM), ("JETSAMGEN", JETSAMGEN)):
        if not val or not os.access(val, os.X_OK):
            print("%s is not set to an executable" % var, file=sys.stderr)
            return 1
    # appium-ios-device 3.1.23 needs node >= 20.19; Debian 12 ships 18, so package.json pins
    # the npm "node" package and its binary is preferred over the system one
    pinned = os.path.join(APPIUM_DIR, "node_modules", ".bin", "node")
    node = os.environ.get("NODE") or (pinned if os.access(pinned, os.X_OK) else None) \
        or shutil.which("node")
    if not node:
        print("node is not installed", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="jt-", dir="/tmp")
    devsim = None
    try:
        dirs = []
        for i, (udid, product, osv, build, name, extra) in enumerate(PHONES):
            d = os.path.join(tmp, "phone%d" % i)
            subprocess.run([JETSAMGEN, "phone", "--dir", d, "--udid", udid, "--product", product,
                            "--os-version", osv, "--build", build, "--name", name,
                            "--seed", str(i + 1), "--processes", "150"] + extra, check=True)
            dirs.append(d)
        sock = os.path.join(tmp, "mux.sock")
        log = open(os.path.join(tmp, "devsim.log"), "w+")
        devsim = subprocess.Popen([DEVSIM, "--socket", sock, "--control",
                                   os.path.join(tmp, "ctl.sock")] + dirs,
                                  stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(sock):
            if devsim.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                print("devsim did not start (exit %s):\n%s" % (devsim.poll(), log.read()),
                      file=sys.stderr)
                return 1
            time.sleep(0.05)
        env = dict(os.environ, USBMUXD_SOCKET_ADDRESS="UNIX:" + sock)
        try:
            p = subprocess.run([node, os.path.join(APPIUM_DIR, "appium-devsim.js")] + dirs,
                               env=env, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            print("appium-devsim.js did not finish in 180 s", file=sys.stderr)
            return 1
        sys.stdout.write(p.stdout)
        # appium's own debug lines go to stderr; show only ours
        for line in p.stderr.splitlines():
            if not line.startswith("dbug "):
                print(line, file=sys.stderr)
        alive = devsim.poll() is None
        if not alive:
            print("devsim died during the test (exit %s)" % devsim.returncode, file=sys.stderr)
        if p.returncode != 0 or "appium-devsim: all checks passed" not in p.stdout or not alive:
            log.seek(0)
            print("--- devsim log ---\n" + log.read()[-4000:], file=sys.stderr)
            return 1
        print("appium_devsim: all checks passed")
        return 0
    finally:
        if devsim is not None and devsim.poll() is None:
            devsim.terminate()
            try:
                devsim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                devsim.kill()
                devsim.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
