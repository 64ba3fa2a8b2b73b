# pgserver.py: a throwaway PostgreSQL cluster for tests (initdb + pg_ctl in a temp dir, Unix socket only)
"""
PgServer: a real PostgreSQL server (Debian postgresql-15) for one test process.

    pg = PgServer().start()        # initdb + pg_ctl start; fails the test (exit 1) on error
    pg.psql("SELECT 1")            -> stdout (unaligned, tuples only), raises PsqlError
    pg.psql_file(path)             -> runs a .sql file with ON_ERROR_STOP
    pg.conninfo                    -> "host=<socket dir> port=N dbname=jetsam user=postgres"
    pg.stop()                      -> pg_ctl stop -m fast, then the temp dir is removed

- Binaries come from PG_BINDIR (default /usr/lib/postgresql/15/bin, Debian's path).
- listen_addresses = '': no TCP at all; the socket lives in the private temp dir.
- Run as root, the server runs as the unprivileged user JT_PG_USER (default "jetsamtest",
  created with useradd when missing): initdb and pg_ctl are started through `runuser -u`
  (`su` when runuser is missing); the temp dir is chowned to that user. psql stays the
  caller (trust authentication on the private socket, role "postgres").
- The cluster is stopped and its dir removed at exit, on SIGTERM/SIGINT/SIGHUP and on
  failure. A cluster left by a test that was SIGKILLed is stopped by the next start():
  every cluster dir records its owner's pid, and a dir whose owner is gone is reaped.
- JT_KEEP=1 keeps the dir (the server is still stopped) for post-mortems.
"""
import atexit
import ctypes
import glob
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
PG_USER = os.environ.get("JT_PG_USER", "jetsamtest")
DIR_PREFIX = "jt-pg-"
SEP = "\x1f"  # psql field separator of rows(): never inside a value

_live = []


class PsqlError(Exception):
    pass


def _fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.stderr.flush()
    _stop_all()
    os._exit(1)


def _stop_all():
    for s in list(_live):
        s.stop()


def _on_signal(signum, _frame):
    _stop_all()
    os._exit(128 + signum)


atexit.register(_stop_all)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, signal.default_int_handler):
        signal.signal(_sig, _on_signal)


