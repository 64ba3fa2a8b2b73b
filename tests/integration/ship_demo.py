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

ROOT = os.environ["SOURCE_ROOT"]
BUILD = os.environ["BUILD_ROOT"]
# --once also runs demo.sh's build step: meson test has built these targets already, so
# ninja only checks them (this catches a build command that no longer works)
DEMO_BUILD = [os.path.join(ROOT, "scripts", "demo.sh"), "--no-deps", "--build", BUILD]
DEMO = DEMO_BUILD + ["--no-build"]
PRODUCTS = ["iPhone13,2", "iPhone14,5", "iPhone12,1", "iPad8,2", "iPhone7,2"]
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


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
        check(p.returncode == 0, f"demo.sh --once exits 0 (got {p.returncode})")
        devices = section(out, "jetsamctl devices")
        limits = section(out, "jetsamctl limits")
        for prod in PRODUCTS:
            check(prod in devices, f"devices lists a {prod}")
            check(prod in limits, f"limits has a row for {prod}")
        check(os.path.isdir(os.path.join(work, "state")), "--dir keeps the state dir")
        check(procs_mentioning(work) == [], "no devsim / jetsamd left running after --once")


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
    check(workdir is not None and os.path.isdir(workdir),
          f"demo.sh runs in a temp dir ({workdir})")
    time.sleep(1)
    p.send_signal(signal.SIGTERM)
    try:
        rest, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        rest, _ = p.communicate()
        check(False, "demo.sh stops within 60 s of SIGTERM")
    print("".join(lines) + (rest or ""))
    check(p.returncode != 0, f"demo.sh reports the signal (exit {p.returncode})")
    if workdir:
        check(not os.path.exists(workdir), "the temp dir is removed")
        check(procs_mentioning(workdir) == [], "devsim and jetsamd are stopped")


def main():
    once()
    interrupted()
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
