# gen_layout.py: jetsamgen writes every JetsamEvent layout (J1-J4) the way real phones do
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_common import keys, need_generator, run, split_report  # noqa: E402
from harness import expect, finish  # noqa: E402

CORPUS = os.environ.get("CORPUS", "")

# product, os, build, variant, default page size, corpus file of the same OS (None: none)
CASES = [
    ("iPhone5,3", "9.3.3", "13G34", "J1", 4096, "pastebin-xDRLF3u4-1.ips"),
    ("iPhone8,2", "9.3.2", "13F69", "J1", 16384, "gh-ember-1.ips"),
    ("iPhone7,2", "10.1.1", "14B100", "J1", 4096, "icdab-2.ips"),
    ("iPhone7,2", "11.3.1", "15E302", "J2", 4096, "icdab-3.ips"),
    ("iPod7,1", "12.3", "16F156", "J2", 4096, "gist-jun66j5-1.ips"),
    ("iPhone12,1", "14.2", "18B5061e", "J2", 16384, "icdab-5.ips"),
    ("iPhone13,2", "15.5", "19F77", "J3", 16384, "ghblog-oom155-1.ips"),
    ("iPhone14,2", "16.6", "20G75", "J3", 16384, "gh-dopamine-1.ips"),
    ("iPhone14,5", "17.0.3", "21A360", "J4", 16384, "pastebin-zRXwGNuf-1.ips"),
    ("iPhone14,7", "18.5", "22F76", "J4", 16384, "ghfile-ios185-1.ips"),
]

# top-level body keys per variant, from jetsam-format.md section 1b
TOP_J1_9 = ["crashReporterKey", "kernel", "product", "incident", "date", "build", "timeDelta",
            "memoryStatus", "largestProcess", "processes"]
TOP_J1_9_HASH = ["kernel", "date", "crashReporterKey", "product", "build", "incident",
                 "memoryStatus", "largestProcess", "timeDelta", "processes"]
TOP_J1_10 = ["crashReporterKey", "kernel", "product", "incident", "date", "build", "timeDelta",
             "memoryStatus", "largestProcess", "genCounter", "processes"]
TOP_J2 = TOP_J1_10
TOP_J3_15 = TOP_J1_10
TOP_J3_16 = ["crashReporterKey", "kernel", "product", "incident", "date", "build",
             "roots_installed", "bug_type", "timeDelta", "memoryStatus", "largestProcess",
             "genCounter", "processes"]
TOP_J4_17 = ["build", "product", "kernel", "incident", "crashReporterKey", "date",
             "codeSigningMonitor", "roots_installed", "bug_type", "timeDelta", "memoryStatus",
             "largestProcess", "genCounter", "processes"]
TOP_J4_18 = [k for k in TOP_J4_17 if k != "roots_installed"]


def expected_top(variant, major, hash_order):
    if variant == "J1":
        if major == 9:
            return TOP_J1_9_HASH if hash_order else TOP_J1_9
        return TOP_J1_10
    if variant == "J2":
        return TOP_J2
    if variant == "J3":
        return TOP_J3_16 if major >= 16 else TOP_J3_15
    return TOP_J4_17 if major <= 17 else TOP_J4_18


def expected_header(major, hash_order):
    if major == 9:
        return ["os_version", "bug_type", "timestamp"] if hash_order else \
            ["timestamp", "bug_type", "os_version"]
    if major >= 16:
        return ["bug_type", "timestamp", "os_version", "roots_installed", "incident_id"]
    return ["bug_type", "timestamp", "os_version", "incident_id"]


