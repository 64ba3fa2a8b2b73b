# devsim_syslog.py: the unmodified idevicesyslog reads devsim's syslog_relay: background lines, the saved-report line, reconnects
import os
import queue
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devsim_common import make_phone, need_tools
from harness import Devsim, check, check_eq, fail, on_fail  # noqa: E402

UDID = "00008101-001234560E12345E"
UDID_B = "00008110-000A11112222333E"
REPORT = (b'{"bug_type":"298","timestamp":"2024-01-01 12:00:00.00 +0000","os_version":'
          b'"iPhone OS 15.5 (19F77)","incident_id":"6B7C1C5E-0000-4000-8000-000000000001"}\n'
          b'{\n  "product" : "iPhone13,2"\n}\n')
WAIT = 30  # s: a deadline for lines that must come, never a speed check


class Syslog:
    """idevicesyslog -u UDID in the background; its stdout lines in a queue."""

    def __init__(self, ds, tool, udid):
        self.proc = subprocess.Popen([tool, "-u", udid, "--no-colors"], env=ds.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        on_fail(self.proc.kill)  # fail() exits without running the finally: blocks
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pred, what, count=1):
        """Lines until COUNT of them match PRED (within WAIT s); returns the matches."""
        got = []
        end = time.monotonic() + WAIT
        while len(got) < count:
            try:
                line = self.lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                fail("idevicesyslog: no %s within %d s; got:\n%s"
                     % (what, WAIT, "\n".join(self.seen[-20:])))
            if line is None:
                fail("idevicesyslog ended before %s; got:\n%s" % (what, "\n".join(self.seen)))
            self.seen.append(line)
            if pred(line):
                got.append(line)
        return got

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def is_background(line):
    return "<Notice>:" in line or "<Error>:" in line


def check_stream(ds, tools, phone):
    tool = tools["idevicesyslog"]
    a = Syslog(ds, tool, UDID)
    try:
        a.wait_for(lambda l: l == "[connected]", "[connected]")
        a.wait_for(is_background, "background lines", count=5)
        # a report written into pending/ (not yet moved): the crash reporter's line names it
        name = "JetsamEvent-2026-12-02-070000.ips"
        with open(os.path.join(phone, "pending", name), "wb") as f:
            f.write(REPORT)
        line = a.wait_for(lambda l: name in l, "the line for " + name)[0]
        check(line.startswith(tuple("JFMASOND")) and line[3] == " " and line[15] == " ",
              "syslog time stamp: %r" % line)
        check("Saved type '298(JetsamEvent)' report (" in line and
              line.endswith(" at /var/mobile/Library/Logs/CrashReporter/" + name),
              "saved-report line: %r" % line)
        check(line[16:].startswith("osanalyticshelper(OSAnalytics)["), "process: %r" % line)
        # one written straight into CrashReporter/ (another kind of report)
        other = "LabTestApp-2026-12-02-070001.ips"
        with open(os.path.join(phone, "CrashReporter", other), "wb") as f:
            f.write(b'{"bug_type":"309"}\n{}\n')
        line = a.wait_for(lambda l: other in l, "the line for " + other)[0]
        check("Saved type '309(LabTestApp)' report" in line, "crash report line: %r" % line)
        # the mover moving the pending report into CrashReporter/ is not a second report
        out = os.path.join(ds.dir, "out")
        os.makedirs(out)
        r = ds.run([tools["idevicecrashreport"], "-u", UDID, "-k", out])
        check_eq(r.returncode, 0, "idevicecrashreport exit")
        check(os.path.exists(os.path.join(phone, "CrashReporter", name)), "report moved")
        a.wait_for(is_background, "background lines after the move", count=10)
        check_eq(sum(name in l for l in a.seen), 1, "lines naming %s" % name)

        # a second client; the first one goes away; the second keeps streaming; a new
        # client after that gets a new stream and the next report
        b = Syslog(ds, tool, UDID)
        try:
            b.wait_for(lambda l: l == "[connected]", "[connected] of a second client")
            b.wait_for(is_background, "background lines of the second client", count=3)
            a.stop(signal.SIGKILL)
            b.wait_for(is_background, "background lines after the first client died", count=5)
            b.stop()
            c = Syslog(ds, tool, UDID)
            try:
                c.wait_for(lambda l: l == "[connected]", "[connected] after a reconnect")
                c.wait_for(is_background, "background lines after a reconnect", count=3)
                again = "JetsamEvent-2026-12-02-070002.ips"
                with open(os.path.join(phone, "pending", again), "wb") as f:
                    f.write(REPORT)
                c.wait_for(lambda l: again in l and "Saved type '298(JetsamEvent)'" in l,
                           "the line for " + again + " after a reconnect")
            finally:
                c.stop()
        finally:
            b.stop()
    finally:
        a.stop()
    check(ds.alive(), "devsim survives the disconnects")
    log = ds.stderr_text()
    check("syslog %s: streaming, 50 background lines/s" % UDID in log, "stream log:\n" + log)
    check(log.count("phone %s: syslog: saved report" % UDID) == 3, "saved lines:\n" + log)


def check_other_phone(ds, tool, phone_b):
    """Phone A's reports are not in phone B's log; B's pending/, created while B streams,
    is watched too."""
    b = Syslog(ds, tool, UDID_B)
    try:
        b.wait_for(lambda l: l == "[connected]", "[connected] on phone B")
        b.wait_for(is_background, "phone B background lines", count=3)
        check(not any("Saved type" in l for l in b.seen), "phone B: %r" % b.seen)
        os.makedirs(os.path.join(phone_b, "pending"))
        name = "JetsamEvent-2026-12-02-080000.ips"
        with open(os.path.join(phone_b, "pending", name), "wb") as f:
            f.write(REPORT)
        b.wait_for(lambda l: name in l, "phone B's line for a report in a new pending/")
    finally:
        b.stop()


def main():
    tools = need_tools("idevicesyslog", "idevicecrashreport")
    ds = Devsim(show_log=True)
    phone = make_phone(ds.dir, "a", UDID, device_name="Lab iPhone 12",
                       files={"JetsamEvent-2024-01-01-120000.ips": REPORT},
                       pending={"Retired/old.ips": b"{}\n"})
    phone_b = make_phone(ds.dir, "b", UDID_B, device_name="Lab iPhone 13")
    # the stream also works over an emulated link
    ds.start(phones_dirs=[phone, phone_b], args=["--syslog-rate", "50", "--link", "usb2"])
    try:
        check_stream(ds, tools, phone)
        check_other_phone(ds, tools["idevicesyslog"], phone_b)
        ds.stop_clean()
    finally:
        ds.cleanup()
    print("PASS")


if __name__ == "__main__":
    main()
