# ctl_world.py: shared setup of the jetsamctl integration tests: devsim phones, jetsamd, reports
import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import binary, check, check_eq, fail  # noqa: E402,F401

# Long names on purpose: the 80-column tables must cope with them
PHONE_A = dict(udid="00008101-000A1B2C3D4E5F60", product="iPhone13,2", os="15.5", build="19F77",
               name="Lab bench 7 \u2014 QA's extremely long iPhone name for tests", reports=3)
PHONE_B = dict(udid="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", product="iPad14,5",
               os="16.4.1", build="20E252", name="iPad Pro 12.9 (6th gen) of the memory team",
               reports=2)
# An emoji in the name (wcwidth 2, the old width table said 1), and a UDID that shares its
# first 12 characters with PHONE_A's: prefixes must be longer to be unique
PHONE_C = dict(udid="00008101-000C0FFEE0C0FFEE", product="iPhone14,5", os="16.0",
               build="20A362", name="\U0001F680 Rocket lab phone", reports=1)
PHONES = (PHONE_A, PHONE_B, PHONE_C)

# Imported reports proving a limit drift: iPad14,5 foreground 6 GiB on 26.3, 3 GiB on 26.4
DRIFT_OLD = dict(product="iPad14,5", os="26.3", build="23D60", rpages=393216, ago=7200)
DRIFT_NEW = dict(product="iPad14,5", os="26.4", build="23E246", rpages=196608, ago=600)
APP = "MemoryHogApp"


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, **kw)
    if p.returncode != 0:
        fail("%s: rc %d: %s" % (" ".join(argv), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def gen_report(out, r, incident=None, kill=None):
    argv = [binary("JETSAMGEN"), "report", "--product", r["product"], "--os-version", r["os"],
            "--build", r["build"], "--page-size", "16384", "--time", iso(time.time() - r["ago"]),
            "--kill", kill or "%s:foreground:per-process-limit:%d" % (APP, r["rpages"]),
            "--out", out]
    # jetsamgen's incident id depends on its seed only: give each report its own
    argv += ["--incident", (incident or str(uuid.uuid4())).upper()]
    run(argv)
    return out


def csv_rows(text):
    """Parse CSV output: returns (header, rows as dicts)."""
    rows = list(csv.reader(io.StringIO(text)))
    check(len(rows) >= 1, "csv output has no header row: %r" % text[:200])
    header = rows[0]
    for r in rows[1:]:
        check_eq(len(r), len(header), "csv row width of %r" % (r,))
    return header, [dict(zip(header, r)) for r in rows[1:]]


def no_sanitizer_errors(err, what):
    check("runtime error" not in err and "Sanitizer" not in err,
          "%s: sanitizer report:\n%s" % (what, err))


class World:
    """devsim with PHONES, jetsamd collecting from it, and the drift reports imported."""

    def __init__(self, import_drift=True):
        self.dir = harness.tmpdir("jt-ctl-")
        dirs = []
        for i, p in enumerate(PHONES):
            d = os.path.join(self.dir, "phone%d" % i)
            run([binary("JETSAMGEN"), "phone", "--dir", d, "--udid", p["udid"], "--product",
                 p["product"], "--os-version", p["os"], "--build", p["build"], "--name",
                 p["name"], "--reports", str(p["reports"]), "--seed", str(100 + i)])
            dirs.append(d)
        self.phone_dirs = dirs
        self.devsim = harness.Devsim(phones_dirs=dirs).start()
        # no periodic resync and no live detection: the tests decide when phones are synced
        # (devsim logs a report written into CrashReporter/, and live detection's own sync
        # could store it before a test's `sync --wait`, which then counts 0 new reports)
        self.jetsamd = harness.Jetsamd(usbmuxd_socket=self.devsim.usbmuxd,
                                       extra_config={"resync_interval": "3600",
                                                     "live_detection": "no"}).start()
        self.socket = self.jetsamd.socket
        # the first sync of both phones, then the drift pair through import
        harness.wait_until(self._synced, 30, what="both phones synced")
        self.drift_files = []
        if import_drift:
            for r in (DRIFT_OLD, DRIFT_NEW):
                f = gen_report(os.path.join(self.dir, "JetsamEvent-%s.ips" % r["build"]), r)
                self.drift_files.append(f)
            rc, out, err = self.ctl("import", *self.drift_files)
            check_eq(rc, 0, "import of the drift reports (%s)" % err)

    def _synced(self):
        rc, out, err = self.ctl("--json", "devices")
        if rc != 0:
            return False
        devs = json.loads(out)["devices"]
        return len(devs) == len(PHONES) and all(
            d["state"] == "idle" and d["last_sync"] for d in devs)

    def ctl(self, *args, timeout=60, env=None):
        argv = [binary("JETSAMCTL"), "--socket", self.socket] + list(args)
        e = dict(os.environ)
        e.pop("COLUMNS", None)
        if env:
            e.update(env)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=e)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        no_sanitizer_errors(err, "jetsamctl " + " ".join(args))
        return p.returncode, out, err

    def ok(self, *args):
        rc, out, err = self.ctl(*args)
        if rc != 0:
            fail("jetsamctl %s: rc %d: %s" % (" ".join(args), rc, err))
        return out

    def json(self, *args):
        out = self.ok("--json", *args)
        lines = out.splitlines()
        check_eq(len(lines), 1, "lines of jetsamctl --json %s" % " ".join(args))
        return json.loads(lines[0])

    def csv(self, *args):
        return csv_rows(self.ok("--csv", *args))
