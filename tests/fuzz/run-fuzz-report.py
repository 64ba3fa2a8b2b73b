#!/usr/bin/env python3
# run-fuzz-report.py: run the fuzz-report libFuzzer target for a bounded time over the seeds
"""Usage: run-fuzz-report.py FUZZER SEED_DIR [SEED_DIR...]

libFuzzer writes new inputs into its first corpus directory, so a private temporary
directory goes first and the seed directories (the repository's and the real-report
corpus, which is read-only) follow. A crash leaves its input in the temporary directory;
the script copies it next to the build log and prints where, so that it can be added to
tests/fuzz/corpus/report/ as a regression file. FUZZ_RUNS and FUZZ_SECONDS override the
bounds.
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    fuzzer = sys.argv[1]
    seeds = []
    for d in sys.argv[2:]:
        if os.path.isdir(d):
            seeds.append(d)
            for sub in sorted(os.listdir(d)):  # the real corpus keeps files one level down
                p = os.path.join(d, sub)
                if os.path.isdir(p):
                    seeds.append(p)
    runs = os.environ.get("FUZZ_RUNS", "20000")
    seconds = os.environ.get("FUZZ_SECONDS", "30")
    with tempfile.TemporaryDirectory(prefix="fuzz-report-") as tmp:
        work = os.path.join(tmp, "corpus")
        os.mkdir(work)
        dict_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.dict")
        extra = ["-dict=" + dict_path] if os.path.exists(dict_path) else []
        cmd = [fuzzer] + extra + ["-runs=" + runs, "-max_total_time=" + seconds, "-max_len=65536",
               "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
               "-artifact_prefix=" + tmp + "/", work] + seeds
        print(" ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        found = [f for f in os.listdir(tmp) if f.split("-")[0] in ("crash", "leak", "timeout", "oom")]
        if found:
            keep = os.path.join(os.getcwd(), "fuzz-report-artifacts")
            os.makedirs(keep, exist_ok=True)
            for f in found:
                shutil.copy(os.path.join(tmp, f), keep)
                print("fuzz-report: failing input kept as " + os.path.join(keep, f), file=sys.stderr)
        if rc != 0 or found:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
