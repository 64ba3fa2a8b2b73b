#!/usr/bin/env python3
# ship_units.py: checks the generated systemd units: `systemd-analyze verify` is clean, security exposure <= 2.0
"""usage: ship_units.py verify|security

Environment (from meson): SYSTEMD_ANALYZE, UNIT_SERVICE, UNIT_SOCKET (the generated
units in the build dir), UNIT_METRICS_SOCKET (jetsamd-metrics.socket, issue 14), JETSAMD (the built daemon, substituted for ExecStart's binary so
that `verify`, which checks that ExecStart is executable, looks at a real file).

Both checks load all three units: `security` rates jetsamd.service as it runs with the
metrics socket enabled (the socket adds no privilege: systemd opens the TCP listener and
passes it; the service keeps PrivateNetwork= and RestrictAddressFamilies=AF_UNIX, checked
here too, and the socket is named "metrics" and activates jetsamd.service).
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import fail, tmpdir  # noqa: E402

MAX_EXPOSURE = 2.0


def staged_units(tmp):
    """Copy the units into tmp, with ExecStart's binary pointing at the built jetsamd."""
    service = open(os.environ["UNIT_SERVICE"], encoding="utf-8").read()
    socket = open(os.environ["UNIT_SOCKET"], encoding="utf-8").read()
    metrics = open(os.environ["UNIT_METRICS_SOCKET"], encoding="utf-8").read()
    jetsamd = os.environ["JETSAMD"]
    m = re.search(r"^ExecStart=(\S+)", service, re.M)
    if not m:
        fail("jetsamd.service has no ExecStart=")
    if not m.group(1).endswith("/jetsamd"):
        fail(f"ExecStart runs '{m.group(1)}', not jetsamd")
    service = service.replace(f"ExecStart={m.group(1)}", f"ExecStart={jetsamd}", 1)
    for name, text in (("jetsamd.service", service), ("jetsamd.socket", socket),
                       ("jetsamd-metrics.socket", metrics)):
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            f.write(text)
    for key in ("PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "IPAddressDeny=any"):
        if not re.search(f"^{re.escape(key)}$", service, re.M):
            fail(f"jetsamd.service lost {key}")
    for key in ("FileDescriptorName=metrics", "Service=jetsamd.service"):
        if not re.search(f"^{re.escape(key)}$", metrics, re.M):
            fail(f"jetsamd-metrics.socket has no {key}")
    return [os.path.join(tmp, "jetsamd.socket"), os.path.join(tmp, "jetsamd.service"),
            os.path.join(tmp, "jetsamd-metrics.socket")]


def check_verify(analyze, units):
    p = subprocess.run([analyze, "verify", "--man=no", *units],
                       capture_output=True, text=True, timeout=120)
    out = (p.stdout + p.stderr).strip()
    print(f"systemd-analyze verify: exit {p.returncode}")
    if out:
        print(out)
    if p.returncode != 0:
        fail(f"systemd-analyze verify exited {p.returncode}")
    if out:
        fail("systemd-analyze verify printed warnings")
    print("PASS: units verify clean")


def check_security(analyze, units):
    service = units[1]
    p = subprocess.run([analyze, "security", "--offline=true", service],
                       capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    m = re.search(r"Overall exposure level for jetsamd\.service: ([0-9.]+)", out)
    if not m:
        print(out)
        fail(f"no exposure level in the output (exit {p.returncode})")
    exposure = float(m.group(1))
    # the lines that still cost something, for the log
    for line in out.splitlines():
        if line.startswith("✗"):
            print(" ".join(line.split()))
    print(f"exposure: {exposure:.1f} (limit {MAX_EXPOSURE:.1f})")
    if exposure > MAX_EXPOSURE:
        fail(f"exposure {exposure:.1f} is over {MAX_EXPOSURE:.1f}")
    print("PASS: exposure within limit")


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("verify", "security"):
        print(__doc__)
        return 2
    analyze = os.environ.get("SYSTEMD_ANALYZE") or shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP: systemd-analyze not installed")
        return 77
    units = staged_units(tmpdir())
    if sys.argv[1] == "verify":
        check_verify(analyze, units)
    else:
        check_security(analyze, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
