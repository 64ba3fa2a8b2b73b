#!/usr/bin/env python3
# run-fuzz-daemon.py: run a daemon libFuzzer target (fuzz-config, fuzz-request) for a bounded time
"""Usage: run-fuzz-daemon.py FUZZER SEED_DIR

libFuzzer writes new inputs into its first corpus directory: a private temporary directory
goes first, the repository's seed directory second (read only). A crash input is copied
next to the build log and its path printed, to be added to SEED_DIR as a regression file.
FUZZ_RUNS and FUZZ_SECONDS override the bounds.
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    fuzzer, seeds = sys.argv[1], sys.argv[2]
    name = os.path.basename(fuzzer)
    runs = os.environ.get("FUZZ_RUNS", "50000")
    seconds = os.environ.get("FUZZ_SECONDS", "30")
    with tempfile.TemporaryDirectory(prefix=name + "-") as tmp:
        work = os.path.join(tmp, "corpus")
        os.mkdir(work)
        cmd = [fuzzer, "-runs=" + runs, "-max_total_time=" + seconds, "-max_len=70000",
               "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
               "-artifact_prefix=" + tmp + "/", work, seeds]
        print(" ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        found = [f for f in os.listdir(tmp)
                 if f.split("-")[0] in ("crash", "leak", "timeout", "oom")]
        if found:
            keep = os.path.join(os.getcwd(), name + "-artifacts")
            os.makedirs(keep, exist_ok=True)
            for f in found:
                shutil.copy(os.path.join(tmp, f), keep)
                print("%s: failing input kept as %s" % (name, os.path.join(keep, f)),
                      file=sys.stderr)
        if rc != 0 or found:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
