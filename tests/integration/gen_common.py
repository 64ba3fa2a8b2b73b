# gen_common.py: helpers shared by the jetsamgen tests (run the generator, split and recompute reports)
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))  # harness

JETSAMGEN = os.environ.get("JETSAMGEN", "")

EVENT_KEYS = ["process", "pid", "uuid", "reason", "role", "states", "priority", "rpages",
              "page_size", "footprint_bytes", "limit_bytes", "lifetime_max_pages"]
REPORT_KEYS = ["incident", "bug_type", "product", "os_version", "build", "timestamp",
               "page_size", "largest_process", "variant"]


def need_generator():
    if not JETSAMGEN or not os.access(JETSAMGEN, os.X_OK):
        print("JETSAMGEN is not set to the jetsamgen binary", file=sys.stderr)
        sys.exit(1)


def run(args, expect_rc=0):
    p = subprocess.run([JETSAMGEN] + args, capture_output=True, text=True)
    if expect_rc is not None and p.returncode != expect_rc:
        raise RuntimeError("jetsamgen %s: exit %d, want %d: %s" %
                           (" ".join(args), p.returncode, expect_rc, p.stderr.strip()))
    return p


def ordered(pairs):
    return ("OBJ", pairs)


def split_report(data):
    """header dict, body (parsed with key order kept), body text"""
    text = data.decode("utf-8")
    nl = text.index("\n")
    header = json.loads(text[:nl], object_pairs_hook=lambda p: p)
    body = json.loads(text[nl + 1:], object_pairs_hook=lambda p: p)
    return header, body, text[nl + 1:]


def todict(pairs):
    return dict(pairs) if isinstance(pairs, list) and (not pairs or isinstance(pairs[0], tuple)) else pairs


def keys(pairs):
    return [k for k, _ in pairs]


def role_of(states):
    if "frontmost" in states:
        return "foreground"
    if "daemon" in states:
        return "daemon"
    return "background"


def expected_events(header, body):
    """the kill events of a report, recomputed the way `jetsamctl parse --json` defines them"""
    b = dict(body)
    ms = dict(b["memoryStatus"])
    page = ms["pageSize"]
    events = []
    for entry in b["processes"]:
        e = dict(entry)
        if "reason" not in e:
            continue
        foot = e["rpages"] * page
        events.append({
            "process": e["name"], "pid": e["pid"], "uuid": e["uuid"], "reason": e["reason"],
            "role": role_of(e["states"]), "states": list(e["states"]),
            "priority": e.get("priority"), "rpages": e["rpages"], "page_size": page,
            "footprint_bytes": foot,
            "limit_bytes": foot if e["reason"] == "per-process-limit" else None,
            "lifetime_max_pages": e["lifetimeMax"],
        })
    return events


def expected_facts(header, body, variant):
    h = dict(header)
    b = dict(body)
    m = re.fullmatch(r"iPhone OS (\S+) \((\S+)\)", h["os_version"])
    return {
        "incident": h.get("incident_id", b.get("incident")), "bug_type": h["bug_type"],
        "product": b["product"], "os_version": m.group(1), "build": m.group(2),
        "timestamp": h["timestamp"], "page_size": dict(b["memoryStatus"])["pageSize"],
        "largest_process": b["largestProcess"], "variant": variant,
    }


def read_truth(path):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").splitlines()
    return [json.loads(l, object_pairs_hook=lambda p: p) for l in lines if l.strip()]
