# fleetfarm.py: a PostgreSQL fleet store with a password-protected shipping role, and helpers to watch jetsamd hosts ship to it
"""
FleetPg: a real PostgreSQL 15 (pgserver.PgServer) set up as a farm's fleet store:

    fpg = FleetPg().start()      # cluster + role jetsam_ship (scram password) owning db jetsam
    fpg.conninfo                 # "host=<dir> port=N dbname=jetsam user=jetsam_ship" (no password)
    fpg.passfile                 # a 0600 libpq passfile with the role's password
    fpg.env()                    # {"PGPASSFILE": ...} for jetsamctl --fleet
    fpg.halt() / fpg.resume()    # pg_ctl stop -m fast / start on the same data (an outage)
    fpg.rows(sql)                # as the superuser (trust on the private socket)

The role must authenticate with its password (pg_hba: scram-sha-256 for it), so a host that
ships proves it read fleet_passfile. Hosts are configured with fleet_config() (the wave 4
contract keys fleet_conninfo, fleet_host_id, fleet_passfile) and watched with
fleet_status(), wait_shipped() and StatusSampler (status latency, the must-show p99).
"""
import json
import os
import secrets
import socket
import tempfile
import threading
import time

import pgserver

ROLE = "jetsam_ship"


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class FleetPg:
    def __init__(self):
        self.pg = pgserver.PgServer()
        self.password = secrets.token_hex(12)
        self.passfile = None

    def start(self):
        pg = self.pg.start()
        pg.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}';"
                f"ALTER DATABASE jetsam OWNER TO {ROLE};", dbname="postgres")
        hba = os.path.join(pg.datadir, "pg_hba.conf")
        with open(hba) as f:
            text = f.read()
        st = os.stat(hba)
        with open(hba, "w") as f:
            f.write(f"local all {ROLE} scram-sha-256\n" + text)
        os.chown(hba, st.st_uid, st.st_gid)
        pg.psql("SELECT pg_reload_conf()", dbname="postgres")
        d = tempfile.mkdtemp(prefix="jt-pgpass-")
        self.passfile = os.path.join(d, "pgpass")
        with open(os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(f"*:{pg.port}:jetsam:{ROLE}:{self.password}\n")
        return self

    @property
    def conninfo(self):
        return f"host={self.pg.socket_dir} port={self.pg.port} dbname=jetsam user={ROLE}"

    def env(self):
        return {"PGPASSFILE": self.passfile}

    def rows(self, sql):
        return self.pg.rows(sql)

    def halt(self):
        pg = self.pg
        rc, out = pg._run_tool([os.path.join(pg.bindir, "pg_ctl"), "-D", pg.datadir, "-m",
                                "fast", "-w", "-t", "30", "stop"], timeout=40)
        if rc != 0:
            raise pgserver.PsqlError(f"pg_ctl stop: {out}")
        pg.running = False

    def resume(self):
        pg = self.pg
        rc, out = pg._run_tool([os.path.join(pg.bindir, "pg_ctl"), "-D", pg.datadir, "-l",
                                pg.logfile, "-w", "-t", "60", "start"], timeout=70)
        if rc != 0:
            raise pgserver.PsqlError(f"pg_ctl start: {out}")
        pg.running = True

    def stop(self):
        if self.passfile:
            try:
                os.unlink(self.passfile)
                os.rmdir(os.path.dirname(self.passfile))
            except OSError:
                pass
        self.pg.stop()


def fleet_config(fpg, host_id, extra=None):
    """The jetsamd config keys of a host shipping to fpg (wave 4 contract)."""
    cfg = {"fleet_conninfo": fpg.conninfo, "fleet_host_id": host_id,
           "fleet_passfile": fpg.passfile, "resync_interval": "60s"}
    cfg.update(extra or {})
    return cfg


def call(path, cmd, timeout=10, **args):
    """One request on its own connection (as jetsamctl does): the result, or None."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(json.dumps(dict(id=1, cmd=cmd, **args)).encode() + b"\n")
        buf = b""
        while True:
            while b"\n" not in buf:
                chunk = s.recv(1 << 16)
                if not chunk:
                    return None
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            m = json.loads(line)
            if m.get("id") == 1:
                return m.get("result") if m.get("ok") else None
    except (OSError, ValueError):
        return None
    finally:
        s.close()


def fleet_status(jd):
    """The "fleet" object of jd's status, or None (daemon down, no fleet object)."""
    st = call(jd.socket, "status")
    return (st or {}).get("fleet")


def wait_shipped(jds, timeout=120, pred=None):
    """Wait until every daemon's fleet outbox is 0 while connected (and pred() holds).
    Returns (ok, {socket: last fleet object})."""
    deadline = time.monotonic() + timeout
    last = {}
    while True:
        last = {jd.socket: fleet_status(jd) for jd in jds}
        done = all(f and f.get("connected") and f.get("outbox") == 0 for f in last.values())
        if done and (pred is None or pred()):
            return True, last
        if time.monotonic() > deadline:
            return False, last
        time.sleep(0.25)


class StatusSampler(threading.Thread):
    """Sends `status` to a daemon every interval (a new connection each, as jetsamctl does)
    and records the round trips in ms; failures while the daemon is down are counted."""

    def __init__(self, jd, interval=0.02):
        super().__init__(daemon=True)
        self.jd = jd
        self.interval = interval
        self.samples = []
        self.failed = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t0 = time.monotonic()
            r = call(self.jd.socket, "status", timeout=5)
            dt = (time.monotonic() - t0) * 1000.0
            if r is None:
                self.failed += 1
            else:
                self.samples.append(dt)
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.join(10)

    def summary(self):
        return (f"{len(self.samples)} samples, p50 {pct(self.samples, 50):.2f} ms, "
                f"p99 {pct(self.samples, 99):.2f} ms, max "
                f"{max(self.samples) if self.samples else float('nan'):.2f} ms, "
                f"{self.failed} while down")
