#!/usr/bin/env python3
# ship_demo.py: scripts/demo.sh (the README's main command) shows every simulated phone and its limits, and cleans up on TERM
"""Environment (from meson): SOURCE_ROOT, BUILD_ROOT (devsim, jetsamgen, jetsamd and
jetsamctl already built there). Runs demo.sh with --no-deps (and --no-build when stopped
by a signal)."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import expect, finish  # noqa: E402

harness.verbose_expect = True  # list every check

ROOT = os.environ["SOURCE_ROOT"]
BUILD = os.environ["BUILD_ROOT"]
# --once also runs demo.sh's build step: meson test has built these targets already, so
# ninja only checks them (this catches a build command that no longer works)
DEMO_BUILD = [os.path.join(ROOT, "scripts", "demo.sh"), "--no-deps", "--build", BUILD]
DEMO = DEMO_BUILD + ["--no-build"]
PRODUCTS = ["iPhone13,2", "iPhone14,5", "iPhone12,1", "iPad8,2", "iPhone7,2"]


def procs_mentioning(text):
    """pids whose command line mentions text (our private temp dir)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def section(out, title):
    """The text between the '==> title' banner and the next banner."""
    m = re.search(r"==> " + re.escape(title) + r".*?\n(.*?)(?:\n[^\n]*==> |\Z)", out, re.S)
    return m.group(1) if m else ""


def once():
    with tempfile.TemporaryDirectory(prefix="jt-") as tmp:
        work = os.path.join(tmp, "w")
        p = subprocess.run(DEMO_BUILD + ["--once", "--dir", work], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600,
                           stdin=subprocess.DEVNULL)
        out = p.stdout
        print(out)
        expect(p.returncode == 0, f"demo.sh --once exits 0 (got {p.returncode})")
        devices = section(out, "jetsamctl devices")
        limits = section(out, "jetsamctl limits")
        for prod in PRODUCTS:
            expect(prod in devices, f"devices lists a {prod}")
            expect(prod in limits, f"limits has a row for {prod}")
        expect(os.path.isdir(os.path.join(work, "state")), "--dir keeps the state dir")
        expect(procs_mentioning(work) == [], "no devsim / jetsamd left running after --once")


def interrupted():
    p = subprocess.Popen(DEMO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    lines = []
    workdir = None
    deadline = time.monotonic() + 600
    for line in p.stdout:
        lines.append(line)
        m = re.search(r"\(log: (/tmp/jetsamd-demo-[^/]+)/jetsamd\.log\)", line)
        if m:
            workdir = m.group(1)
        if "watching" in line or time.monotonic() > deadline:
            break
    expect(workdir is not None and os.path.isdir(workdir),
          f"demo.sh runs in a temp dir ({workdir})")
    time.sleep(1)
    p.send_signal(signal.SIGTERM)
    try:
        rest, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        rest, _ = p.communicate()
        expect(False, "demo.sh stops within 60 s of SIGTERM")
    print("".join(lines) + (rest or ""))
    expect(p.returncode != 0, f"demo.sh reports the signal (exit {p.returncode})")
    if workdir:
        expect(not os.path.exists(workdir), "the temp dir is removed")
        expect(procs_mentioning(workdir) == [], "devsim and jetsamd are stopped")


def main():
    once()
    interrupted()
    finish("ship-demo")


if __name__ == "__main__":
    main()
