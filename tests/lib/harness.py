# harness.py: stdlib helpers for integration tests (devsim, jetsamd, jetsamctl, raw clients)
"""
Integration-test harness shared by the daemon, device and CLI tests.

Binary paths come from the environment (set by meson): JETSAMD, JETSAMCTL, DEVSIM, JETSAMGEN.

API (stable; extend only):

    SKIP = 77
    fail(msg) / check(cond, msg) / check_eq(got, want, what)   -> exit 1 with "FAIL: ..."
                                    (on stderr; kills the harness's processes, removes its
                                    dirs, then os._exit(1): works from any thread)
    on_fail(fn)                  -> fn() runs first when fail() ends the test (e.g. print a log)
    expect(cond, msg)            -> soft check: prints "FAIL: msg" (and "ok   msg" when
                                    harness.verbose_expect is true), counts it in `failures`,
                                    and the test goes on; returns bool(cond)
    finish(name)                 -> exit 1 with "NAME: N check(s) failed" if any expect()
                                    failed, else exit 0 with "NAME: all checks passed"
    binary(name)                 -> path from env var `name` (fails the test when unset)
    tmpdir(prefix="jt-")         -> short private dir under /tmp (removed at exit unless
                                    JT_KEEP=1); socket paths inside stay < 100 chars
    wait_until(pred, timeout=10, interval=0.02, what=None) -> pred()'s truthy value, or
                                    fail(...) on timeout (returns None if what is False)

    Devsim(binary=None, phones_dirs=(), socket=None, control=True, verbose=False, dir=None,
           show_log=False)   show_log: print devsim's log when fail() ends the test and
                           in .cleanup()
        .start(timeout=60, phones_dirs=None, args=None) -> self   waits until the usbmux
                           socket exists and the control socket answers (phones_dirs replaces
                           the list; args: extra devsim options such as ["--link", "usb2"],
                           put before the phone dirs, replaces the list; both kept by .restart())
        .control(cmd) -> "ok", raises DevsimError on "error: ..." (OSError if not listening)
        .ctl(line) -> every reply line (the last is "ok" or "error: ...")
        .ctl_ok(line) -> the reply lines before "ok" (fails the test on an error reply)
        .run(argv, timeout=90) / .popen(argv) -> a libimobiledevice tool run against this
                           devsim (.env has USBMUXD_SOCKET_ADDRESS), stdout/stderr piped
        .stop() -> exit code (SIGTERM, wait), .kill(), .restart(), .alive()
        .stop_clean(timeout=60) -> SIGTERM; fails the test unless devsim exits 0 (under
                           ASan: no leaks) and removes its socket
        .cleanup() -> kills devsim if it still runs, prints its log (show_log), removes
                           .dir now (unless JT_KEEP=1); a later fail() no longer prints its log
        .dir, .socket (path), .usbmuxd ("UNIX:" + path), .control_path, .log (stderr file),
        .stderr_text() (says why when the log file is gone)

    Jetsamd(binary=None, state_dir=None, socket=None, usbmuxd_socket=None,
            extra_config=None, dir=None, log_level="debug")
        extra_config: dict key -> value (or str of lines) appended to the written config.
        .start(listen_fds=False, timeout=10, args=(), env=None) -> self
            waits for READY=1 on a private NOTIFY_SOCKET (fails on timeout or early exit).
            listen_fds=True: the harness binds and listens on .socket itself and passes the
            fd as fd 3 with LISTEN_FDS=1, LISTEN_FDNAMES=control and LISTEN_PID set to the
            child's own pid (done in preexec_fn, after fork, with os.environ: subprocess
            builds the child env before the fork, so the child is started through
            `/bin/sh -c 'LISTEN_PID=$$ exec "$0" "$@"'`, which sets it exactly).
        .stop(timeout=15) -> exit code (SIGTERM then wait), .kill(), .restart(**start_kw)
        .write_config(extra_config=None) rewrites the config file (then SIGHUP or restart)
        .close_listen_socket() closes the harness's activation socket (listen_fds=True)
        .notifications -> list of every datagram received (str), .wait_notify(prefix, timeout)
        .ctl(*args, timeout=30) -> (rc, stdout, stderr)  runs JETSAMCTL --socket .socket
        .ctl_json(*args) -> parsed JSON of `jetsamctl --socket S --json ARGS` (fails on rc!=0)
        .client() -> Client connected to .socket
        .config_path, .log (stderr file), .stderr_text(), .pid, .proc

    Client(path, timeout=10)
        .send(obj) / .send_raw(bytes) / .send_line(bytes)
        .recv() -> next line parsed as JSON (None at EOF)
        .request(cmd, **args) -> reply dict with the same id (pushes in between are kept
                                 in .pushes)
        .call(cmd, **args) -> reply["result"], fails the test when ok is false
        .import_bytes(name, data) -> reply dict of an import (header line + raw bytes)
        .recv_line() -> next raw line (bytes, None at EOF)
        .close()

    ctl(socket_path, *args, timeout=30) -> (rc, stdout, stderr)
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77


_on_fail = []
failures = []


def on_fail(fn):
    _on_fail.append(fn)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.stderr.flush()
    for fn in _on_fail:
        try:
            fn()
        except Exception as e:
            print("on_fail handler: %r" % e, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    _cleanup_all()
    os._exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def check_eq(got, want, what):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


verbose_expect = False  # a test sets harness.verbose_expect = True to list passes too


def expect(cond, msg):
    """A soft check: record a failure and go on, so that one run shows every problem."""
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    elif verbose_expect:
        print("ok   " + msg, flush=True)
    return bool(cond)


def finish(name):
    if failures:
        print("%s: %d check(s) failed" % (name, len(failures)), flush=True)
        sys.exit(1)
    print("%s: all checks passed" % name, flush=True)
    sys.exit(0)


def binary(name):
    p = os.environ.get(name)
    if not p or not os.access(p, os.X_OK):
        fail("%s must point at an executable (set by meson)" % name)
    return p


_tmpdirs = []
_procs = []


def _cleanup_all():
    for p in list(_procs):
        try:
            p.kill()
        except Exception:
            pass
    if os.environ.get("JT_KEEP") != "1":
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()


atexit.register(_cleanup_all)


def tmpdir(prefix="jt-"):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    _tmpdirs.append(d)
    return d


def wait_until(pred, timeout=10, interval=0.02, what=None):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            if what is False:
                return None
            fail("timed out after %.1fs waiting for %s" % (timeout, what or "condition"))
        time.sleep(interval)


class DevsimError(Exception):
    pass


class _Proc:
    """A child process whose stderr goes to a log file."""

    def __init__(self, log):
        self.log = log
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv, env=None, pass_fds=(), preexec_fn=None):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     env=env, pass_fds=pass_fds, preexec_fn=preexec_fn)
        logf.close()
        _procs.append(self.proc)

    def stop(self, timeout=15, sig=signal.SIGTERM):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail("%s did not stop within %ss after signal %d" % (self.log, timeout, sig))
        rc = self.proc.returncode
        if self.proc in _procs:
            _procs.remove(self.proc)
        return rc

    def kill(self):
        return self.stop(timeout=5, sig=signal.SIGKILL)

    def stderr_text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Devsim(_Proc):
    """A devsim process (simulated usbmuxd and phones) with a private dir, usbmux socket and
    control socket."""

    def __init__(self, binary_path=None, phones_dirs=(), socket=None, control=True,
                 verbose=False, dir=None, show_log=False):
        self.dir = dir or tmpdir("jt-ds-")
        super().__init__(os.path.join(self.dir, "devsim.log"))
        self.binary = binary_path or binary("DEVSIM")
        self.phones_dirs = list(phones_dirs)
        self.args = []
        self.socket = socket or os.path.join(self.dir, "usbmuxd.sock")
        self.control_path = os.path.join(self.dir, "control.sock") if control else None
        self.verbose = verbose
        self.show_log = show_log
        self._print_log = lambda: print(self.stderr_text())
        if show_log:
            on_fail(self._print_log)

    @property
    def usbmuxd(self):
        return "UNIX:" + self.socket

    @property
    def env(self):
        """The environment for libimobiledevice tools that talk to this devsim."""
        return dict(os.environ, USBMUXD_SOCKET_ADDRESS=self.usbmuxd)

    def start(self, timeout=60, phones_dirs=None, args=None):
        if phones_dirs is not None:
            self.phones_dirs = list(phones_dirs)
        if args is not None:
            self.args = list(args)
        argv = [self.binary, "--socket", self.socket]
        if self.control_path:
            argv += ["--control", self.control_path]
        if self.verbose:
            argv.append("--verbose")
        argv += self.args + self.phones_dirs
        self._spawn(argv)

        def up():
            if not self.running():
                fail("devsim exited early (rc %s): %s" % (self.proc.returncode,
                                                          self.stderr_text()[-2000:]))
            if not os.path.exists(self.socket):
                return False
            if not self.control_path:
                return True
            try:
                return self.ctl("list")[-1:] == ["ok"]
            except OSError:
                return False
        # a readiness wait: generous for loaded ASan runs, it only costs time on failure
        wait_until(up, timeout, what="devsim socket " + self.socket)
        return self

    def restart(self, timeout=60):
        self.stop()
        return self.start(timeout=timeout)

    def alive(self):
        return self.running()

    def stderr_text(self):
        if not os.path.exists(self.log):
            return "(no devsim log: %s)" % tmp_state(self.log)
        return super().stderr_text()

    def ctl(self, line, timeout=10):
        """Send one control command; return the reply lines (the last is ok or error: ...)."""
        if not self.control_path:
            raise DevsimError("devsim started without a control socket")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.control_path)
            s.sendall(line.encode() + b"\n")
            buf = b""
            while True:
                lines = buf.decode(errors="replace").split("\n")
                if any(l == "ok" or l.startswith("error: ") for l in lines[:-1]):
                    break
                d = s.recv(65536)
                if not d:
                    break
                buf += d
        finally:
            s.close()
        return buf.decode(errors="replace").rstrip("\n").split("\n")

    def ctl_ok(self, line):
        r = self.ctl(line)
        check_eq(r[-1], "ok", "reply to control command %r" % line)
        return r[:-1]

    def control(self, cmd, timeout=10):
        last = self.ctl(cmd, timeout)[-1]
        if last.startswith("error"):
            raise DevsimError(last)
        if last != "ok":
            raise DevsimError("unexpected control reply %r to %r" % (last, cmd))
        return last

    def run(self, argv, timeout=90):
        return subprocess.run(argv, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def popen(self, argv):
        return subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def stop_clean(self, timeout=60):
        """SIGTERM devsim; it must exit 0 (under ASan this also means no leaks)."""
        code = self.stop(timeout)
        if code != 0:
            fail("devsim exited with %s:\n%s" % (code, self.stderr_text()))
        check(not os.path.exists(self.socket), "devsim left its socket behind")

    def cleanup(self):
        if self.running():
            self.kill()
        if self.show_log:
            print(self.stderr_text())
            if self._print_log in _on_fail:  # printed now; the dir is about to go
                _on_fail.remove(self._print_log)
        if os.environ.get("JT_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def tmp_state(path):
    """Explain a missing test path: was the whole private /tmp/jt-* dir removed under us?"""
    parts = path.split(os.sep)
    if len(parts) > 2 and parts[1] == "tmp":
        top = os.sep.join(parts[:3])
        if not os.path.isdir(top):
            return "the test dir '%s' is gone: removed by another process" % top
    return "the test dir still exists"


def _format_config(d):
    if d is None:
        return ""
    if isinstance(d, str):
        return d if d.endswith("\n") else d + "\n"
    return "".join("%s = %s\n" % (k, v) for k, v in d.items())


class Jetsamd(_Proc):
    def __init__(self, binary_path=None, state_dir=None, socket=None, usbmuxd_socket=None,
                 extra_config=None, dir=None, log_level="debug"):
        self.dir = dir or tmpdir("jt-d-")
        super().__init__(os.path.join(self.dir, "jetsamd.log"))
        self.binary = binary_path or binary("JETSAMD")
        self.state_dir = state_dir or os.path.join(self.dir, "state")
        self.socket = socket or os.path.join(self.dir, "jetsamd.sock")
        self.usbmuxd_socket = usbmuxd_socket or ("UNIX:" + os.path.join(self.dir, "no-usbmuxd"))
        self.config_path = os.path.join(self.dir, "jetsamd.conf")
        self.log_level = log_level
        self.extra_config = extra_config
        self.notifications = []
        self._notify_sock = None
        self._notify_thread = None
        self._listen_sock = None
        self._start_kw = {}
        self.write_config()

    def write_config(self, extra_config=None):
        if extra_config is not None:
            self.extra_config = extra_config
        text = ("# written by tests/lib/harness.py\n"
                "socket = %s\nstate_dir = %s\nusbmuxd_socket = %s\nlog_level = %s\n"
                % (self.socket, self.state_dir, self.usbmuxd_socket, self.log_level))
        text += _format_config(self.extra_config)
        with open(self.config_path, "w") as f:
            f.write(text)

    # -- NOTIFY_SOCKET --
    def _open_notify(self):
        path = os.path.join(self.dir, "notify.sock")
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(0.2)
        self._notify_sock = s
        self._notify_path = path
        self._notify_stop = False

        def reader():
            while not self._notify_stop:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                for line in data.decode(errors="replace").split("\n"):
                    if line:
                        self.notifications.append(line)
        self._notify_thread = threading.Thread(target=reader, daemon=True)
        self._notify_thread.start()

    def _close_notify(self):
        if self._notify_sock:
            self._notify_stop = True
            self._notify_thread.join(2)
            self._notify_sock.close()
            self._notify_sock = None

    def wait_notify(self, prefix, timeout=10, start=0):
        """Wait for a notification starting with prefix at index >= start; returns its index."""
        def found():
            for i in range(start, len(self.notifications)):
                if self.notifications[i].startswith(prefix):
                    return i + 1
            if not self.running():
                fail("jetsamd exited (rc %s) while waiting for %s:\n%s" % (
                    self.proc.returncode, prefix, self.stderr_text()[-3000:]))
            return 0
        return wait_until(found, timeout, what="sd_notify " + prefix) - 1

    # -- process --
    def start(self, listen_fds=False, timeout=10, args=(), env=None, wait_ready=True):
        self._start_kw = dict(listen_fds=listen_fds, timeout=timeout, args=args, env=env,
                              wait_ready=wait_ready)
        self._close_notify()
        self.notifications = []
        self._open_notify()
        e = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC",
                  "WATCHDOG_PID", "JOURNAL_STREAM"):
            e.pop(k, None)
        e["NOTIFY_SOCKET"] = self._notify_path
        if env:
            e.update(env)
        argv = [self.binary, "--config", self.config_path] + list(args)
        pass_fds = ()
        preexec = None
        if listen_fds:
            if self._listen_sock is None:
                if os.path.exists(self.socket):
                    os.unlink(self.socket)
                ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                ls.bind(self.socket)
                ls.listen(64)
                self._listen_sock = ls
            fd = self._listen_sock.fileno()

            # fd 3 is open in this process (0-2, the notify socket and this one exist), so it
            # may be named in pass_fds; the child moves the listener onto it after the fork
            # (subprocess closes the fds not in pass_fds after preexec_fn runs).
            def preexec():
                if fd != 3:
                    os.dup2(fd, 3)
                os.set_inheritable(3, True)
            pass_fds = (3,)
            e["LISTEN_FDS"] = "1"
            e["LISTEN_FDNAMES"] = "control"
            # LISTEN_PID must be the pid of jetsamd itself: the shell sets it to its own pid
            # ($$) and then execs jetsamd, which keeps that pid.
            argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'] + argv
        self._spawn(argv, env=e, pass_fds=pass_fds, preexec_fn=preexec)
        if wait_ready:
            self.wait_notify("READY=1", timeout)
        return self

    def restart(self, **kw):
        rc = self.stop()
        if rc != 0:
            fail("jetsamd exited with %s on restart:\n%s" % (rc, self.stderr_text()[-3000:]))
        start_kw = dict(self._start_kw)
        start_kw.update(kw)
        return self.start(**start_kw)

    def stop(self, timeout=15, sig=signal.SIGTERM):
        rc = super().stop(timeout, sig)
        self._close_notify()
        return rc

    def close_listen_socket(self):
        if self._listen_sock is not None:
            self._listen_sock.close()
            self._listen_sock = None

    def ctl(self, *args, timeout=30):
        return ctl(self.socket, *args, timeout=timeout)

    def ctl_json(self, *args, timeout=30):
        rc, out, err = ctl(self.socket, "--json", *args, timeout=timeout)
        if rc != 0:
            fail("jetsamctl --json %s: rc %d: %s" % (" ".join(args), rc, err.strip()))
        try:
            return json.loads(out)
        except ValueError as e:
            # some commands print JSON lines: return a list then
            try:
                return [json.loads(l) for l in out.splitlines() if l.strip()]
            except ValueError:
                fail("jetsamctl --json %s: output is not JSON (%s): %r" % (
                    " ".join(args), e, out[:500]))

    def client(self, timeout=10):
        return Client(self.socket, timeout)


def ctl(socket_path, *args, timeout=30):
    argv = [binary("JETSAMCTL"), "--socket", socket_path] + list(args)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Client:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1
        self.pushes = []

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_line(self, data):
        self.sock.sendall(data + b"\n")

    def send(self, obj):
        self.send_line(json.dumps(obj).encode())

    def recv_line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self):
        line = self.recv_line()
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError:
            fail("daemon sent a line that is not JSON: %r" % line[:300])

    def request(self, cmd, **args):
        rid = self.next_id
        self.next_id += 1
        req = {"id": rid, "cmd": cmd}
        req.update(args)
        self.send(req)
        return self.reply(rid)

    def reply(self, rid):
        while True:
            m = self.recv()
            if m is None:
                fail("daemon closed the connection while waiting for reply %r" % rid)
            if "push" in m and "id" not in m:
                self.pushes.append(m)
                continue
            return m

    def call(self, cmd, **args):
        r = self.request(cmd, **args)
        if not r.get("ok"):
            fail("%s failed: %r" % (cmd, r))
        return r["result"]

    def import_bytes(self, name, data):
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "cmd": "import", "name": name, "size": len(data)})
        self.send_raw(data)
        return self.reply(rid)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