class Scan:
    """keys of a possibly truncated JSON text, by container path; complete process entries"""

    def __init__(self, text):
        self.top, self.ms, self.pages, self.entries = [], [], [], []
        stack = []  # [kind, key-of-container, keys seen]
        i, n = 0, len(text)
        last_str = None
        while i < n:
            c = text[i]
            if c == '"':
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                last_str = text[i + 1:j]
                i = j + 1
                k = i
                while k < n and text[k] in " \t\r\n":
                    k += 1
                if k < n and text[k] == ":" and stack and stack[-1][0] == "{":
                    stack[-1][2].append(last_str)
                    stack[-1][3] = last_str
                continue
            if c in "{[":
                parent = stack[-1][3] if stack and stack[-1][0] == "{" else None
                stack.append([c, parent, [], None])
            elif c in "}]":
                if not stack:
                    break
                kind, parent, ks, _ = stack.pop()
                path = [s[1] for s in stack] + [parent]
                if kind == "{" and len(stack) == 2 and stack[1][0] == "[":
                    self.entries.append(ks)
                if kind == "{" and len(stack) == 0:
                    pass
            i += 1
        # keys at each depth even if unclosed (truncated files)
        self._partial(text)

    def _partial(self, text):
        depth = 0
        i, n = 0, len(text)
        cur = []  # path of keys
        pending = None
        while i < n:
            c = text[i]
            if c == '"':
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                s = text[i + 1:j]
                i = j + 1
                k = i
                while k < n and text[k] in " \t\r\n":
                    k += 1
                if k < n and text[k] == ":":
                    pending = s
                    if depth == 1:
                        self.top.append(s)
                    elif depth == 2 and cur[-1:] == ["memoryStatus"]:
                        self.ms.append(s)
                    elif depth == 3 and cur[-2:] == ["memoryStatus", "memoryPages"]:
                        self.pages.append(s)
                continue
            if c in "{[":
                depth += 1
                cur.append(pending)
                pending = None
            elif c in "}]":
                depth -= 1
                cur.pop()
            i += 1


def skeleton(lines):
    """a line's shape: indentation, key and bracket; values and array items dropped"""
    out = []
    for line in lines:
        m = re.match(r'^(\s*)"([^"]*)" : (.*?)$', line)
        if m:
            v = m.group(3)
            if v.startswith("{") or v.startswith("["):
                out.append(m.group(1) + '"%s" : %s' % (m.group(2), v[0]))
            else:
                out.append(m.group(1) + '"%s" : V' % m.group(2))
        elif re.match(r"^\s*[\]\[{}],?$", line):
            out.append(line)
        # else: an array item (state name or number): dropped
    return out


def head_skeleton(body_text):
    lines = body_text.split("\n")
    out = []
    for line in lines:
        out.append(line)
        if line.strip().startswith('"processes"'):
            break
    return skeleton(out)


def entry_blocks(body_text):
    blocks, cur = [], None
    for line in body_text.split("\n"):
        if line == "  {":
            cur = [line]
        elif cur is not None:
            cur.append(line)
            if line in ("  }", "  },"):
                blocks.append(cur)
                cur = None
    return blocks


def standard_indent(body_text):
    return body_text.startswith('{\n  "')


