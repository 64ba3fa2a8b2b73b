# ctl_watch.py: jetsamctl watch streams kill events (within 1 s of the sync) and phone changes
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_world import (PHONE_A, PHONE_B, World, binary, check, check_eq, csv_rows,  # noqa: E402
                       gen_report, no_sanitizer_errors)
import harness  # noqa: E402

LATENCY_MAX = 1.0  # seconds, from the issue: an event within 1 s of the sync that ingested it


class Watch:
    """jetsamctl watch ARGS in the background; every stdout line with its arrival time."""

    def __init__(self, w, *args):
        self.lines = []
        self.proc = subprocess.Popen([binary("JETSAMCTL"), "--socket", w.socket] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def wait_line(self, pred, timeout, what):
        def found():
            for t, line in self.lines:
                if pred(line):
                    return (t, line)
            return None
        return harness.wait_until(found, timeout, what=what)

    def finish(self, timeout=10):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, self.proc.stderr.read().decode(errors="replace")
        self.thread.join(5)
        err = self.proc.stderr.read().decode(errors="replace")
        no_sanitizer_errors(err, "jetsamctl watch")
        return rc, err

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.finish()


def clients(w):
    return w.json("status")["clients"]


def subscribed(w, base):
    """Wait until one more client than base is connected, then give it time to subscribe."""
    harness.wait_until(lambda: clients(w) > base, 10, what="watch connected")
    time.sleep(0.3)


def new_report(w, phone_index, process, minute, ago=20):
    p = (PHONE_A, PHONE_B)[phone_index]
    return gen_report(os.path.join(w.phone_dirs[phone_index], "CrashReporter",
                                   "JetsamEvent-2026-11-23-10%02d00.ips" % minute),
                      dict(product=p["product"], os=p["os"], build=p["build"], rpages=80000,
                           ago=ago), kill="%s:foreground:per-process-limit:80000" % process)


def event_of(line, process):
    try:
        m = json.loads(line)
    except ValueError:
        return False
    return m.get("push") == "event" and m["event"].get("process") == process


def main():
    w = World(import_drift=False)
    base = clients(w)

    # --- JSON lines: the event within 1 s of the sync that ingested it ---
    watch = Watch(w, "--json", "watch")
    subscribed(w, base)
    new_report(w, 0, "LatencyApp", 1)
    t_sync0 = time.monotonic()
    j = w.json("sync", "--wait", PHONE_A["udid"])
    t_sync1 = time.monotonic()
    check_eq(j["synced"][0]["new_reports"], 1, "the sync ingested the new report")
    t_ev, line = watch.wait_line(lambda l: event_of(l, "LatencyApp"), 5, "the kill event")
    latency = t_ev - t_sync1
    print("watch: event printed %+.3f s after `sync --wait` returned (sync took %.3f s)"
          % (latency, t_sync1 - t_sync0))
    check(latency <= LATENCY_MAX, "event printed %.3f s after the sync, over %.1f s"
          % (latency, LATENCY_MAX))
    ev = json.loads(line)["event"]
    check_eq((ev["udid"], ev["product"], ev["product_name"], ev["reason"], ev["limit_bytes"]),
             (PHONE_A["udid"], PHONE_A["product"], "iPhone 12", "per-process-limit",
              80000 * 16384), "pushed event")
    # every line is one JSON document; phone state changes are streamed too
    docs = [json.loads(l) for _, l in watch.lines]
    states = [d["device"]["state"] for d in docs
              if d.get("push") == "device" and d["device"]["udid"] == PHONE_A["udid"]]
    check("syncing" in states, "device state changes streamed: %r" % states)
    w.devsim.control("detach " + PHONE_B["udid"])
    watch.wait_line(lambda l: '"push":"device"' in l and PHONE_B["udid"] in l and
                    '"detached"' in l, 10, "the detach of phone B")
    rc, err = watch.stop()
    check(rc is not None, "watch stops on SIGTERM")

    # --- table: --until-event exits 0 at the first (matching) kill event ---
    base = clients(w)
    watch = Watch(w, "watch", "--until-event", "--process", "TableApp", "--timeout", "30")
    subscribed(w, base)
    new_report(w, 0, "OtherApp", 2)
    new_report(w, 0, "TableApp", 3)
    w.ok("sync", "--wait", PHONE_A["udid"])
    rc, err = watch.finish(10)
    check_eq(rc, 0, "watch --until-event exit (%s)" % err)
    text = [l for _, l in watch.lines]
    check_eq(len(text), 1, "one line: the matching kill (devices filtered by --process): %r"
             % text)
    check(" kill " in text[0] and "TableApp" in text[0] and "per-process-limit" in text[0] and
          "1250.0 MiB" in text[0] and "iPhone13,2 (iPhone 12)" in text[0],
          "table line: %r" % text[0])
    # both times: when it was received (first) and when the kill happened (20 s before)
    m = re.match(r"(\d\d:\d\d:\d\d)  kill    TableApp\[\d+\] killed (\d\d:\d\d:\d\d): ", text[0])
    check(m is not None, "received and kill times: %r" % text[0])
    fmt = "%H:%M:%S"
    got = [time.mktime(time.strptime(time.strftime("%Y-%m-%d ") + x, "%Y-%m-%d " + fmt))
           for x in m.groups()]
    check(10 <= got[0] - got[1] <= 60, "kill 20 s before it was received: %r" % (m.groups(),))

    # --- --kills: kill events only, no device state lines; an old kill shows its date ---
    base = clients(w)
    watch = Watch(w, "watch", "--kills", "--timeout", "6")
    subscribed(w, base)
    w.devsim.control("attach " + w.phone_dirs[1])  # phone B comes back: state changes
    new_report(w, 0, "KillsApp", 5, ago=3 * 86400)
    w.ok("sync", "--wait", PHONE_A["udid"])
    rc, err = watch.finish(15)
    check_eq(rc, 0, "watch --kills --timeout exit (%s)" % err)
    text = [l for _, l in watch.lines]
    check(len(text) == 1 and " kill " in text[0] and "KillsApp" in text[0],
          "--kills shows the kill only: %r" % text)
    check(re.search(r"killed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: ", text[0]) is not None,
          "a kill of another day shows its date: %r" % text[0])

    # --- csv: header, then rows; --udid filter ---
    base = clients(w)
    watch = Watch(w, "--csv", "watch", "--until-event", "--udid", PHONE_A["udid"],
                  "--timeout", "30")
    subscribed(w, base)
    new_report(w, 0, "CsvApp", 4)
    w.ok("sync", "--wait", PHONE_A["udid"])
    rc, err = watch.finish(10)
    check_eq(rc, 0, "csv watch --until-event exit (%s)" % err)
    header, rows = csv_rows("\n".join(l for _, l in watch.lines) + "\n")
    check_eq(header[:3], ["type", "received", "udid"], "watch csv header")
    check(all(r["udid"] == PHONE_A["udid"] for r in rows), "--udid filter")
    kills = [r for r in rows if r["type"] == "event"]
    check_eq([(r["process"], r["limit_bytes"]) for r in kills], [("CsvApp", str(80000 * 16384))],
             "watch csv kill row")
    w.jetsamd.stop()
    print("ok: watch json/table/csv, latency %.3f s" % latency)


if __name__ == "__main__":
    main()
