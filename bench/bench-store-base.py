#!/usr/bin/env python3
# bench-store-base.py: row e2: limits/events query p99 of this tree vs the store before compaction (722814a), CPU time
"""usage: bench-store-base.py --build DIR --work DIR [--base COMMIT] [--runs 3]

Issue 12, must-show 6: the store's limits and events queries are no slower at p99 than
"today's" store, the one before events were compacted: commit 722814a (schema version 2,
events kept as JSON text rows). This tree's daemon/bench-store (in --build, a release
build) is compared with the same program built from --base: a temporary `git worktree`
of --base under --work, with this tree's bench/bench-store.c copied in (the same queries,
clock and fill: 1,000,000 events), configured --buildtype=release -Db_ndebug=true and
removed afterwards. Each program fills its own store once (both fills at once, not timed),
then they run in turn, --runs times each (BENCH_STORE_CLOCK=cpu: the querying thread's CPU
time, so that other load on the machine counts less), 200 queries of each kind per run.
Per query: min and median over the runs of the p99; the figure is the worst ratio of
medians (this tree / base). Met when no query's median p99 is above the base's.
Without git, or a clone without --base in its history, the row says why it was not
measured. Progress goes to stderr; the last stdout line is
    RESULT<TAB>figure<TAB>met|not met|n/a
Figures are printed, never asserted."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = 1000000
LINE = re.compile(r"^(.*?)\s+p50\s+([0-9.]+) ms\s+p99\s+([0-9.]+) ms")


def log(msg):
    print(f"bench-store-base: {msg}", file=sys.stderr, flush=True)


def result(figure, met):
    status = "n/a" if met is None else ("met" if met else "not met")
    print(f"RESULT\t{figure}\t{status}", flush=True)


def git(*args, check=True):
    return subprocess.run(["git", "-C", HERE, *args], check=check, capture_output=True,
                          text=True)


def baseline_commit(base):
    """the full id of base in this clone, or (None, why not)"""
    if shutil.which("git") is None:
        return None, "git is not installed"
    if git("rev-parse", "--git-dir", check=False).returncode != 0:
        return None, "this tree is not a git clone"
    r = git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False)
    if r.returncode != 0:
        shallow = git("rev-parse", "--is-shallow-repository", check=False).stdout.strip()
        return None, (f"commit {base} is not in this clone's history"
                      + (" (a shallow clone)" if shallow == "true" else ""))
    return r.stdout.strip(), None


def build_base(commit, tree, build):
    """a release bench-store of commit, with this tree's bench/bench-store.c"""
    git("worktree", "add", "--detach", tree, commit)
    shutil.copyfile(os.path.join(HERE, "bench", "bench-store.c"),
                    os.path.join(tree, "bench", "bench-store.c"))
    subprocess.run(["meson", "setup", build, tree, "--buildtype=release", "-Db_ndebug=true"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["meson", "compile", "-C", build, "daemon/bench-store"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(build, "daemon", "bench-store")


def run(prog, store, env_extra):
    env = dict(os.environ, **env_extra)
    r = subprocess.run([prog, store, str(EVENTS)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{prog} exited {r.returncode}: {r.stderr.strip()[-200:]}")
    return r.stdout


def indent(text):
    """bench-store's output, shifted: its own RESULT lines are not this row's"""
    return "".join(f"    {line}\n" for line in text.splitlines())


def p99s(text):
    """{query: p99 ms} of one bench-store run (limits and events queries only)"""
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(1).strip() != "status counts":
            out[m.group(1).strip()] = float(m.group(3))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="this tree's release build dir")
    ap.add_argument("--work", required=True, help="a scratch dir (stores, the base tree)")
    ap.add_argument("--base", default="722814a")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    head = os.path.join(os.path.abspath(a.build), "daemon", "bench-store")
    if not os.access(head, os.X_OK):
        result("not measured: daemon/bench-store not built", None)
        return 0
    commit, why = baseline_commit(a.base)
    if commit is None:
        log(why)
        result(f"not measured: {why}", None)
        return 0
    work = os.path.abspath(a.work)
    tree, build = os.path.join(work, "base-tree"), os.path.join(work, "base-build")
    stores = {"HEAD": os.path.join(work, "store-head"), "base": os.path.join(work, "store-base")}
    try:
        log(f"building bench-store of {a.base} ({commit[:12]}) in a git worktree")
        progs = {"HEAD": head, "base": build_base(commit, tree, build)}
        for s in stores.values():
            os.makedirs(s, exist_ok=True)
        log(f"filling both stores with {EVENTS} events (at once, not timed)")
        fills = [subprocess.Popen([progs[k], stores[k], str(EVENTS)],
                                  env=dict(os.environ, BENCH_STORE_ONLY="-"),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for k in ("HEAD", "base")]
        for k, p in zip(("HEAD", "base"), fills):
            text = p.communicate()[0]
            print(f"{k} fill:\n{indent(text)}", end="")
            if p.returncode != 0:
                raise RuntimeError(f"the {k} fill failed: {text.strip()[-200:]}")
        got = {"HEAD": [], "base": []}
        for i in range(a.runs):
            for k in ("HEAD", "base"):
                log(f"run {i + 1}/{a.runs}: {k}")
                text = run(progs[k], stores[k], {"BENCH_STORE_CLOCK": "cpu"})
                print(f"{k} run {i + 1}:\n{indent(text)}", end="")
                got[k].append(p99s(text))
    except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
        log(f"failed: {e}")
        result(f"not measured: {str(e)[:80]}", None)
        return 0
    finally:
        if os.path.isdir(tree):
            git("worktree", "remove", "--force", tree, check=False)
        git("worktree", "prune", check=False)
        shutil.rmtree(build, ignore_errors=True)
        for s in stores.values():
            shutil.rmtree(s, ignore_errors=True)
    queries = [q for q in got["HEAD"][0] if all(q in r for r in got["HEAD"] + got["base"])]
    if not queries:
        result("not measured: no p99 lines in bench-store's output", None)
        return 0
    print(f"\np99 per query, CPU ms, {a.runs} run(s) each, this tree vs {a.base}: min / median")
    worst, worst_q, met = 0.0, "", True
    for q in queries:
        h = [r[q] for r in got["HEAD"]]
        b = [r[q] for r in got["base"]]
        ratio = statistics.median(h) / max(statistics.median(b), 1e-3)
        if ratio > worst:
            worst, worst_q = ratio, q
        met = met and statistics.median(h) <= statistics.median(b)
        print(f"  {q:34} {min(h):7.2f} / {statistics.median(h):7.2f}   vs {min(b):7.2f} / "
              f"{statistics.median(b):7.2f}   {ratio:5.2f}x")
    runs = f"{a.runs} run{'s' if a.runs != 1 else ''} each"
    result(f"worst median p99 {worst:.2f}x {a.base}'s ({worst_q}); {len(queries)} queries, "
           f"{runs}, CPU time", met)
    return 0


if __name__ == "__main__":
    sys.exit(main())