def check_case(tmp, product, osv, build, variant, page, corpus_name):
    major = int(osv.split(".")[0])
    name = "%s-%s" % (product, osv)
    out = os.path.join(tmp, name + ".ips")
    run(["report", "--product", product, "--os-version", osv, "--build", build,
         "--seed", "42", "--out", out, "--truth", out + ".truth"])
    data = open(out, "rb").read()
    try:
        header, body, btext = split_report(data)
    except ValueError as e:
        expect(False, "%s: header or body is not JSON: %s" % (name, e))
        return
    hash_order = keys(header)[0] == "os_version"
    expect(data.endswith(b"\n}\n"), "%s: body ends with a closing brace line" % name)
    expect(data.count(b"\n", 0, data.index(b"\n") + 1) == 1 and data.startswith(b'{"'),
          "%s: compact header line" % name)
    expect(keys(header) == expected_header(major, hash_order),
          "%s: header keys %s" % (name, keys(header)))
    h = dict(header)
    expect(h["bug_type"] == "298", "%s: bug_type 298" % name)
    expect(h["os_version"] == "iPhone OS %s (%s)" % (osv, build), "%s: os_version" % name)
    top = keys(body)
    expect(top == expected_top(variant, major, hash_order),
          "%s: top-level keys %s != %s" % (name, top, expected_top(variant, major, hash_order)))
    b = dict(body)
    ms = dict(b["memoryStatus"])
    expect(ms["pageSize"] == page, "%s: pageSize %s, want %d" % (name, ms["pageSize"], page))
    if major >= 16:
        expect(b.get("bug_type", "298") == "298", "%s: body bug_type" % name)
    procs = [dict(p) for p in b["processes"]]
    nmin = 400 if major >= 14 else 100
    expect(len(procs) >= nmin, "%s: %d processes, want hundreds" % (name, len(procs)))
    pids = [p["pid"] for p in procs]
    expect(len(set(pids)) == len(pids), "%s: pids are unique" % name)
    maxlen = 16 if major == 9 else 32
    lens = [len(p["name"].encode()) for p in procs]
    expect(max(lens) <= maxlen, "%s: names truncated to %d bytes" % (name, maxlen))
    if major >= 10:
        expect(maxlen in lens, "%s: some long name truncated to exactly %d" % (name, maxlen))
    killed = [p for p in procs if "reason" in p]
    expect(len(killed) == 1 and killed[0]["reason"] == "per-process-limit" and
          "frontmost" in killed[0]["states"], "%s: one default frontmost kill" % name)
    largest = max(procs, key=lambda p: p["rpages"])
    expect(b["largestProcess"] == largest["name"], "%s: largestProcess" % name)
    for p in procs:
        ks = set(p)
        has10 = {"coalition", "age"} <= ks
        expect(has10 == (major >= 10), "%s: coalition/age presence on %s" % (name, p["name"]))
        if major >= 10:
            expect(({"killDelta", "genCount"} <= ks) == ("reason" in p),
                  "%s: killDelta/genCount only on killed entries (%s)" % (name, p["name"]))
        expect(("priority" in ks) == (major >= 14), "%s: priority presence" % name)
        if major >= 14 and "priority" in p:
            expect(0 <= p["priority"] <= (210 if major >= 16 else 21),
                  "%s: priority %d on the right scale" % (name, p["priority"]))
        expect(("freeze_skip_reason:" in ks) == (major >= 15), "%s: freeze_skip_reason: key" % name)
        expect("freeze_skip_reason" not in ks, "%s: no colon-less freeze key" % name)
        expect(({"csFlags", "csTrustLevel", "mem_regions"} <= ks) == (major >= 16),
              "%s: cs keys presence" % name)
        if "physicalPages" in p:
            expect(major >= 14, "%s: physicalPages only from iOS 14" % name)
            pk = keys(p["physicalPages"])
            expect(pk[0] == "internal" and (major >= 16 or pk == ["internal"]),
                  "%s: physicalPages keys %s" % (name, pk))
        else:
            expect(major < 14, "%s: physicalPages missing on %s" % (name, p["name"]))
        expect(len(p["states"]) >= 1, "%s: states not empty" % name)
    if major >= 16:
        expect(max(p["priority"] for p in procs) > 21, "%s: new priority scale used" % name)
    # NSJSONSerialization style
    expect(re.search(r'"kernel" : "Darwin Kernel Version [^"]*root:xnu-[^"]*\\/RELEASE_', btext)
          is not None, "%s: kernel string with \\/" % name)
    expect(re.search(r'(?<!\\)/', btext) is None, "%s: every / escaped as \\/" % name)
    expect("\n},\n" in btext, "%s: memoryStatus closed by '}}, ' in column 0" % name)
    expect('"memoryStatus" : {\n  "' in btext, "%s: memoryStatus keys not indented further" % name)
    expect(btext.rstrip("\n").endswith("\n  }\n]\n}"), "%s: processes close" % name)

    if not CORPUS or not corpus_name:
        return 0
    cpath = os.path.join(CORPUS, "jetsam", corpus_name)
    if not os.path.exists(cpath):
        expect(False, "corpus file missing: " + cpath)
        return 0
    ctext = open(cpath, encoding="utf-8", errors="replace").read()
    nl = ctext.index("\n")
    cbody = ctext[nl + 1:]
    cs = Scan(cbody)
    gs = Scan(btext)
    # a corpus file cut short gives a prefix of the keys
    whole = "processes" in cs.top
    expect(gs.top == cs.top if whole else gs.top[:len(cs.top)] == cs.top,
          "%s: top keys differ from %s: %s vs %s" % (name, corpus_name, gs.top, cs.top))
    expect(gs.ms == cs.ms or (not whole and gs.ms[:len(cs.ms)] == cs.ms), "%s: memoryStatus keys differ from %s: %s vs %s" %
          (name, corpus_name, gs.ms, cs.ms))
    expect(gs.pages == cs.pages or (not whole and gs.pages[:len(cs.pages)] == cs.pages), "%s: memoryPages keys differ from %s" % (name, corpus_name))
    try:
        import json
        ch = json.loads(ctext[:nl], object_pairs_hook=lambda p: p)
        expect(keys(ch) == keys(header), "%s: header key order differs from %s: %s vs %s" %
              (name, corpus_name, keys(ch), keys(header)))
    except ValueError:
        pass
    # process entries: where the corpus has an entry with the same key set, same order
    corpus_orders = {}
    for ks in cs.entries:
        corpus_orders.setdefault(frozenset(ks), set()).add(tuple(ks))
    matched = 0
    for ks in gs.entries:
        want = corpus_orders.get(frozenset(ks))
        if want:
            matched += 1
            expect(tuple(ks) in want, "%s: entry order %s not as in %s (%s)" %
                  (name, ks, corpus_name, sorted(want)))
    if cs.entries:
        expect(matched > 0, "%s: no generated entry has the key set of any %s entry" %
              (name, corpus_name))
    # byte layout: indentation, brackets and key order of the head and of one entry
    if standard_indent(cbody):
        expect(head_skeleton(btext) == head_skeleton(cbody),
              "%s: head layout differs from %s:\n%s\n---\n%s" %
              (name, corpus_name, "\n".join(head_skeleton(btext)),
               "\n".join(head_skeleton(cbody))))
        cblocks = {frozenset(re.findall(r'^    "([^"]+)" :', "\n".join(bl), re.M)): bl
                   for bl in entry_blocks(cbody)}
        same = 0
        for bl in entry_blocks(btext):
            ks = frozenset(re.findall(r'^    "([^"]+)" :', "\n".join(bl), re.M))
            if ks in cblocks:
                same += 1
                a = [l.rstrip(",") for l in skeleton(bl)]
                c = [l.rstrip(",") for l in skeleton(cblocks[ks])]
                expect(a == c, "%s: entry layout differs from %s:\n%s\n---\n%s" %
                      (name, corpus_name, "\n".join(a), "\n".join(c)))
                break
        if cblocks:
            expect(same > 0, "%s: no entry to compare with %s" % (name, corpus_name))
    return 0


