# devsim_errors.py: trust/locked answers and faults as libimobiledevice tools see them (Must show 5)
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devsim_common import make_phone, need_tools, snapshot
from harness import Devsim, check, check_eq  # noqa: E402

REPORT = b'{"bug_type":"298"}\n{\n  "largestProcess" : "Demo"\n}\n'
BIG = bytes(range(256)) * 20  # 5120 bytes

PHONES = {
    # name: (udid, device.json extras)
    "ok": ("00008101-000000000000000A", {}),
    "unpaired": ("00008101-000000000000000B", {"trust": "unpaired"}),
    "pending": ("00008101-000000000000000C", {"trust": "pending"}),
    "denied": ("00008101-000000000000000D", {"trust": "denied"}),
    "locked": ("00008101-000000000000000E", {"trust": "unpaired", "locked": True}),
    "lockedpaired": ("00008101-000000000000000F", {"trust": "paired", "locked": True}),
    "drop": ("00008101-0000000000000010", {}),
    "stall": ("00008101-0000000000000011", {}),
    "slowafc": ("00008101-0000000000000012", {}),
    "moverclose": ("00008101-0000000000000013", {}),
    "movernone": ("00008101-0000000000000014", {}),
    "moverslow": ("00008101-0000000000000015", {}),
}


def udid(name):
    return PHONES[name][0]


def lockdown_error(text, code):
    return "ERROR: Could not connect to lockdownd: %s (%d)\n" % (text, code)


def out_dir(ds, name):
    p = os.path.join(ds.dir, "out-" + name + "-%d" % time.monotonic_ns())
    os.mkdir(p)
    return p


def main():
    tools = need_tools("idevice_id", "ideviceinfo", "idevicecrashreport")
    info, crash = tools["ideviceinfo"], tools["idevicecrashreport"]
    ds = Devsim(show_log=True)
    dirs = []
    for name, (u, extra) in PHONES.items():
        dirs.append(make_phone(ds.dir, name, u, files={"JetsamEvent-1.ips": REPORT,
                                                       "Big.ips": BIG},
                               pending={"JetsamEvent-pending.ips": REPORT}, **extra))
    ds.start(phones_dirs=dirs)
    try:
        check_trust(ds, info, crash)
        check_faults(ds, tools)
    finally:
        ds.cleanup()
    print("PASS")


def info_result(ds, info, name, key="ProductType"):
    r = ds.run([info, "-u", udid(name), "-k", key])
    return (r.returncode, r.stdout.decode() + r.stderr.decode())


def crash_result(ds, crash, name):
    r = ds.run([crash, "-u", udid(name), "-k", out_dir(ds, name)])
    return (r.returncode, r.stdout.decode(), r.stderr.decode())


def check_trust(ds, info, crash):
    pend = lockdown_error("Pairing dialog response pending", -19)
    # an unpaired phone shows the dialog: pending from then on
    check_eq(info_result(ds, info, "unpaired"), (255, pend), "ideviceinfo on an unpaired phone")
    check(any(l.startswith(udid("unpaired") + " ") and " trust=pending " in l
              for l in ds.ctl_ok("list")), "unpaired phone did not become pending")
    check_eq(info_result(ds, info, "unpaired"), (255, pend), "ideviceinfo again (pending)")
    check_eq(info_result(ds, info, "pending"), (255, pend), "ideviceinfo on a pending phone")
    check_eq(info_result(ds, info, "denied"),
             (255, lockdown_error("User denied pairing", -18)), "ideviceinfo on a denied phone")
    check_eq(info_result(ds, info, "locked"),
             (255, lockdown_error("Password protected", -17)),
             "ideviceinfo on a locked unpaired phone")
    for name, code in (("pending", -19), ("denied", -18), ("locked", -17)):
        check_eq(crash_result(ds, crash, name),
                 (255, "", "ERROR: Could not connect to lockdownd, error code %d\n" % code),
                 "idevicecrashreport on the %s phone" % name)
    # a paired but locked phone answers lockdown, but refuses the crash services
    check_eq(info_result(ds, info, "lockedpaired"), (0, "iPhone13,2\n"),
             "ideviceinfo on a locked paired phone")
    check_eq(crash_result(ds, crash, "lockedpaired"), (255, "", ""),
             "idevicecrashreport on a locked paired phone")
    check("JetsamEvent-pending.ips" in os.listdir(os.path.join(ds.dir, "lockedpaired",
                                                               "pending")),
          "the mover ran on a locked phone")
    # the user taps Trust / unlocks: the same tools succeed
    ds.ctl_ok("set %s trust paired" % udid("pending"))
    check_eq(info_result(ds, info, "pending"), (0, "iPhone13,2\n"), "ideviceinfo after trust")
    ds.ctl_ok("set %s locked off" % udid("lockedpaired"))
    rc, out, err = crash_result(ds, crash, "lockedpaired")
    check_eq((rc, err), (0, ""), "idevicecrashreport after unlocking")
    check(out.endswith("Done.\n"), "idevicecrashreport after unlocking: %r" % out)
    # control socket errors
    check_eq(ds.ctl("set %s trust maybe" % udid("ok")), ["error: unknown trust state 'maybe'"],
             "bad trust state")
    check_eq(ds.ctl("set nosuchphone locked on"), ["error: no phone 'nosuchphone'"],
             "unknown udid")
    check_eq(ds.ctl("frobnicate"), ["error: unknown command 'frobnicate'"], "unknown command")