def pg_available():
    """(True, "") when initdb, pg_ctl and psql exist, else (False, reason)."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not os.access(os.path.join(PG_BINDIR, tool), os.X_OK):
            return False, f"{PG_BINDIR}/{tool} missing (Debian package postgresql-15)"
    if not _psql_path():
        return False, "psql missing (postgresql-client)"
    return True, ""


def _psql_path():
    p = os.path.join(PG_BINDIR, "psql")
    return p if os.access(p, os.X_OK) else shutil.which("psql")


def _ensure_user():
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        pass
    for _attempt in range(20):  # a parallel test may hold the passwd lock (exit 10)
        r = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                            "/nonexistent", "--shell", "/usr/sbin/nologin", PG_USER],
                           capture_output=True, text=True)
        if r.returncode in (0, 9):  # 9: created meanwhile by a parallel test
            return pwd.getpwnam(PG_USER)
        time.sleep(0.25)
    _fail(f"useradd {PG_USER}: {r.stderr.strip()}")
    return None


def _become_subreaper():
    """The postmaster pg_ctl leaves behind is re-parented to us, so stop() can reap it and
    no <defunct> postgres outlives the test."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (no subreaper): init reaps it
            return
        if done:
            return
        time.sleep(0.02)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PgServer:
    def __init__(self, dbname="jetsam", bindir=PG_BINDIR):
        self.bindir = bindir
        self.dbname = dbname
        self.dir = None
        self.port = random.randint(20000, 60000)
        self.running = False
        self.as_user = None  # pwd entry when we drop privileges
        self.psql_bin = _psql_path()

    # ---- paths ----
    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def socket_dir(self):
        return self.dir

    @property
    def logfile(self):
        return os.path.join(self.dir, "server.log")

    @property
    def conninfo(self):
        return f"host={self.socket_dir} port={self.port} dbname={self.dbname} user=postgres"

    # ---- running the server tools as the unprivileged user ----
    def _as_server_user(self, argv):
        if self.as_user is None:
            return argv
        if shutil.which("runuser"):
            return ["runuser", "-u", self.as_user.pw_name, "--", *argv]
        return ["su", "-s", "/bin/sh", self.as_user.pw_name, "-c",
                " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)]

    def _run_tool(self, argv, timeout=60):
        try:
            r = subprocess.run(self._as_server_user(argv), cwd=self.dir, capture_output=True,
                               text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, f"{argv[0]} timed out after {timeout}s"
        return r.returncode, r.stdout + r.stderr

    @staticmethod
    def reap_stale():
        """Stop and remove clusters whose test process is gone (a SIGKILLed test)."""
        for d in glob.glob(os.path.join(tempfile.gettempdir(), DIR_PREFIX + "*")):
            try:
                with open(os.path.join(d, "owner.pid")) as f:
                    owner = int(f.read().strip() or 0)
            except (OSError, ValueError):
                continue
            if owner and _pid_alive(owner):
                continue
            pidfile = os.path.join(d, "data", "postmaster.pid")
            try:
                with open(pidfile) as f:
                    pm = int(f.readline().strip())
                with open(f"/proc/{pm}/cmdline", "rb") as f:  # that postmaster, not a reused pid
                    if os.path.join(d, "data").encode() not in f.read():
                        raise ValueError("not our postmaster")
                os.kill(pm, signal.SIGQUIT)  # immediate shutdown
                for _ in range(100):
                    if not _pid_alive(pm):
                        break
                    time.sleep(0.05)
            except (OSError, ValueError):
                pass
            shutil.rmtree(d, ignore_errors=True)

    def start(self, timeout=60):
        ok, why = pg_available()
        if not ok:
            _fail(why)
        self.reap_stale()
        _become_subreaper()
        self.dir = tempfile.mkdtemp(prefix=DIR_PREFIX)
        with open(os.path.join(self.dir, "owner.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        _live.append(self)
        if os.geteuid() == 0:
            self.as_user = _ensure_user()
            os.chown(self.dir, self.as_user.pw_uid, self.as_user.pw_gid)
            os.chmod(self.dir, 0o700)
        rc, out = self._run_tool([os.path.join(self.bindir, "initdb"), "-D", self.datadir,
                                  "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                                  "--locale=C.UTF-8", "--no-sync", "--no-instructions"])
        if rc != 0:
            _fail(f"initdb exited {rc}:\n{out}")
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# added by tests/lib/pgserver.py\n"
                    "listen_addresses = ''\n"
                    f"unix_socket_directories = '{self.socket_dir}'\n"
                    f"port = {self.port}\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 20\nshared_buffers = 16MB\n")
        rc, out = self._run_tool([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir,
                                  "-l", self.logfile, "-w", "-t", str(int(timeout)), "start"],
                                 timeout=timeout + 10)
        if rc != 0:
            _fail(f"pg_ctl start exited {rc}:\n{out}\n--- server log ---\n{self.log_text()}")
        self.running = True
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([self.psql_bin, "-X", "-h", self.socket_dir, "-p", str(self.port),
                                "-U", "postgres", "-d", "postgres", "-Atc", "SELECT 1"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                _fail(f"server not accepting connections: {r.stderr}\n{self.log_text()}")
            time.sleep(0.1)
        self.psql(f'CREATE DATABASE "{self.dbname}"', dbname="postgres")
        return self

    def log_text(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _psql_argv(self, dbname):
        return [self.psql_bin, "-X", "-q", "-h", self.socket_dir, "-p", str(self.port),
                "-U", "postgres", "-d", dbname or self.dbname, "-v", "ON_ERROR_STOP=1",
                "-A", "-t", "-F", SEP]

    def psql(self, sql, dbname=None, timeout=60):
        """Runs sql (one or more statements; psql meta-commands and COPY FROM STDIN data
        allowed) through stdin; returns stdout. Raises PsqlError on any error."""
        r = subprocess.run(self._psql_argv(dbname), input=sql, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise PsqlError(f"psql exited {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def psql_file(self, path, dbname=None, timeout=60):
        r = subprocess.run([*self._psql_argv(dbname), "-f", path], capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise PsqlError(f"psql -f {path} exited {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def rows(self, sql, dbname=None):
        """SELECT -> list of tuples of str (NULL -> None via the \\N null display)."""
        out = self.psql("\\pset null '\\\\N'\n" + sql, dbname=dbname)
        res = []
        for line in out.splitlines():
            if line == "":
                continue
            res.append(tuple(None if c == "\\N" else c for c in line.split(SEP)))
        return res

    def stop(self):
        if self in _live:
            _live.remove(self)
        if self.dir is None:
            return
        if self.running:
            self.running = False
            try:
                with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                    pm = int(f.readline().strip())
            except (OSError, ValueError):
                pm = 0
            rc, out = self._run_tool([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir,
                                      "-m", "fast", "-w", "-t", "30", "stop"], timeout=40)
            if rc != 0:
                self._run_tool([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir,
                                "-m", "immediate", "-w", "-t", "10", "stop"], timeout=20)
            if pm:
                _reap(pm)
        if os.environ.get("JT_KEEP") == "1":
            os.unlink(os.path.join(self.dir, "owner.pid"))  # not reaped by the next start()
            print(f"pgserver: kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