def main():
    need_generator()
    global CORPUS
    if CORPUS and not os.path.isdir(os.path.join(CORPUS, "jetsam")):
        print("note: no corpus at %s: comparisons with real reports skipped" % CORPUS)
        CORPUS = ""
    with tempfile.TemporaryDirectory(prefix="jt-gen-") as tmp:
        for case in CASES:
            try:
                check_case(tmp, *case)
            except RuntimeError as e:
                expect(False, str(e))
        # --variant and --page-size override the defaults
        out = os.path.join(tmp, "override.ips")
        run(["report", "--product", "iPhone13,2", "--os-version", "15.5", "--build", "19F77",
             "--variant", "J4", "--page-size", "4096", "--processes", "37", "--out", out])
        header, body, _ = split_report(open(out, "rb").read())
        expect(keys(body)[:3] == ["build", "product", "kernel"], "--variant J4 gives J4 order")
        expect(dict(dict(body)["memoryStatus"])["pageSize"] == 4096, "--page-size 4096")
        expect(len(dict(body)["processes"]) == 37, "--processes 37")
        run(["report", "--product", "iPhone14,2", "--os-version", "16.6", "--build", "20G75",
             "--variant", "J2", "--out", out])
        header, body, _ = split_report(open(out, "rb").read())
        expect(keys(body) == TOP_J2, "--variant J2 on iOS 16 keeps the J2 keys")
        expect(keys(header)[3] == "roots_installed", "iOS 16 header has roots_installed")
    finish("gen_layout")


if __name__ == "__main__":
    main()