def check_drop_copy(got, src):
    """drop-after 1000: the copy is the first 1000 file bytes the tool read, then nothing."""
    check_eq(src, {"JetsamEvent-1.ips": ("f", REPORT), "Big.ips": ("f", BIG),
                   "JetsamEvent-pending.ips": ("f", REPORT)}, "drop phone tree")
    copied = 0
    for rel, v in got.items():
        check(rel in src and v[0] == "f" and src[rel][1].startswith(v[1]),
              "drop-after: %r is not a prefix of a phone file" % rel)
        copied += len(v[1])
    # Big.ips (5120 bytes) cannot fit in 1000 bytes, whatever the directory order
    check(len(got.get("Big.ips", ("f", b""))[1]) < len(BIG),
          "drop-after copied everything (%r)" % {k: len(v[1]) for k, v in got.items()})
    check(copied <= 1000, "drop-after: %d file bytes copied, want <= 1000" % copied)


def check_faults(ds, tools):
    crash = tools["idevicecrashreport"]
    ds.ctl_ok("fault %s drop-after 1000" % udid("drop"))
    # well past libimobiledevice's 30 s AFC receive timeout, so that a late wake-up of the
    # tool on a loaded machine cannot see the delayed reply
    ds.ctl_ok("fault %s stall 45000" % udid("stall"))
    ds.ctl_ok("fault %s stall 250" % udid("slowafc"))
    ds.ctl_ok("fault %s mover close" % udid("moverclose"))
    ds.ctl_ok("fault %s mover none" % udid("movernone"))
    ds.ctl_ok("fault %s mover slow 1500" % udid("moverslow"))
    check_eq(ds.ctl("fault %s mover sometimes" % udid("ok")),
             ["error: usage: fault UDID drop-after BYTES | stall MS|forever | stall-after BYTES "
              "| deep-tree on|off|FANOUT | mover ok|none|close|slow MS | clear"], "bad fault")

    t0 = time.monotonic()
    procs = {}
    outs = {}
    for name in ("drop", "stall", "slowafc", "moverclose", "movernone", "moverslow"):
        outs[name] = out_dir(ds, name)
        procs[name] = (ds.popen([crash, "-u", udid(name), "-k", outs[name]]), time.monotonic())

    # meanwhile devsim keeps serving the other phones: all of this must be done while the
    # stalled phone's tool still waits for its first AFC reply (it cannot exit before its
    # 30 s receive timeout), which a devsim blocked by the stall could not do
    for _ in range(3):
        r = ds.run([tools["idevice_id"], "-l"])
        check_eq(r.returncode, 0, "idevice_id -l during faults")
        check_eq(len(r.stdout.decode().splitlines()), len(PHONES), "phones listed during faults")
        r = ds.run([tools["ideviceinfo"], "-u", udid("ok"), "-k", "DeviceName"])
        check_eq(r.stdout, b"Lab iPhone\n", "ideviceinfo during faults")
        o = out_dir(ds, "ok")
        r = ds.run([crash, "-u", udid("ok"), "-k", o])
        check_eq((r.returncode, r.stderr), (0, b""), "idevicecrashreport during faults")
        check_eq(snapshot(o)["Big.ips"], ("f", BIG), "copy during faults")
    check(procs["stall"][0].poll() is None,
          "the healthy phone was not served while others stalled (%.1f s)"
          % (time.monotonic() - t0))

    results = {}
    for name, (p, start) in procs.items():
        out, err = p.communicate(timeout=90)
        results[name] = (p.returncode, out.decode(), err.decode(), time.monotonic() - start)

    rc, out, err, _ = results["drop"]
    check_eq(rc, 0, "drop-after exit code")
    check("File size mismatch. Skipping...\n" in err, "drop-after stderr: %r" % err)
    check_drop_copy(snapshot(outs["drop"]), snapshot(os.path.join(ds.dir, "drop", "CrashReporter")))

    rc, out, err, took = results["stall"]
    check_eq((rc, out, err), (255, "", "ERROR: Could not read device directory '.'\n"
                                      "ERROR: Failed to get crash reports from device.\n"),
             "stall 45000")

    rc, out, err, took = results["slowafc"]
    check_eq((rc, err), (0, ""), "stall 250")
    check(took >= 8 * 0.25, "stall 250 did not delay the replies (%.2f s)" % took)
    check_eq(snapshot(outs["slowafc"]),
             snapshot(os.path.join(ds.dir, "slowafc", "CrashReporter")), "stall 250 copy")

    rc, out, err, _ = results["moverclose"]
    check_eq((rc, err), (0, "ERROR: Crash logs could not be moved. Connection interrupted "
                            "(-256).\n"), "mover close")
    check("JetsamEvent-pending.ips" in os.listdir(os.path.join(ds.dir, "moverclose",
                                                               "pending")),
          "mover close moved the pending report")

    rc, out, err, took = results["movernone"]
    check_eq((rc, err), (0, ""), "mover none")
    check(took >= 18, "mover none: the tool did not wait for the ping (%.1f s)" % took)

    rc, out, err, took = results["moverslow"]
    check_eq((rc, err), (0, ""), "mover slow")
    check(took >= 1.5, "mover slow 1500 took only %.2f s" % took)
    check("JetsamEvent-pending.ips" in os.listdir(outs["moverslow"]), "mover slow: not moved")

    # drop-after fires once; clear restores normal service
    o = out_dir(ds, "drop2")
    r = ds.run([crash, "-u", udid("drop"), "-k", o])
    check_eq((r.returncode, r.stderr), (0, b""), "second run after drop-after")
    check_eq(snapshot(o), snapshot(os.path.join(ds.dir, "drop", "CrashReporter")),
             "second run after drop-after copies everything")
    ds.ctl_ok("fault %s clear" % udid("stall"))
    o = out_dir(ds, "stall2")
    r = ds.run([crash, "-u", udid("stall"), "-k", o])
    check_eq((r.returncode, r.stderr), (0, b""), "run after fault clear")
    check(ds.alive(), "devsim died")
    ds.stop_clean()


if __name__ == "__main__":
    main()
