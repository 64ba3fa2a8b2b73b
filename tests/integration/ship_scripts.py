#!/usr/bin/env python3
# ship_scripts.py: the shipped shell scripts pass shellcheck, and test-summary.py counts meson results right
"""usage: ship_scripts.py shellcheck|summary|readme|deps|standalone   (SOURCE_ROOT from meson)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import expect  # noqa: E402

harness.verbose_expect = True  # list every check

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
    if not expect(not missing, f"every shipped script exists (missing: {missing})"):
        return 1
    p = subprocess.run([sc, "--severity=style", *paths], capture_output=True, text=True)
    print(p.stdout + p.stderr)
    print(f"shellcheck over {len(paths)} scripts: exit {p.returncode}")
    return 0 if p.returncode == 0 else 1


def summary():
    script = os.path.join(ROOT, "scripts", "test-summary.py")
    results = ["OK", "OK", "EXPECTEDFAIL", "FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS",
               "SKIP", "SKIP"]
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
            expect(last == want and p.returncode == want_rc,
                   f"{args[-1:]} -> '{last}' exit {p.returncode}")
    return 1 if harness.failures else 0


def readme():
    """README opens with exactly the two commands; .ci/run runs the second and nothing else."""
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")
    body = [l for l in lines if l.strip() and not l.startswith("<!--") and not l.startswith("# ")]
    expect(body[:2] == ["    scripts/demo.sh", "    scripts/test.sh"],
          f"README opens with the two commands (got {body[:2]})")
    for cmd in ("scripts/demo.sh", "scripts/test.sh"):
        expect(os.access(os.path.join(ROOT, cmd), os.X_OK), f"{cmd} is executable")
    ci = [l.strip() for l in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8")
          if l.strip() and not l.lstrip().startswith("#")]
    cmds = [l for l in ci if not l.startswith(("set ", "cd "))]
    expect(cmds == ["exec scripts/test.sh"], f".ci/run runs scripts/test.sh only ({cmds})")
    return 1 if harness.failures else 0


def deps():
    """demo.sh installs only what the demo needs; test.sh asks deps.sh for the rest."""
    def listed(*opts):
        p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "deps.sh"), "--list", *opts],
                           capture_output=True, text=True)
        expect(p.returncode == 0, f"deps.sh --list {' '.join(opts)} exits 0 ({p.stderr.strip()})")
        return set(p.stdout.split())

    demo, test = listed(), listed("--test")
    for pkg in ("meson", "libimobiledevice-dev", "libuv1-dev", "libcjson-dev", "libsqlite3-dev",
                "libpq-dev"):
        expect(pkg in demo, f"the demo set has {pkg}")
    for pkg in ("clang", "libclang-rt-14-dev", "clang-format", "nodejs", "npm", "shellcheck",
                "tmux", "strace"):
        expect(pkg not in demo, f"the demo set leaves out {pkg}")
        expect(pkg in test, f"the test set has {pkg}")
    expect(demo <= test, "the test set includes the demo set")
    demo_sh = open(os.path.join(ROOT, "scripts", "demo.sh"), encoding="utf-8").read()
    test_sh = open(os.path.join(ROOT, "scripts", "test.sh"), encoding="utf-8").read()
    demo_calls = re.findall(r"scripts/deps\.sh\"?([^\n]*)", demo_sh)
    expect(demo_calls and all("--test" not in c for c in demo_calls),
          f"demo.sh calls deps.sh without --test ({demo_calls})")
    expect(re.search(r"scripts/deps\.sh --test\b", test_sh) is not None,
          "test.sh calls deps.sh --test")
    return 1 if harness.failures else 0


def standalone():
    """No tracked file names a path beside the repository (a clone has nothing there)."""
    outside = re.compile(r"\.\./" + "shared|" + "shared/" + "(corpus|research)")
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True,
                               check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(d, f), ROOT)
                 for d, dirs, fs in os.walk(ROOT)
                 if not any(part.startswith(("build", ".git", "node_modules"))
                            for part in os.path.relpath(d, ROOT).split(os.sep))
                 for f in fs]
    hits = []
    for rel in filter(None, files):
        path = os.path.join(ROOT, rel)
        if not os.path.isfile(path) or os.path.getsize(path) > 4 << 20:
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for n, line in enumerate(text.split("\n"), 1):
            if outside.search(line):
                hits.append(f"{rel}:{n}: {line.strip()[:100]}")
    for h in hits:
        expect(False, h)
    print(f"{len(files)} tracked files read, {len(hits)} name a path outside the repository")
    corpus = os.path.join(ROOT, "tests", "data", "corpus")
    n = sum(len(fs) for _, _, fs in os.walk(corpus))
    ok = os.path.isfile(os.path.join(corpus, "SOURCES.md")) and n >= 30
    expect(ok, f"tests/data/corpus holds SOURCES.md and {n} files")
    return 1 if harness.failures else 0


if __name__ == "__main__":
    checks = {"shellcheck": shellcheck, "summary": summary, "readme": readme, "deps": deps,
              "standalone": standalone}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        print(__doc__)
        sys.exit(2)
    sys.exit(checks[sys.argv[1]]())
