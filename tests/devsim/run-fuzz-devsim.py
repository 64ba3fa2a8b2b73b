# run-fuzz-devsim.py: run fuzz-devsim for a fixed number of runs over the seed corpus (fuzz suite)
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    exe, seeds = sys.argv[1], sys.argv[2]
    runs = os.environ.get("FUZZ_RUNS", "5000")
    work = tempfile.mkdtemp(prefix="jt-fuzz-devsim-", dir="/tmp")
    try:
        # new inputs go to the private first directory, never into the source tree
        r = subprocess.run([exe, "-runs=" + runs, "-max_total_time=100", work, seeds])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
