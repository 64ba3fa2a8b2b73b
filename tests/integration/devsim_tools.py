# devsim_tools.py: idevice_id, ideviceinfo and idevicecrashreport against devsim (Must show 1, 2)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devsim_common import make_phone, mux_connect_raw, mux_request, need_tools, snapshot
from harness import Devsim, check, check_eq  # noqa: E402

UDID_A = "00008101-001234560E12345E"
UDID_B = "00008110-000A11112222333E"
UDID_C = "0123456789abcdef0123456789abcdef01234567"
UDID_D = "00008030-001A2B3C4D5E6F70"

REPORT_1 = (b'{"bug_type":"298","timestamp":"2024-01-01 12:00:00.00 +0000","os_version":'
            b'"iPhone OS 15.5 (19F77)","incident_id":"6B7C1C5E-0000-4000-8000-000000000001"}\n'
            b'{\n  "product" : "iPhone13,2",\n  "largestProcess" : "Demo"\n}\n')
REPORT_2 = REPORT_1.replace(b"000000000001", b"000000000002")
BINARY = bytes(range(256)) * 1200 + b"\x00tail"  # 307204 bytes, many FILE_READs


def main():
    tools = need_tools("idevice_id", "ideviceinfo", "idevicecrashreport")
    ds = Devsim(show_log=True)
    root = ds.dir
    a = make_phone(root, "a", UDID_A, device_name="Lab iPhone 12",
                   files={"JetsamEvent-2024-01-01-120000.ips": REPORT_1,
                          "Retired/JetsamEvent-2023-12-31-080000.ips": REPORT_2,
                          "ExcResource-big.ips": BINARY,
                          "Old.ips.synced": b"synced report\n"},
                   links={"Latest.ips": "JetsamEvent-2024-01-01-120000.ips"},
                   pending={"JetsamEvent-2024-01-02-090000.ips": REPORT_2,
                            "Retired/pending-retired.ips": b"retired pending\n",
                            "Assistant/SiriSearchFeedback.ips": b"\x00\x01\x02"},
                   trust="paired")
    make_phone(root, "b", UDID_B, product_type="iPhone14,5", product_version="16.7.2",
               build_version="20H115", device_name="Lab iPhone 13")
    # iOS 9: libimobiledevice caps TLS at 1.0 for it, devsim must follow
    make_phone(root, "c", UDID_C, product_type="iPhone8,1", product_version="9.3.5",
               build_version="13G36", device_name="Old iPhone 6s", connection="USB",
               files={"JetsamEvent-2016-05-01-101010.ips": REPORT_1})
    make_phone(root, "d", UDID_D, product_type="iPhone12,8", product_version="17.1",
               build_version="21B80", device_name="Wireless SE", connection="Network")
    ds.start(phones_dirs=[os.path.join(root, n) for n in "abcd"])
    try:
        run_checks(ds, tools, a)
        # pair records survive a devsim restart (a daemon keeps working across restarts)
        rec1 = read_pair_record(ds, UDID_A)
        ds.stop_clean()
        ds.start(phones_dirs=[os.path.join(root, n) for n in "abcd"])
        check_eq(read_pair_record(ds, UDID_A), rec1, "pair record after a devsim restart")
        r = ds.run([tools["ideviceinfo"], "-u", UDID_A, "-k", "ProductType"])
        check_eq((r.returncode, r.stdout), (0, b"iPhone13,2\n"), "ideviceinfo after restart")
        ds.stop_clean()
    finally:
        ds.cleanup()
    print("PASS")


def read_pair_record(ds, udid):
    s = mux_connect_raw(ds.socket)
    r = mux_request(s, {"MessageType": "ReadPairRecord", "PairRecordID": udid})
    s.close()
    check("PairRecordData" in r, "ReadPairRecord for %s: %r" % (udid, r))
    return r["PairRecordData"]


