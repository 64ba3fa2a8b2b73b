# ctl_man.py: the client's and daemon's man pages render without warnings; the protocol page
# jetsamd-protocol(7) covers every command and error code of proto/PROTOCOL.md and is the one
# the other pages point to
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402

ROOT = os.environ.get("SOURCE_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PAGES = ["client/jetsamctl.1", "client/jetsamd-protocol.7", "daemon/jetsamd.8",
         "config/jetsamd.conf.5"]


def warnings(argv, env=None):
    p = subprocess.run(argv, capture_output=True, env=env)
    return p.returncode, p.stderr.decode(errors="replace")


def main():
    groff, man = shutil.which("groff"), shutil.which("man")
    if groff is None:
        print("groff not installed")
        sys.exit(harness.SKIP)
    for page in PAGES:
        path = os.path.join(ROOT, page)
        rc, err = warnings([groff, "-ww", "-man", "-z", path])
        check(rc == 0 and err == "", "groff -ww -man -z %s: %d %s" % (page, rc, err))
        if man is not None:
            for width in ("80", "60"):
                env = dict(os.environ, MANWIDTH=width, LANG="C.UTF-8")
                rc, err = warnings([man, "--warnings", "-l", path], env)
                check(rc == 0 and err == "", "man --warnings %s at %s: %s" % (page, width, err))
    with open(os.path.join(ROOT, "proto", "PROTOCOL.md")) as f:
        md = f.read()
    with open(os.path.join(ROOT, "client", "jetsamd-protocol.7")) as f:
        seven = f.read()
    commands = re.findall(r"^### (\w+)", md, re.M)
    check(len(commands) >= 9, "commands of PROTOCOL.md: %r" % commands)
    sections = re.findall(r"^\.SS (\w+)", seven, re.M)
    check_eq(sections, commands, "jetsamd-protocol(7) has a section per command, in order")
    codes = re.findall(r"^\| `(\w+)` \|", md, re.M)
    check(len(codes) >= 6, "error codes of PROTOCOL.md: %r" % codes)
    for code in codes:
        check(re.search(r"^\.B %s$" % code, seven, re.M) is not None,
              "error code %s in jetsamd-protocol(7)" % code)
    # the installed pages point to the installed protocol page, not to a source file
    for page in ("client/jetsamctl.1", "daemon/jetsamd.8"):
        with open(os.path.join(ROOT, page)) as f:
            text = f.read()
        see_also = text[text.index(".SH SEE ALSO"):]
        check(".BR jetsamd\\-protocol (7)" in see_also, "%s: SEE ALSO jetsamd-protocol(7)" % page)
        check("PROTOCOL.md" not in text, "%s names PROTOCOL.md" % page)
    print("ok: %d man pages without warnings; the protocol page covers %d commands, %d codes"
          % (len(PAGES), len(commands), len(codes)))


if __name__ == "__main__":
    main()
