#!/usr/bin/env python3
# ship_scripts.py: the shipped shell scripts pass shellcheck, and test-summary.py counts meson results right
"""usage: ship_scripts.py shellcheck|summary|readme   (SOURCE_ROOT from meson)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ["SOURCE_ROOT"]
SCRIPTS = ["scripts/demo.sh", "scripts/test.sh", "scripts/deps.sh", ".ci/run", "bench/run",
           "systemd/postinstall.sh"]


def shellcheck():
    sc = shutil.which("shellcheck")
    if not sc:
        print("SKIP: shellcheck not installed")
        return 77
    paths = [os.path.join(ROOT, s) for s in SCRIPTS]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"FAIL: missing {missing}")
        return 1
    p = subprocess.run([sc, "--severity=style", *paths], capture_output=True, text=True)
    print(p.stdout + p.stderr)
    print(f"shellcheck over {len(paths)} scripts: exit {p.returncode}")
    return 0 if p.returncode == 0 else 1


def summary():
    script = os.path.join(ROOT, "scripts", "test-summary.py")
    results = ["OK", "OK", "EXPECTEDFAIL", "FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS",
               "SKIP", "SKIP"]
    fails = []
    with tempfile.TemporaryDirectory(prefix="jt-") as tmp:
        log1 = os.path.join(tmp, "a.json")
        log2 = os.path.join(tmp, "b.json")
        with open(log1, "w") as f:
            for i, r in enumerate(results):
                f.write(json.dumps({"name": f"t{i}", "result": r, "duration": 0.1}) + "\n")
        with open(log2, "w") as f:
            f.write(json.dumps({"name": "u", "result": "OK"}) + "\n")
        cases = [
            # (args, last line, exit status)
            ([log1, log2], "4 passed, 4 failed, 2 skipped", 1),
            ([log2], "1 passed, 0 failed, 0 skipped", 0),
            (["--step", "build gcc=fail", os.path.join(tmp, "none.json")],
             "0 passed, 1 failed, 0 skipped", 1),
            (["--step", "clang-format=ok", log2], "2 passed, 0 failed, 0 skipped", 0),
        ]
        for args, want, want_rc in cases:
            p = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
            last = p.stdout.rstrip("\n").split("\n")[-1]
            good = last == want and p.returncode == want_rc
            print(("ok   " if good else "FAIL ") + f"{args[-1:]} -> '{last}' exit {p.returncode}")
            if not good:
                fails.append(want)
    return 1 if fails else 0


def readme():
    """README opens with exactly the two commands; .ci/run runs the second and nothing else."""
    fails = []

    def check(cond, msg):
        print(("ok   " if cond else "FAIL ") + msg)
        if not cond:
            fails.append(msg)

    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")
    body = [l for l in lines if l.strip() and not l.startswith("<!--") and not l.startswith("# ")]
    check(body[:2] == ["    scripts/demo.sh", "    scripts/test.sh"],
          f"README opens with the two commands (got {body[:2]})")
    for cmd in ("scripts/demo.sh", "scripts/test.sh"):
        check(os.access(os.path.join(ROOT, cmd), os.X_OK), f"{cmd} is executable")
    ci = [l.strip() for l in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8")
          if l.strip() and not l.lstrip().startswith("#")]
    cmds = [l for l in ci if not l.startswith(("set ", "cd "))]
    check(cmds == ["exec scripts/test.sh"], f".ci/run runs scripts/test.sh only ({cmds})")
    return 1 if fails else 0


if __name__ == "__main__":
    checks = {"shellcheck": shellcheck, "summary": summary, "readme": readme}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        print(__doc__)
        sys.exit(2)
    sys.exit(checks[sys.argv[1]]())