def run_checks(ds, tools, a):
    # Must show 1: exactly the attached phones
    r = ds.run([tools["idevice_id"], "-l"])
    check_eq(r.returncode, 0, "idevice_id -l exit code")
    check_eq(r.stdout.decode().splitlines(), [UDID_A, UDID_B, UDID_C], "idevice_id -l")
    r = ds.run([tools["idevice_id"]])
    check_eq(r.stdout.decode().splitlines(),
             [UDID_A + " (USB)", UDID_B + " (USB)", UDID_C + " (USB)", UDID_D + " (Network)"],
             "idevice_id")
    r = ds.run([tools["idevice_id"], UDID_B])
    check_eq((r.returncode, r.stdout), (0, b"Lab iPhone 13\n"), "idevice_id UDID")

    want = {
        UDID_A: {"ProductType": "iPhone13,2", "ProductVersion": "15.5",
                 "BuildVersion": "19F77", "DeviceName": "Lab iPhone 12",
                 "UniqueDeviceID": UDID_A},
        UDID_B: {"ProductType": "iPhone14,5", "ProductVersion": "16.7.2",
                 "BuildVersion": "20H115", "DeviceName": "Lab iPhone 13"},
        UDID_C: {"ProductType": "iPhone8,1", "ProductVersion": "9.3.5",
                 "BuildVersion": "13G36", "DeviceName": "Old iPhone 6s"},
    }
    for udid, keys in want.items():
        for k, v in keys.items():
            r = ds.run([tools["ideviceinfo"], "-u", udid, "-k", k])
            check_eq((r.returncode, r.stdout.decode(), r.stderr.decode()), (0, v + "\n", ""),
                     "ideviceinfo -u %s -k %s" % (udid, k))
    r = ds.run([tools["ideviceinfo"], "-u", UDID_A])
    lines = r.stdout.decode().splitlines()
    for k, v in want[UDID_A].items():
        check(k + ": " + v in lines, "ideviceinfo full dict lacks %r: %r" % (k + ": " + v, lines))
    r = ds.run([tools["ideviceinfo"], "-u", "00000000-0000000000000000", "-k", "ProductType"])
    check_eq((r.returncode, r.stdout.decode()),
             (255, "ERROR: Device 00000000-0000000000000000 not found!\n"),
             "ideviceinfo for an absent udid")

    # Must show 2: the whole tree, pending/ moved first, byte for byte
    crash = os.path.join(a, "CrashReporter")
    before = snapshot(crash)
    pend = {k: v for k, v in snapshot(os.path.join(a, "pending")).items()}
    merged = dict(before)
    merged.update(pend)
    expect = {}
    for rel, v in merged.items():
        target = rel[:-len(".synced")] if rel.endswith(".synced") else rel
        if v[0] == "l":
            v = ("l", os.path.basename(v[1]))
        expect[target] = v
    out = os.path.join(ds.dir, "out-keep")
    os.mkdir(out)
    r = ds.run([tools["idevicecrashreport"], "-u", UDID_A, "-k", out])
    check_eq(r.returncode, 0, "idevicecrashreport -k exit code (stderr %r)" % r.stderr)
    check_eq(r.stderr, b"", "idevicecrashreport -k stderr")
    check(r.stdout.decode().endswith("Done.\n"), "idevicecrashreport -k output: %r" % r.stdout)
    check_eq(snapshot(out), expect, "tree copied with -k")
    check_eq(snapshot(crash), merged, "phone tree after -k (pending moved, nothing removed)")
    check_eq([k for k, v in snapshot(os.path.join(a, "pending")).items() if v[0] != "d"], [],
             "files left in pending/ after the mover ran")

    # a report written to pending/ at run time is moved at the next mover start
    late = b"late report\n" * 100
    with open(os.path.join(a, "pending", "JetsamEvent-late.ips"), "wb") as f:
        f.write(late)
    expect["JetsamEvent-late.ips"] = ("f", late)
    out2 = os.path.join(ds.dir, "out-move")
    os.mkdir(out2)
    r = ds.run([tools["idevicecrashreport"], "-u", UDID_A, out2])
    check_eq((r.returncode, r.stderr), (0, b""), "idevicecrashreport (move) exit code/stderr")
    check_eq(snapshot(out2), expect, "tree moved without -k")
    check_eq(snapshot(crash), {}, "phone tree after a move (everything removed)")
    # the other phones are untouched and still served
    r = ds.run([tools["ideviceinfo"], "-u", UDID_B, "-k", "DeviceName"])
    check_eq(r.stdout, b"Lab iPhone 13\n", "phone B after the copy")
    check(ds.alive(), "devsim died")

    out4 = os.path.join(ds.dir, "out-ios9")
    os.mkdir(out4)
    r = ds.run([tools["idevicecrashreport"], "-u", UDID_C, "-k", out4])
    check_eq((r.returncode, r.stderr, snapshot(out4)),
             (0, b"", {"JetsamEvent-2016-05-01-101010.ips": ("f", REPORT_1)}),
             "idevicecrashreport on an iOS 9 phone (TLS 1.0)")

    # 64 USB phones in one process, attached and detached at run time
    extra = []
    for i in range(61):
        u = "00008120-%016X" % (0x6400 + i)
        d = make_phone(ds.dir, "many%02d" % i, u, device_name="Phone %d" % i,
                       files={"JetsamEvent-%d.ips" % i: REPORT_1})
        ds.ctl_ok("attach " + d)
        extra.append(u)
    r = ds.run([tools["idevice_id"], "-l"])
    check_eq(r.stdout.decode().splitlines(), [UDID_A, UDID_B, UDID_C] + extra,
             "idevice_id -l with 64 USB phones")
    r = ds.run([tools["ideviceinfo"], "-u", extra[-1], "-k", "DeviceName"])
    check_eq(r.stdout, b"Phone 60\n", "ideviceinfo on the 64th phone")
    out3 = os.path.join(ds.dir, "out-64th")
    os.mkdir(out3)
    r = ds.run([tools["idevicecrashreport"], "-u", extra[-1], "-k", out3])
    check_eq((r.returncode, snapshot(out3)), (0, {"JetsamEvent-60.ips": ("f", REPORT_1)}),
             "idevicecrashreport on the 64th phone")
    listed = ds.ctl_ok("list")
    check_eq(len(listed), 65, "control list with 65 phones")
    check_eq(listed[-1], "%s id=65 trust=paired locked=off connection=USB dir=%s"
             % (extra[-1], os.path.join(ds.dir, "many60")), "control list line")
    for u in extra:
        ds.ctl_ok("detach " + u)
    r = ds.run([tools["idevice_id"], "-l"])
    check_eq(r.stdout.decode().splitlines(), [UDID_A, UDID_B, UDID_C], "after detaching 61")


if __name__ == "__main__":
    main()
