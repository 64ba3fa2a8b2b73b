#!/usr/bin/env python3
# ship_install.py: a staged `meson install --destdir` installs every file a lab host needs, and the units point at them
"""Environment (from meson): MESON (the meson command), BUILD_ROOT, and the install dirs
PREFIX, BINDIR, MANDIR, SYSCONFDIR, DATADIR, UNITDIR, SYSUSERSDIR, TMPFILESDIR (absolute)."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import expect, finish  # noqa: E402

harness.verbose_expect = True  # list every check


def staged(destdir, path):
    return os.path.join(destdir, path.lstrip("/"))


def main():
    env = os.environ
    meson = env["MESON"].split()
    build = env["BUILD_ROOT"]
    d = {k: env[k] for k in ("PREFIX", "BINDIR", "MANDIR", "SYSCONFDIR", "DATADIR", "UNITDIR",
                             "SYSUSERSDIR", "TMPFILESDIR")}

    # Files the issues promise (binaries, man pages, config, units, sysusers/tmpfiles).
    expected = {
        f"{d['BINDIR']}/jetsamd": "x",
        f"{d['BINDIR']}/jetsamctl": "x",
        f"{d['BINDIR']}/devsim": "x",
        f"{d['BINDIR']}/jetsamgen": "x",
        f"{d['MANDIR']}/man8/jetsamd.8": "f",
        f"{d['MANDIR']}/man1/jetsamctl.1": "f",
        f"{d['MANDIR']}/man7/jetsamd-protocol.7": "f",
        f"{d['MANDIR']}/man1/devsim.1": "f",
        f"{d['DATADIR']}/bash-completion/completions/jetsamctl": "f",
        f"{d['MANDIR']}/man5/jetsamd.conf.5": "f",
        f"{d['SYSCONFDIR']}/jetsamd/jetsamd.conf": "f",
        f"{d['UNITDIR']}/jetsamd.service": "f",
        f"{d['UNITDIR']}/jetsamd.socket": "f",
        f"{d['UNITDIR']}/jetsamd-metrics.socket": "f",
        f"{d['SYSUSERSDIR']}/jetsamd.conf": "f",
        f"{d['TMPFILESDIR']}/jetsamd.conf": "f",
    }

    # What meson itself says it will install: every entry must land in the stage too.
    p = subprocess.run(meson + ["introspect", "--installed", build],
                       capture_output=True, text=True, timeout=120)
    expect(p.returncode == 0, "meson introspect --installed works")
    declared = sorted(set(json.loads(p.stdout).values())) if p.returncode == 0 else []

    with tempfile.TemporaryDirectory(prefix="jt-") as destdir:
        p = subprocess.run(meson + ["install", "-C", build, "--no-rebuild", "--quiet",
                                    "--destdir", destdir],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            print(p.stdout + p.stderr)
        expect(p.returncode == 0, f"meson install --destdir exits 0 (got {p.returncode})")

        for path, kind in sorted(expected.items()):
            full = staged(destdir, path)
            st = os.stat(full) if os.path.exists(full) else None
            good = st is not None and stat.S_ISREG(st.st_mode)
            if good and kind == "x":
                good = bool(st.st_mode & 0o111)
            expect(good, f"installed {path}" + (" (executable)" if kind == "x" else ""))
        for path in declared:
            expect(os.path.lexists(staged(destdir, path)), f"declared file landed: {path}")

        # The installed units name the installed binary and the socket path jetsamd uses.
        unit = staged(destdir, f"{d['UNITDIR']}/jetsamd.service")
        if os.path.exists(unit):
            text = open(unit, encoding="utf-8").read()
            m = re.search(r"^ExecStart=(\S+)", text, re.M)
            exe = m.group(1) if m else ""
            expect(exe == f"{d['BINDIR']}/jetsamd", f"ExecStart runs {d['BINDIR']}/jetsamd ({exe})")
            expect(os.access(staged(destdir, exe), os.X_OK), "ExecStart's binary is in the stage")
            expect(re.search(r"^Type=notify$", text, re.M) is not None, "Type=notify")
            expect(re.search(r"^User=jetsamd$", text, re.M) is not None, "User=jetsamd")
        sock = staged(destdir, f"{d['UNITDIR']}/jetsamd.socket")
        if os.path.exists(sock):
            text = open(sock, encoding="utf-8").read()
            for key in ("ListenStream=/run/jetsamd/jetsamd.sock", "SocketMode=0660",
                        "SocketGroup=jetsamd", "FileDescriptorName=control",
                        "Service=jetsamd.service"):
                expect(re.search(f"^{re.escape(key)}$", text, re.M) is not None, key)
        msock = staged(destdir, f"{d['UNITDIR']}/jetsamd-metrics.socket")
        if os.path.exists(msock):
            text = open(msock, encoding="utf-8").read()
            for key in ("ListenStream=9254", "FileDescriptorName=metrics",
                        "Service=jetsamd.service", "WantedBy=sockets.target"):
                expect(re.search(f"^{re.escape(key)}$", text, re.M) is not None,
                       "jetsamd-metrics.socket: " + key)

        # sysusers.d entry really creates user and group jetsamd (in a scratch root).
        sysusers = shutil.which("systemd-sysusers")
        entry = staged(destdir, f"{d['SYSUSERSDIR']}/jetsamd.conf")
        if sysusers and os.path.exists(entry):
            with tempfile.TemporaryDirectory(prefix="jt-") as root:
                os.makedirs(os.path.join(root, "etc"))
                p = subprocess.run([sysusers, f"--root={root}", entry],
                                   capture_output=True, text=True, timeout=60)
                passwd = os.path.join(root, "etc", "passwd")
                group = os.path.join(root, "etc", "group")
                users = open(passwd).read() if os.path.exists(passwd) else ""
                groups = open(group).read() if os.path.exists(group) else ""
                expect(p.returncode == 0 and re.search(r"^jetsamd:", users, re.M) is not None
                      and re.search(r"^jetsamd:", groups, re.M) is not None,
                      "sysusers.d entry creates user and group jetsamd"
                      + (f" ({p.stderr.strip()})" if p.returncode else ""))
        tmpf = staged(destdir, f"{d['TMPFILESDIR']}/jetsamd.conf")
        if os.path.exists(tmpf):
            text = open(tmpf, encoding="utf-8").read()
            expect(re.search(r"^d /var/lib/jetsamd 0750 jetsamd jetsamd", text, re.M) is not None,
                  "tmpfiles.d entry makes /var/lib/jetsamd 0750 jetsamd:jetsamd")

    finish("ship-install")


if __name__ == "__main__":
    main()
