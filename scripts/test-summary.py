#!/usr/bin/env python3
# test-summary.py: counts meson testlog.json results (plus scripts/test.sh's own steps) into one "N passed, N failed" line
"""usage: test-summary.py [--step NAME=ok|fail]... TESTLOG.json...

OK and EXPECTEDFAIL count as passed; FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS and INTERRUPT
as failed; SKIP as skipped. A missing testlog (the build failed before any test ran)
counts nothing: its build step is given as a failed --step. The last line printed is
the summary, alone on its line."""
import json
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def main(argv):
    steps, logs = [], []
    it = iter(argv)
    for a in it:
        if a == "--step":
            steps.append(next(it))
        elif a.startswith("--step="):
            steps.append(a[len("--step="):])
        else:
            logs.append(a)
    passed = failed = skipped = 0
    failures = []
    for log in logs:
        try:
            f = open(log, encoding="utf-8")
        except OSError:
            print(f"{log}: no test log (no test ran)")
            continue
        p = fl = s = 0
        with f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    t = json.loads(line)
                except ValueError:
                    continue
                result = str(t.get("result", "")).upper()
                if result in PASSED:
                    p += 1
                elif result in SKIPPED:
                    s += 1
                else:
                    fl += 1
                    failures.append(f"{log}: {t.get('name', '?')}: {result}")
        print(f"{log}: {p} passed, {fl} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + fl, skipped + s
    for step in steps:
        name, _, status = step.rpartition("=")
        if status == "ok":
            passed += 1
        else:
            failed += 1
            failures.append(f"step: {name}: failed")
    for f in failures:
        print(f"FAILED {f}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
