# ctl_tty.py: devices and limits tables in a real 80-column terminal (tmux): fit and aligned
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_world import PHONE_C, PHONES, World, binary, check, check_eq, fail  # noqa: E402
import harness  # noqa: E402

WIDTH, HEIGHT = 80, 40
RIGHT_ALIGNED = {"REPORTS", "OBS", "PHONES", "MIN MiB", "MEDIAN MiB", "MAX MiB", "USED MiB",
                 "LIMIT MiB"}


def columns(line):
    """The line as a list with one entry per terminal column (wide characters take two)."""
    out = []
    for ch in line:
        if unicodedata.combining(ch):
            continue
        out.append(ch)
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            out.append("")
    return out


class Tmux:
    def __init__(self, d):
        self.dir = d
        self.sock = os.path.join(d, "tmux.sock")
        self.errlog = os.path.join(d, "ctl-stderr.log")
        self.tmux = shutil.which("tmux")

    def run(self, *args):
        p = subprocess.run([self.tmux, "-u", "-S", self.sock] + list(args), capture_output=True)
        if p.returncode != 0:
            fail("tmux %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout.decode("utf-8", errors="replace")

    def start(self):
        env = "env -i PATH=/usr/bin:/bin HOME=/tmp TERM=xterm-256color LANG=C.UTF-8 PS1='$ '"
        self.run("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "ctl",
                 env + " sh")
        harness.wait_until(lambda: "$" in self.run("capture-pane", "-p", "-t", "ctl"), 10,
                           what="tmux shell prompt")

    def command(self, cmdline, marker, escapes=False):
        """Run cmdline in the terminal (through a short script, so that the typed line does
        not wrap); return the non-empty screen lines it printed."""
        script = os.path.join(self.dir, marker.strip("_").lower() + ".sh")
        with open(script, "w") as f:
            f.write("echo BEGIN%s\n%s 2>>%s\necho %s\n" % (marker, cmdline, self.errlog,
                                                              marker))
        self.run("send-keys", "-t", "ctl", "clear; sh " + script, "Enter")

        def done():
            text = self.run("capture-pane", "-p", "-J", "-t", "ctl")
            return any(l.strip() == marker for l in text.split("\n"))
        harness.wait_until(done, 20, what="output of " + cmdline)
        args = ["capture-pane", "-p", "-J", "-t", "ctl"] + (["-e"] if escapes else [])
        lines = [l.rstrip() for l in self.run(*args).split("\n")]
        start = max(i for i, l in enumerate(lines) if "BEGIN" + marker in l)
        end = max(i for i, l in enumerate(lines) if l.strip() == marker or
                  (escapes and marker in l))
        return [l for l in lines[start + 1:end] if l.strip() != ""]

    def stop(self):
        subprocess.run([self.tmux, "-S", self.sock, "kill-server"], capture_output=True)


def check_table(name, lines, want_headers):
    check(len(lines) >= 2, "%s: a header and rows, got %r" % (name, lines))
    for l in lines:
        check(len(columns(l)) <= WIDTH, "%s: line of %d columns: %r" % (name, len(columns(l)),
                                                                          l))
    header = columns(lines[0])
    hdr = "".join(header)
    heads = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+(?: \S+)*", hdr)]
    names = [h[0] for h in heads]
    for h in want_headers:
        check(h in names, "%s: column %s shown at %d columns: %r" % (name, h, WIDTH, names))
    for row in lines[1:]:
        cols = columns(row)
        for h, start, end in heads:
            if h in RIGHT_ALIGNED:
                check(len(cols) >= end and cols[end - 1] != " " and
                      (len(cols) == end or cols[end] == " "),
                      "%s: column %s not right-aligned in %r" % (name, h, row))
            elif len(cols) > start:
                check(cols[start] != " " and (start == 0 or cols[start - 1] == " "),
                      "%s: column %s does not start at column %d in %r" % (name, h, start, row))
    return names


def main():
    if shutil.which("tmux") is None:
        print("tmux not installed")
        sys.exit(harness.SKIP)
    w = World()
    tm = Tmux(w.dir)
    tm.start()
    ctl = "%s --socket %s" % (binary("JETSAMCTL"), w.socket)
    try:
        lines = tm.command(ctl + " devices", "__END_DEVICES__")
        print("\n".join(lines))
        names = check_table("devices", lines, ["UDID", "NAME", "PRODUCT", "STATE"])
        rows = [l for l in lines[1:] if l and not l.startswith(" ")]
        check(len(rows) >= len(PHONES), "devices rows: %r" % lines)
        check(any("\u2026" in l for l in lines), "long names are ellipsized with U+2026")
        check("iPhone13,2" in "\n".join(lines), "product shown (maybe without its name)")
        # every UDID whole, so that it can be passed back; the emoji name (two columns)
        # aligned by check_table like the others
        udids = [l.split()[0] for l in lines[1:]]
        check_eq(sorted(udids), sorted(p["udid"] for p in PHONES), "devices UDIDs, whole")
        check(any(PHONE_C["name"] in l for l in lines), "emoji name shown: %r" % lines)
        rc, out, err = w.ctl("--json", "sync", "--wait", udids[-1])
        check(rc == 0 and udids[-1] in out, "sync accepts %s from the screen" % udids[-1])

        # events keeps its UDID column: unique prefixes, which sync accepts
        lines = tm.command(ctl + " events", "__END_EVENTS__")
        print("\n".join(lines))
        check_table("events", lines, ["TIME", "UDID", "PROCESS", "LIMIT MiB"])
        start = "".join(columns(lines[0])).index("UDID")
        shown = set("".join(columns(l))[start:].split()[0] for l in lines[1:])
        check(len(shown - {"-"}) >= 2, "events UDID column: %r" % shown)
        for u in sorted(shown - {"-"}):
            rc, out, err = w.ctl("--json", "sync", "--wait", u)
            check(rc == 0 and len(json.loads(out)["synced"]) == 1,
                  "sync accepts the prefix %r from the screen: %d %s" % (u, rc, err))

        lines = tm.command(ctl + " limits", "__END_LIMITS__")
        print("\n".join(lines))
        names = check_table("limits", lines, ["PRODUCT", "OS", "ROLE", "MEDIAN MiB", "DRIFT"])
        drift = [l for l in lines if "23E246" in l]
        check_eq(len(drift), 1, "limits row of the drifted build")
        check("! -50.0%" in drift[0] and "3072.0" in drift[0], "drift row: %r" % drift[0])
        check("OBS" in names or "PHONES" in names or "LAST SEEN" in names,
              "some secondary column still fits: %r" % names)

        # colour on a TTY, none with NO_COLOR
        lines = tm.command(ctl + " limits", "__END_COLOR__", escapes=True)
        check(any("\033[" in l for l in lines), "colour on a TTY")
        lines = tm.command("NO_COLOR=1 " + ctl + " limits", "__END_NOCOLOR__", escapes=True)
        check(not any("\033[" in l for l in lines), "no colour with NO_COLOR: %r" % lines)
    finally:
        tm.stop()
    with open(tm.errlog) as f:
        err = f.read()
    check_eq(err, "", "jetsamctl stderr in the terminal")
    w.jetsamd.stop()
    print("ok: devices and limits fit 80 columns, aligned")


if __name__ == "__main__":
    main()
