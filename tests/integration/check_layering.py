#!/usr/bin/env python3
# check_layering.py: scripts/check-layering.py passes a layered tree and names every upward include, cycle, unplaced module and oversize function
"""Environment (from meson): SOURCE_ROOT.

Part 1 runs the script over small synthetic trees in a temp dir: a clean layered tree
passes, and each kind of violation fails with a line that names it. Part 2 runs it over
the real daemon/, proto/, client/ (they must pass), then over copies of them with a
deliberately upward include added, which must fail and be named.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import expect, finish, tmpdir  # noqa: E402

harness.verbose_expect = True  # list every check

ROOT = os.environ.get("SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "check-layering.py")
SUMMARY = re.compile(r"^check-layering: \d+ files, \d+ modules, \d+ includes, (\d+) problems?")


def run(root, *opts):
    """(exit status, problem lines, summary line) of the script over root."""
    p = subprocess.run([sys.executable, SCRIPT, "--root", root, *opts],
                       capture_output=True, text=True, timeout=60)
    lines = p.stdout.rstrip("\n").split("\n")
    if p.stderr.strip():
        print(p.stderr.strip())
    return p.returncode, lines[:-1], lines[-1]


def function(name, body_lines):
    """A C function whose body, from "{" to "}", is body_lines + 2 lines long; braces in
    its strings and comments must not confuse the scan."""
    body = ['\tconst char *s = "{ \\" {";  /* { */'] * body_lines
    return "int %s(void)\n{\n%s\n\treturn s[0] == '{' ? 0 : '}';\n}\n" % (
        name, "\n".join(body[:-1]))


# a tree shaped like the target architecture: every layer, the "any layer" modules, proto/
# and client/ (the include of the build's "config.h" is outside the tree and ignored)
CLEAN = {
    "daemon/main.c": '#include <stdio.h>\n#include "hub.h"\n#include "log.h"\n'
                     '#include <config.h>\nint main(void)\n{\n\treturn hub_run();\n}\n',
    "daemon/hub.h": '#include "config.h"\nint hub_run(void);\n',
    "daemon/hub.c": '#include "hub.h"\n#include "api.h"\n#include "ipc.h"\n#include "devices.h"\n'
                    '#include "store.h"\n#include "sd.h"\n',
    "daemon/api.h": '#include "../proto/request.h"\n',
    "daemon/api.c": '#include "api.h"\n#include "devices.h"\n#include "ingest.h"\n#include "log.h"\n',
    "daemon/api_events.c": '#include "api.h"\n#include "store.h"\n',
    "daemon/import.c": '#include "import.h"\n#include "ingest.h"\n',
    "daemon/import.h": '',
    "daemon/devices.h": '#include "store.h"\n',
    "daemon/devices.c": '#include "devices.h"\n#include "devices_impl.h"\n#include "fetch.h"\n'
                        '#include "devwatch.h"\n#include "mailbox.h"\n#include "clock.h"\n',
    # private headers (no .c of their own) that include their module's public header
    "daemon/devices_impl.h": '#include "devices.h"\n',
    "daemon/ipc.h": '',
    "daemon/ipc.c": '#include "ipc.h"\n#include "../proto/linebuf.h"\n#include "log.h"\n',
    "daemon/ingest.h": '#include "store.h"\n',
    "daemon/ingest.c": '#include "ingest.h"\n#include "archive.h"\n#include "../proto/report.h"\n',
    "daemon/fetch.h": '#include "fileindex.h"\n',
    "daemon/fetch.c": '#include "fetch.h"\n#include "archive.h"\n#include "durable.h"\n',
    "daemon/devwatch.h": '',
    "daemon/devwatch.c": '#include "devwatch.h"\n#include "mailbox.h"\n',
    "daemon/store.h": '#include "fileindex.h"\n#include "../proto/report.h"\n',
    "daemon/store.c": '#include "store.h"\n#include "durable.h"\n' + function("store_open", 98),
    "daemon/store_devices.c": '#include "store.h"\n',
    "daemon/fileindex.h": '',
    "daemon/fileindex.c": '#include "fileindex.h"\n',
    "daemon/durable.h": '',
    "daemon/durable.c": '#include "durable.h"\n#include "log.h"\n',
    "daemon/archive.h": '',
    "daemon/archive.c": '#include "archive.h"\n#include "durable.h"\n#include "../proto/report.h"\n',
    "daemon/log.h": '',
    "daemon/log.c": '#include "log.h"\n',
    "daemon/config.h": '#include "log.h"\n',
    "daemon/config.c": '#include "config.h"\n',
    "daemon/sd.h": '',
    "daemon/sd.c": '#include "sd.h"\n#include "log.h"\n',
    "daemon/mailbox.h": '',
    "daemon/mailbox.c": '#include "mailbox.h"\n',
    "daemon/clock.h": '',
    "proto/report.h": '',
    "proto/report_internal.h": '#include "report.h"\n',  # report.c and report_text.c
    "proto/report.c": '#include "report_internal.h"\n',
    "proto/report_text.c": '#include "report_internal.h"\n',
    "proto/linebuf.h": '',
    "proto/linebuf.c": '#include "linebuf.h"\n',
    "proto/request.h": '#include "protocol.h"\n',
    "proto/request.c": '#include "request.h"\n',
    "proto/protocol.h": '',
    "client/ctl.h": '',
    "client/conn.h": '#include "ctl.h"\n#include "protocol.h"\n',
    "client/conn.c": '#include "conn.h"\n#include "config.h"\n',
    "client/jetsamctl.c": '#include "ctl.h"\n#include "conn.h"\n#include "report.h"\n'
                          + "\n" * 697,  # 700 lines: the most a .c file may have
}


def tree(changes=None, drop=()):
    """A fresh copy of CLEAN with files replaced or added (changes) and removed (drop)."""
    files = dict(CLEAN)
    files.update(changes or {})
    root = tmpdir("jt-layer-")
    for rel, text in files.items():
        if rel in drop:
            continue
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return root


def expect_fails(what, root, want, count=1):
    """The script exits 1 and prints exactly count problem lines, each matching want."""
    rc, problems, summary = run(root)
    expect(rc == 1, "%s: exit 1 (got %d)" % (what, rc))
    hits = [p for p in problems if re.search(want, p)]
    expect(len(hits) == count and len(problems) == count,
           "%s: %d line(s) matching %r (got %r)" % (what, count, want, problems))
    m = SUMMARY.match(summary)
    expect(m is not None and int(m.group(1)) == len(problems),
           "%s: summary %r counts the %d lines" % (what, summary, len(problems)))


def synthetic():
    rc, problems, summary = run(tree())
    expect(rc == 0 and problems == [], "clean layered tree passes (exit %d, %r)" % (rc, problems))
    expect(re.match(r"^check-layering: %d files, \d+ modules, \d+ includes, 0 problems" % len(CLEAN),
                    summary), "clean tree summary: %r" % summary)

    expect_fails("upward include", tree({"daemon/store.c": CLEAN["daemon/store.c"] + '#include "hub.h"\n'}),
                 r'^daemon/store\.c: #include "hub\.h": upward include: '
                 r'daemon/store \(L4 workers\) -> daemon/hub \(L1 hub\)$')  # hub.c includes store.h: no second line for that cycle
    expect_fails("upward include from a header",
                 tree({"daemon/durable.h": '#include "api.h"\n'}),
                 r'^daemon/durable\.h: #include "api\.h": upward include: '
                 r'daemon/durable \(L5 base\) -> daemon/api \(L2 commands\)$')
    expect_fails("daemon includes the client",
                 tree({"daemon/log.c": '#include "log.h"\n#include "../client/ctl.h"\n'}),
                 r'^daemon/log\.c: #include "\.\./client/ctl\.h": upward include: '
                 r'daemon/log \(any\) -> client/ctl \(client\)$')

    # one cycle in one layer, through three files of the two modules: reported once
    expect_fails("cycle", tree({"daemon/fetch.c": CLEAN["daemon/fetch.c"] + '#include "devwatch.h"\n',
                                "daemon/devwatch.c": CLEAN["daemon/devwatch.c"] + '#include "fetch.h"\n',
                                "daemon/devwatch.h": '#include "fetch.h"\n'}),
                 r'^daemon/devwatch\.[ch]: #include "fetch\.h": '
                 r'cycle daemon/devwatch -> daemon/fetch -> daemon/devwatch$')
    expect_fails("three-module cycle",
                 tree({"proto/linebuf.c": '#include "linebuf.h"\n#include "request.h"\n',
                       "proto/protocol.h": '#include "linebuf.h"\n'}),
                 r'^proto/linebuf\.c: #include "request\.h": '
                 r'cycle proto/linebuf -> proto/request -> proto/protocol -> proto/linebuf$')

    expect_fails("proto includes daemon",
                 tree({"proto/report.c": '#include "report_internal.h"\n#include "../daemon/log.h"\n'}),
                 r'^proto/report\.c: #include "\.\./daemon/log\.h": proto/ includes nothing from daemon/$')
    expect_fails("proto includes client",
                 tree({"proto/request.h": '#include "../client/ctl.h"\n'}),
                 r'^proto/request\.h: #include "\.\./client/ctl\.h": proto/ includes nothing from client/$')
    expect_fails("client includes daemon",
                 tree({"client/conn.c": '#include "conn.h"\n#include "../daemon/store.h"\n'}),
                 r'^client/conn\.c: #include "\.\./daemon/store\.h": client/ includes nothing from daemon/$')

    expect_fails("module in no layer",
                 tree({"daemon/widget.c": '#include "log.h"\n', "daemon/widget.h": ''}),
                 r'^daemon/widget\.[ch]: module daemon/widget: in no layer')

    big = CLEAN["daemon/store.c"] + "\n" + function("store_big", 99)
    expect_fails("function over 100 lines", tree({"daemon/store.c": big}),
                 r'^daemon/store\.c:\d+: store_big\(\): 101 lines: function over 100 lines$')
    rc, problems, _ = run(tree({"daemon/store.c": big}), "--no-sizes")
    expect(rc == 0 and problems == [], "--no-sizes ignores sizes (exit %d, %r)" % (rc, problems))
    expect_fails("file over 700 lines",
                 tree({"client/jetsamctl.c": CLEAN["client/jetsamctl.c"] + "\n"}),
                 r'^client/jetsamctl\.c: 701 lines: file over 700 lines$')
    expect_fails("every problem listed",
                 tree({"daemon/store.c": big + '#include "api.h"\n', "daemon/widget.c": ""}),
                 r"upward include|function over|in no layer", count=3)

    rc, _, _ = run(tmpdir("jt-layer-"))
    expect(rc == 2, "a root without daemon/ proto/ client/ is a usage error (exit %d)" % rc)


def copy_real():
    root = tmpdir("jt-layer-real-")
    for d in ("daemon", "proto", "client"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(root, d))
    return root


def insert_include(path, line):
    """Add an include line after the first line (the file's one-line comment)."""
    with open(path) as f:
        text = f.read().split("\n", 1)
    with open(path, "w") as f:
        f.write(text[0] + "\n" + line + "\n" + text[1])


def real_tree():
    rc, problems, summary = run(ROOT)
    for p in problems:
        print("  " + p)
    expect(rc == 0 and problems == [], "the real tree passes (exit %d, %s)" % (rc, summary))

    root = copy_real()
    stores = sorted(glob.glob(os.path.join(root, "daemon", "store*.c")))
    store = os.path.join(root, "daemon", "store.c")
    store = store if os.path.exists(store) else (stores or [store])[0]
    rel = os.path.relpath(store, root)
    insert_include(store, '#include "hub.h"')
    rc, problems, _ = run(root)
    want = '%s: #include "hub.h": upward include:' % rel
    expect(rc == 1 and any(p.startswith(want) for p in problems),
           "an upward include added to the real %s fails and is named (exit %d)" % (rel, rc))

    root = copy_real()
    insert_include(os.path.join(root, "proto", "report.c"), '#include "../daemon/log.h"')
    rc, problems, _ = run(root)
    want = 'proto/report.c: #include "../daemon/log.h": proto/ includes nothing from daemon/'
    expect(rc == 1 and want in problems,
           "a daemon include added to the real proto/report.c fails and is named (exit %d)" % rc)


def main():
    if not os.path.isfile(SCRIPT):
        harness.fail("no script at " + SCRIPT)
    synthetic()
    real_tree()
    finish("check-layering")


if __name__ == "__main__":
    main()
