# devices_common.py: helpers of the device-side integration tests (phones, waits, expectations)
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import check, check_eq, fail, wait_until  # noqa: E402,F401

CORPUS = os.environ.get("JETSAM_CORPUS") or os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "data", "corpus"))


def gen_phone(root, name, udid, product, osv, build, reports=3, pending=0, retired=False,
              synced=False, seed=1, **device_extra):
    """Make a DEVICE_DIR with jetsamgen; extra device.json keys (trust, locked) are merged."""
    d = os.path.join(root, name)
    argv = [harness.binary("JETSAMGEN"), "phone", "--dir", d, "--udid", udid, "--product",
            product, "--os-version", osv, "--build", build, "--name", name,
            "--reports", str(reports), "--pending", str(pending), "--seed", str(seed)]
    if retired:
        argv.append("--retired")
    if synced:
        argv.append("--synced")
    p = subprocess.run(argv, capture_output=True)
    if p.returncode != 0:
        fail("jetsamgen phone: rc %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    if device_extra:
        path = os.path.join(d, "device.json")
        with open(path) as f:
            dj = json.load(f)
        dj.update(device_extra)
        with open(path, "w") as f:
            json.dump(dj, f)
    return d


def corpus_file(name, kind="jetsam"):
    p = os.path.join(CORPUS, kind, name)
    if not os.path.exists(p):
        fail("corpus file %s is missing" % p)
    return p


def put(dev_dir, rel, src=None, data=None, base="CrashReporter"):
    """Place a file in a phone's CrashReporter/ (or pending/) tree."""
    p = os.path.join(dev_dir, base, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if src is not None:
        shutil.copyfile(src, p)
    else:
        with open(p, "wb") as f:
            f.write(data)
    return p


def tree_files(dev_dir, base="CrashReporter"):
    """Relative path -> bytes of every regular file (symlinks skipped)."""
    out = {}
    top = os.path.join(dev_dir, base)
    for dirpath, _dirs, files in os.walk(top):
        for n in files:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                continue
            with open(p, "rb") as f:
                out[os.path.relpath(p, top)] = f.read()
    return out


def is_jetsam_name(rel):
    return os.path.basename(rel).startswith("JetsamEvent")


def devices(jd):
    """udid -> DEVICE, through the socket API."""
    with jd.client() as c:
        return {d["udid"]: d for d in c.call("devices")["devices"]}


def wait_states(jd, want, timeout=30, what=None):
    """Wait until every udid in want (udid -> state or set of states) is in that state."""
    last = {}

    def ok():
        last.clear()
        last.update(devices(jd))
        for u, st in want.items():
            sts = {st} if isinstance(st, str) else set(st)
            if u not in last or last[u]["state"] not in sts:
                return False
        return True
    if not wait_until(ok, timeout, interval=0.1, what=False):
        fail("timed out waiting for %s: devices are %s\n--- jetsamd log tail:\n%s" % (
            what or want, json.dumps({u: (d["state"], d.get("error")) for u, d in
                                      last.items()}),
            jd.stderr_text()[-4000:]))
    return last


def parse_files(paths):
    """jetsamctl --json parse over paths -> list of per-file results."""
    out = []
    for p in paths:
        r = subprocess.run([harness.binary("JETSAMCTL"), "--json", "parse", p],
                           capture_output=True, timeout=30)
        if r.returncode not in (0, 1):
            fail("jetsamctl parse %s: rc %d: %s" % (p, r.returncode, r.stderr.decode()))
        try:
            v = json.loads(r.stdout)
        except ValueError:
            fail("jetsamctl parse %s: not JSON: %r" % (p, r.stdout[:300]))
        if isinstance(v, dict) and "reports" in v:
            v = v["reports"]
        if isinstance(v, list):
            if len(v) != 1:
                fail("jetsamctl parse %s: want one report, got %d" % (p, len(v)))
            v = v[0]
        out.append(v)
    return out


def report_key(parsed, raw):
    inc = (parsed.get("report") or {}).get("incident")
    if inc:
        return "incident:" + inc
    return "sha256:" + hashlib.sha256(raw).hexdigest()


EVENT_FIELDS = ("process", "pid", "uuid", "reason", "role", "states", "priority", "rpages",
                "page_size", "footprint_bytes", "limit_bytes", "lifetime_max_pages")


def event_tuple(e, extra=()):
    return tuple(json.dumps(e.get(k), sort_keys=True) for k in EVENT_FIELDS + tuple(extra))


def log_count(jd, needle):
    return jd.stderr_text().count(needle)


def start(phones, extra_config=None, verbose=False):
    """devsim serving phones + jetsamd watching it (private dirs); returns (devsim, jetsamd)."""
    ds = harness.Devsim(phones_dirs=phones, verbose=verbose).start()
    cfg = {"resync_interval": "60s"}
    cfg.update(extra_config or {})
    jd = harness.Jetsamd(usbmuxd_socket=ds.usbmuxd, extra_config=cfg).start()
    return ds, jd


def expected_from_trees(phone_dirs, collect_all=False):
    """What `jetsamctl parse` says of every report file on the phones, once per report.

    Returns (reports: key -> dict(udid, paths, parsed), events: sorted list of tuples)."""
    reports = {}
    for d in phone_dirs:
        with open(os.path.join(d, "device.json")) as f:
            dj = json.load(f)
        top = os.path.join(d, "CrashReporter")
        files = tree_files(d)
        # empty files are not reports yet (being written): the daemon leaves them for later
        paths = sorted(p for p in files if (collect_all or is_jetsam_name(p)) and files[p])
        parsed = parse_files([os.path.join(top, p) for p in paths])
        for rel, pr in zip(paths, parsed):
            with open(os.path.join(top, rel), "rb") as f:
                raw = f.read()
            k = report_key(pr, raw)
            if k in reports:
                reports[k]["paths"].append((dj["udid"], rel))
                continue
            rep = pr.get("report") or {}
            reports[k] = {"udid": dj["udid"], "paths": [(dj["udid"], rel)], "parsed": pr,
                          "product": rep.get("product") or dj["product_type"],
                          "os_version": rep.get("os_version") or dj["product_version"],
                          "build": rep.get("build") or dj["build_version"],
                          "incident": rep.get("incident")}
    return reports


def multi_phone_incidents(reports):
    """Incidents of reports present on several phones: which phone is first is a race."""
    return {r["incident"] for r in reports.values() if len({u for u, _ in r["paths"]}) > 1}


def expected_events(reports):
    multi = multi_phone_incidents(reports)
    out = []
    for k, r in reports.items():
        udid = None if r["incident"] in multi else r["udid"]
        for e in r["parsed"].get("events") or []:
            out.append(event_tuple(e) + (r["incident"], r["product"], r["build"], udid))
    return sorted(out, key=repr)


def daemon_events(jd, multi=()):
    v = jd.ctl_json("events", "--limit", "100000")
    if isinstance(v, dict):
        v = v.get("events", v)
    return sorted((event_tuple(e) + (e.get("incident"), e.get("product"), e.get("build"),
                                     None if e.get("incident") in multi else e.get("udid"))
                   for e in v), key=repr)


def expected_limits(reports):
    groups = {}
    for r in reports.values():
        for e in r["parsed"].get("events") or []:
            if e.get("limit_bytes") is None:
                continue
            g = groups.setdefault((r["product"], r["build"], e["role"]),
                                  {"v": [], "phones": set(), "procs": set()})
            g["v"].append(e["limit_bytes"])
            g["phones"].add(r["udid"])
            g["procs"].add(e["process"])
    out = {}
    for key, g in groups.items():
        v = sorted(g["v"])
        out[key] = {"count": len(v), "min": v[0], "max": v[-1], "median": v[(len(v) - 1) // 2],
                    "phones": len(g["phones"]), "processes": sorted(g["procs"])}
    return out


def daemon_limits(jd):
    v = jd.ctl_json("limits")
    if isinstance(v, dict):
        v = v.get("limits", v)
    out = {}
    for l in v:
        out[(l["product"], l["build"], l["role"])] = {
            "count": l["count"], "min": l["min"], "max": l["max"], "median": l["median"],
            "phones": l["phones"], "processes": sorted(l["processes"])}
    return out


def daemon_reports(jd, udid=None):
    with jd.client() as c:
        args = {"limit": 100000}
        if udid:
            args["udid"] = udid
        return c.call("reports", **args)["reports"]


def gen_report(path, seed, product="iPhone13,2", osv="15.5", build="19F77"):
    """One generated JetsamEvent report (random incident from the seed) written to path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    p = subprocess.run([harness.binary("JETSAMGEN"), "report", "--product", product,
                        "--os-version", osv, "--build", build, "--seed", str(seed),
                        "--out", path], capture_output=True)
    if p.returncode != 0:
        fail("jetsamgen report: rc %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    pr = parse_files([path])[0]
    return pr["report"]["incident"]


def keys_of(jd, udid=None):
    return sorted(r["key"] for r in daemon_reports(jd, udid))


def sync_wait(jd, udid=None):
    args = ["sync", "--wait"] + ([udid] if udid else [])
    v = jd.ctl_json(*args, timeout=60)
    return {s["udid"]: s for s in v["synced"]}


def reload(jd, **changes):
    """Rewrite jetsamd's config with changes, SIGHUP it and wait until it has reloaded."""
    import signal
    n = jd.stderr_text().count("configuration reloaded")
    jd.write_config(dict(jd.extra_config or {}, **changes))
    jd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: jd.stderr_text().count("configuration reloaded") > n, timeout=5,
               what="configuration reload")


# ---- strace: a handshake's 100 ms sleep (devices-nosleep, devices-service-ssl) ----

SLEEP_RE = re.compile(r"\b(clock_nanosleep|nanosleep)\(.*?\{tv_sec=(\d+), tv_nsec=(\d+)\}")


def long_sleeps(trace):
    """The lines of trace that sleep 100 ms or more."""
    out = []
    with open(trace, errors="replace") as f:
        for line in f:
            m = SLEEP_RE.search(line)
            if m and int(m.group(2)) * 1000000000 + int(m.group(3)) >= 100000000:
                out.append(line.rstrip())
    return out


def require_strace():
    """Skip the test (exit 77) where strace is not installed."""
    if not shutil.which("strace"):
        print("SKIP: strace not installed (scripts/deps.sh --test)")
        sys.exit(harness.SKIP)


def strace_argv(trace):
    return ["strace", "-f", "-qq", "-o", trace, "-e", "trace=execve,nanosleep,clock_nanosleep",
            "-e", "signal=none"]


def strace_jetsamd(wrapper, trace):
    """Write wrapper: a script that runs jetsamd under strace_argv(trace); returns its path."""
    with open(wrapper, "w") as f:
        # LeakSanitizer cannot run under ptrace: in a sanitized build, the leak check is off
        f.write("#!/bin/sh\nASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\"\n"
                "export ASAN_OPTIONS\nexec %s \"$@\"\n" % " ".join(
                    "'%s'" % a for a in strace_argv(trace) + [harness.binary("JETSAMD")]))
    os.chmod(wrapper, 0o755)
    return wrapper
