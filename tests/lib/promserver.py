# promserver.py: a throwaway Prometheus server for tests (temp config and data dir, 127.0.0.1, a free port)
"""
PromServer: a real Prometheus (Debian package prometheus) that scrapes given targets.

    prom = PromServer(targets=["127.0.0.1:8123"], scrape_interval="1s").start()
    prom.query('jetsamd_kills_total{role="foreground"}')  -> list of {"metric", "value"}
    prom.wait_for(expr, pred, timeout=30)               -> result list once pred(result)
    prom.targets()                                      -> /api/v1/targets "activeTargets"
    prom.stop()

- Listens on 127.0.0.1 only, on a free port; every wait is bounded (fails the test with the
  server log on timeout).
- The server runs with PR_SET_PDEATHSIG=SIGKILL: it dies with the test even when the test
  is SIGKILLed; stop() (also run at exit and on SIGTERM/SIGINT/SIGHUP) terminates it and
  removes the temp dir (JT_KEEP=1 keeps the dir); the dir of a SIGKILLed test is removed
  by the next start() (each dir records its owner's pid).
- OpenMetricsServer(path_or_bytes) serves a file on 127.0.0.1 at /metrics with the
  OpenMetrics content type, from a thread (http.server); .target is "127.0.0.1:PORT",
  .requests counts the scrapes, .accept the last Accept header.
"""
import atexit
import ctypes
import glob
import http.server
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
import urllib.error
import urllib.parse
import urllib.request

PROMETHEUS = os.environ.get("PROMETHEUS", "prometheus")
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_live = []


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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reap_stale_dirs():
    """Removes the dirs of tests that were SIGKILLed (their server died with them)."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), "jt-prom-*")):
        try:
            with open(os.path.join(d, "owner.pid")) as f:
                os.kill(int(f.read().strip()), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            pass


def _die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class PromServer:
    def __init__(self, targets, scrape_interval="1s", job="jetsamd", rule_files=()):
        self.targets_list = list(targets)
        self.scrape_interval = scrape_interval
        self.job = job
        self.rule_files = list(rule_files)
        self.dir = None
        self.proc = None
        self.port = None
        self.log = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _config(self):
        lines = ["global:",
                 f"  scrape_interval: {self.scrape_interval}",
                 f"  evaluation_interval: {self.scrape_interval}",
                 f"  scrape_timeout: {self.scrape_interval}"]
        if self.rule_files:
            lines.append("rule_files:")
            lines += [f"  - {json.dumps(os.path.abspath(f))}" for f in self.rule_files]
        lines += ["scrape_configs:",
                  f"  - job_name: {json.dumps(self.job)}",
                  "    static_configs:",
                  "      - targets: " + json.dumps(self.targets_list)]
        return "\n".join(lines) + "\n"

    def start(self, timeout=60):
        if not shutil.which(PROMETHEUS):
            _fail(f"'{PROMETHEUS}' not found (Debian package prometheus)")
        _reap_stale_dirs()
        self.dir = tempfile.mkdtemp(prefix="jt-prom-")
        with open(os.path.join(self.dir, "owner.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        _live.append(self)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(self._config())
        self.log = os.path.join(self.dir, "prometheus.log")
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            with open(self.log, "wb") as logf:
                self.proc = subprocess.Popen(
                    [PROMETHEUS, f"--config.file={cfg}",
                     f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                     f"--web.listen-address=127.0.0.1:{self.port}",
                     "--storage.tsdb.retention.time=1h", "--log.level=info"],
                    stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                    cwd=self.dir, preexec_fn=_die_with_parent)
            if self._wait_ready(timeout):
                return self
            if self.proc.poll() is None or "address already in use" not in self.log_text():
                break
        _fail(f"prometheus not ready within {timeout}s\n--- log ---\n{self.log_text()}")
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-8000:]
        except (OSError, TypeError):
            return ""

    def api(self, path, **params):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            _fail(f"{url}: {body}")
        return body["data"]

    def query(self, expr):
        data = self.api("/api/v1/query", query=expr)
        return data["result"]

    def targets(self):
        return self.api("/api/v1/targets")["activeTargets"]

    def wait_for(self, expr, pred=lambda r: bool(r), timeout=30, interval=0.25):
        deadline = time.monotonic() + timeout
        res = None
        while time.monotonic() < deadline:
            res = self.query(expr)
            if pred(res):
                return res
            time.sleep(interval)
        _fail(f"query {expr!r}: no matching result within {timeout}s (last {res})\n"
              f"targets: {self.targets()}\n--- log ---\n{self.log_text()}")
        return None

    def stop(self, timeout=15):
        if self in _live:
            _live.remove(self)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self.dir is not None:
            if os.environ.get("JT_KEEP") == "1":
                os.unlink(os.path.join(self.dir, "owner.pid"))  # not reaped by the next start()
                print(f"promserver: kept {self.dir}", file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


class OpenMetricsServer:
    """Serves fixed bytes at /metrics with the OpenMetrics content type, on 127.0.0.1."""

    def __init__(self, body, content_type=OPENMETRICS_TYPE):
        if isinstance(body, str) and os.path.exists(body):
            with open(body, "rb") as f:
                body = f.read()
        self.body = body if isinstance(body, bytes) else body.encode()
        self.content_type = content_type
        self.requests = 0
        self.accept = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                outer.requests += 1
                outer.accept = self.headers.get("Accept")
                self.send_response(200)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        _live.append(self)

    @property
    def target(self):
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        if self in _live:
            _live.remove(self)
            self.httpd.shutdown()
            self.httpd.server_close()
