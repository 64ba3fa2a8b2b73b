#!/usr/bin/env python3
# fleet_prometheus.py: the shipped Prometheus rules, golden metrics and Grafana dashboard, checked with promtool and a real Prometheus
"""
1. rules: `promtool check rules` passes; `promtool test rules` passes, and fails when the
   limit-drop threshold is moved to -1 % (so the 2 % case is really tested) or to -60 %
   (so the 6 GB -> 3 GB case is); every alert of the rules has a firing and a quiet case.
2. example.om: OpenMetrics structure (metadata before samples, suffixes by type, counters
   end in _total, buckets cumulative up to +Inf = _count, unique series, `# EOF` last);
   its families, types, units, label names and help texts are those of METRICS.md, in order;
   no label is a process name. `promtool check metrics` on the file complains only about
   the counters (it reads the Prometheus text format), and passes on its text rendering.
3. A real Prometheus (127.0.0.1, free port) scrapes a Python http.server serving example.om
   as application/openmetrics-text with the shipped rules loaded: the target is up, every
   sample is ingested, the query API returns the file's kill count for a label set and its
   sum, and JetsamLimitDrop fires for the file's 6 GB -> 3 GB ratio.
4. contrib/grafana/jetsamd.json parses, schemaVersion >= 36, a Prometheus datasource
   variable used by every panel; every metric its queries use is in METRICS.md and
   example.om; each query is valid PromQL for the real Prometheus; the panels cover limits,
   kills, devices by state, sync duration and errors, outbox depth.
Environment: SOURCE_ROOT (meson).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import promserver  # noqa: E402

PROM_DIR = os.path.join(ROOT, "contrib", "prometheus")
RULES = os.path.join(PROM_DIR, "jetsamd.rules.yml")
RULES_TEST = os.path.join(PROM_DIR, "jetsamd.rules.test.yml")
EXAMPLE = os.path.join(PROM_DIR, "example.om")
METRICS_MD = os.path.join(PROM_DIR, "METRICS.md")
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "jetsamd.json")
SUFFIXES = {"counter": ["_total", "_created"], "gauge": [""], "histogram": ["_bucket", "_sum",
            "_count", "_created"], "unknown": [""]}
fails = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        fails.append(msg)
    return cond


def promtool(*args, stdin=None):
    p = subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()


# ---- 1. rules ----

def test_rules():
    rc, out = promtool("check", "rules", RULES)
    check(rc == 0 and "SUCCESS" in out, f"promtool check rules jetsamd.rules.yml ({out!r})")
    rc, out = promtool("test", "rules", RULES_TEST)
    check(rc == 0 and "SUCCESS" in out, f"promtool test rules jetsamd.rules.test.yml ({out!r})")
    rules = open(RULES, encoding="utf-8").read()
    check("< -0.05" in rules, "JetsamLimitDrop's threshold is -5 %")
    for mutated, what in (("< -0.01", "the 2 % change (threshold moved to -1 %)"),
                          ("< -0.6", "the 6 GB -> 3 GB drop (threshold moved to -60 %)")):
        with tempfile.TemporaryDirectory(prefix="jt-rules-") as tmp:
            with open(os.path.join(tmp, "jetsamd.rules.yml"), "w") as f:
                f.write(rules.replace("< -0.05", mutated))
            shutil.copy(RULES_TEST, tmp)
            rc, out = promtool("test", "rules", os.path.join(tmp, "jetsamd.rules.test.yml"))
        check(rc != 0 and "JetsamLimitDrop" in out,
              f"the rule test catches a rule that misjudges {what}")
    tests = open(RULES_TEST, encoding="utf-8").read()
    alerts = re.findall(r"^\s*- alert: (\w+)", rules, re.M)
    check(len(alerts) >= 4, f"rules: {alerts}")
    for a in alerts:
        cases = re.findall(r"alertname: " + a + r"\n\s*exp_alerts:(.*)", tests)
        quiet = sum(1 for c in cases if c.strip() == "[]")
        firing = sum(1 for c in cases if c.strip() == "")
        check(quiet >= 1 and firing >= 1,
              f"{a}: {firing} firing and {quiet} quiet cases in the rule test")


# ---- 2. example.om against METRICS.md ----

def parse_metrics_md():
    """-> [(family, type, unit, [labels], help)] from the METRICS.md table."""
    fams = []
    for line in open(METRICS_MD, encoding="utf-8"):
        m = re.match(r"\| `(\w+)`(?: \(`\w+`\))? \| (\w+) \|\s*(\w*)\s*\|([^|]*)\| `(.+)` \|$",
                     line.rstrip("\n"))
        if m:
            labels = re.findall(r"`(\w+)`", m.group(4))
            fams.append((m.group(1), m.group(2), m.group(3), labels, m.group(5)))
    return fams


def parse_labels(s):
    labels = []
    pos = 0
    while pos < len(s):
        m = re.compile(r'\s*([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"\s*(,|$)').match(s, pos)
        if not m:
            raise ValueError(f"bad labels {s!r}")
        labels.append((m.group(1), m.group(2)))
        pos = m.end()
    return labels


def parse_openmetrics(text):
    """A strict reading of the OpenMetrics text format subset jetsamd uses.
    -> (families: {name: {type, unit, help, samples: [(name, labels, value)]}}, errors)"""
    errors = []
    fams = {}
    order = []
    cur = None
    lines = text.split("\n")
    if not text.endswith("# EOF\n"):
        errors.append("the exposition does not end with '# EOF' and a newline")
    seen_series = set()
    for n, line in enumerate(lines[:-1], 1):
        if line == "# EOF":
            if n != len(lines) - 1:
                errors.append(f"line {n}: '# EOF' before the end")
            break
        m = re.match(r"# (HELP|TYPE|UNIT) ([a-zA-Z_:][\w:]*) ?(.*)$", line)
        if m:
            kind, name, rest = m.groups()
            if cur is None or cur != name:
                if name in fams:
                    errors.append(f"line {n}: family {name} is not contiguous")
                fams[name] = {"type": "unknown", "unit": "", "help": None, "samples": []}
                order.append(name)
                cur = name
            fam = fams[name]
            if fam["samples"]:
                errors.append(f"line {n}: {kind} of {name} after its samples")
            if kind == "TYPE":
                if rest not in ("counter", "gauge", "histogram", "stateset", "info", "summary",
                                "gaugehistogram", "unknown"):
                    errors.append(f"line {n}: unknown type {rest}")
                fam["type"] = rest
            elif kind == "UNIT":
                fam["unit"] = rest
                if rest and not name.endswith("_" + rest):
                    errors.append(f"line {n}: {name} does not end with its unit {rest}")
            else:
                fam["help"] = rest
            continue
        if line.startswith("#") or line == "":
            errors.append(f"line {n}: not allowed in OpenMetrics: {line!r}")
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m:
            errors.append(f"line {n}: bad sample {line!r}")
            continue
        sname, lab, val = m.groups()
        try:
            labels = parse_labels(lab or "")
            value = float(val)
        except ValueError as e:
            errors.append(f"line {n}: {e}")
            continue
        if cur is None or not any(sname == cur + s for s in SUFFIXES.get(fams[cur]["type"], [""])):
            errors.append(f"line {n}: sample {sname} does not belong to family {cur}")
            continue
        key = (sname, tuple(sorted(labels)))
        if key in seen_series:
            errors.append(f"line {n}: duplicate series {key}")
        seen_series.add(key)
        fams[cur]["samples"].append((sname, labels, value))
    for name, fam in fams.items():
        if fam["help"] is None:
            errors.append(f"{name}: no HELP")
        if fam["type"] == "histogram":
            buckets = [(dict(lb)["le"], v) for s, lb, v in fam["samples"] if s.endswith("_bucket")]
            les = [float(le) for le, _ in buckets]
            counts = [v for _, v in buckets]
            total = [v for s, _, v in fam["samples"] if s == name + "_count"]
            if not buckets or buckets[-1][0] != "+Inf" or les != sorted(les) \
                    or counts != sorted(counts) or total != [counts[-1]]:
                errors.append(f"{name}: buckets not cumulative up to +Inf = _count")
    return {k: fams[k] for k in order}, errors


def om_to_prometheus_text(text):
    """The Prometheus text rendering: counter HELP/TYPE name the _total sample; no UNIT/EOF."""
    counters = set(re.findall(r"^# TYPE (\S+) counter$", text, re.M))
    out = []
    for line in text.splitlines():
        if line.startswith("# UNIT ") or line == "# EOF":
            continue
        m = re.match(r"# (HELP|TYPE) (\S+)( .*)$", line)
        if m and m.group(2) in counters:
            line = f"# {m.group(1)} {m.group(2)}_total{m.group(3)}"
        out.append(line)
    return "\n".join(out) + "\n", counters


def test_example():
    text = open(EXAMPLE, encoding="utf-8").read()
    fams, errors = parse_openmetrics(text)
    check(not errors, f"example.om is valid OpenMetrics ({errors[:5]})")
    md = parse_metrics_md()
    check(len(md) >= 16, f"METRICS.md lists {len(md)} metric families")
    check([f[0] for f in md] == list(fams),
          f"example.om has every METRICS.md family, in order ({list(fams)})")
    for name, typ, unit, labels, help_text in md:
        fam = fams.get(name)
        if not check(fam is not None and fam["samples"], f"{name}: in example.om with samples"):
            continue
        got_labels = sorted({k for s, lb, _ in fam["samples"] for k, _ in lb
                             if not (s.endswith("_bucket") and k == "le")})
        for s, lb, _ in fam["samples"]:
            names = sorted(k for k, _ in lb if not (s.endswith("_bucket") and k == "le"))
            if names != sorted(labels):
                got_labels = names
        check((fam["type"], fam["unit"], got_labels, fam["help"])
              == (typ, unit, sorted(labels), help_text),
              f"{name}: {typ} {unit or '-'} {labels} and the help text of METRICS.md")
        check(name.startswith("jetsamd_") or name.startswith("process_"),
              f"{name}: prefixed jetsamd_ (or a process_ metric)")
        if typ == "counter":
            check(all(s == name + "_total" for s, _, _ in fam["samples"]),
                  f"{name}: counter samples end in _total")
    all_labels = {k for f in fams.values() for _, lb, _ in f["samples"] for k, _ in lb}
    check(not (all_labels & {"process", "name", "pid", "uuid"}),
          f"no process name is a label (labels: {sorted(all_labels)})")

    rc, out = promtool("check", "metrics", stdin=text)
    counters = {n for n, f in fams.items() if f["type"] == "counter"}
    want = sorted(f"{c}_total no help text" for c in counters)
    check(rc == 0 or sorted(out.splitlines()) == want,
          f"promtool check metrics < example.om: exit {rc}, only the counters' text-format "
          f"complaint {want} ({out.splitlines()})")
    rendering, _ = om_to_prometheus_text(text)
    rc, out = promtool("check", "metrics", stdin=rendering)
    check(rc == 0 and out == "", f"promtool check metrics on its Prometheus-text rendering: "
          f"exit {rc} {out!r}")
    return fams


# ---- 3. a real Prometheus ----

def dashboard_exprs(dash):
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                exprs.append((p.get("title"), t.get("expr", "")))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    return exprs


def instantiate(expr):
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
            .replace('"$job"', '"jetsamd"').replace("$instance", ".*").replace("$product", ".*"))


def test_prometheus(fams, dash):
    kills = fams["jetsamd_kills"]["samples"]
    sname, labels, want = kills[4]
    selector = "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
    n_samples = sum(len(f["samples"]) for f in fams.values())
    om = promserver.OpenMetricsServer(EXAMPLE)
    prom = promserver.PromServer(targets=[om.target], rule_files=[RULES]).start()
    try:
        up = prom.wait_for('up{job="jetsamd"}', lambda r: r and r[0]["value"][1] == "1",
                           timeout=30)
        check(up is not None, f"Prometheus on {prom.url} scraped {om.target}: up = 1")
        t = [x for x in prom.targets() if x["labels"].get("job") == "jetsamd"]
        check(t and t[0]["health"] == "up" and t[0]["lastError"] == "",
              f"target health up, no scrape error ({t and (t[0]['health'], t[0]['lastError'])})")
        check("application/openmetrics-text" in (om.accept or ""),
              f"Prometheus asked for OpenMetrics (Accept: {om.accept})")
        got = prom.query('scrape_samples_scraped{job="jetsamd"}')
        check(got and float(got[0]["value"][1]) == n_samples,
              f"every sample of example.om ingested: {n_samples} "
              f"({got and got[0]['value'][1]})")
        got = prom.query(sname + selector)
        check(len(got) == 1 and float(got[0]["value"][1]) == want,
              f"query {sname}{selector} = {want:g} ({[g['value'][1] for g in got]})")
        total = sum(v for _, _, v in kills)
        got = prom.query('sum(jetsamd_kills_total{job="jetsamd"})')
        check(got and float(got[0]["value"][1]) == total,
              f"sum(jetsamd_kills_total) = {total:g} ({got and got[0]['value'][1]})")
        hist = prom.query('jetsamd_sync_duration_seconds_count{job="jetsamd"}')
        check(hist and float(hist[0]["value"][1]) == 37,
              "the histogram's _count is queryable (37)")
        alert = prom.wait_for('ALERTS{alertname="JetsamLimitDrop",alertstate="firing"}',
                              timeout=30)
        check(alert and alert[0]["metric"].get("product") == "iPad16,3"
              and alert[0]["metric"].get("previous_build") == "23D127",
              f"JetsamLimitDrop fires for the 6 GB -> 3 GB ratio of example.om "
              f"({alert and alert[0]['metric']})")
        bad = []
        for title, expr in dashboard_exprs(dash):
            try:
                prom.api("/api/v1/query", query=instantiate(expr))
            except Exception as e:  # urllib raises HTTPError 400 on a PromQL parse error
                bad.append((title, expr, str(e)))
        check(not bad, f"every dashboard query is valid PromQL for Prometheus ({bad[:3]})")
    finally:
        prom.stop()
        om.stop()
    check(om.requests >= 1, f"the metrics server was scraped {om.requests} times")


# ---- 4. the dashboard ----

def test_dashboard(fams):
    try:
        dash = json.load(open(DASHBOARD, encoding="utf-8"))
    except ValueError as e:
        check(False, f"jetsamd.json parses ({e})")
        return None
    check(True, "contrib/grafana/jetsamd.json parses")
    check(dash.get("schemaVersion", 0) >= 36, f"schemaVersion {dash.get('schemaVersion')} >= 36")
    tvars = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = [v for v in tvars.values() if v.get("type") == "datasource"
          and v.get("query") == "prometheus"]
    check(len(ds) == 1, "a Prometheus datasource variable")
    dsname = ds[0]["name"] if ds else "datasource"
    panels = [p for p in dash.get("panels", []) if p.get("type") != "row"]
    check(all(p.get("datasource", {}).get("uid") == "${" + dsname + "}" for p in panels)
          and all(t.get("datasource", {}).get("uid") == "${" + dsname + "}"
                  for p in panels for t in p.get("targets", [])),
          f"all {len(panels)} panels and their queries use ${{{dsname}}}")
    exprs = dashboard_exprs(dash)
    known = {}
    for name, f in fams.items():
        for s, _, _ in f["samples"]:
            known[s] = name
    md_names = {f[0] for f in parse_metrics_md()}
    used = set()
    for _, e in exprs:
        used |= set(re.findall(r"\b((?:jetsamd|process)_\w+)", e))
    unknown = sorted(u for u in used if u not in known or known[u] not in md_names)
    check(used and not unknown,
          f"the dashboard's {len(used)} metric names are all in METRICS.md and example.om "
          f"(unknown: {unknown})")
    for need in ("jetsamd_limit_bytes", "jetsamd_kills_total", "jetsamd_devices",
                 "jetsamd_sync_duration_seconds_bucket", "jetsamd_sync_errors_total",
                 "jetsamd_fleet_outbox_depth"):
        check(need in used, f"a panel queries {need}")
    return dash


def main():
    for tool in ("promtool", "prometheus"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} not installed (Debian package prometheus)")
            return 1
    test_rules()
    fams = test_example()
    dash = test_dashboard(fams)
    if "jetsamd_kills" in fams:
        test_prometheus(fams, dash or {})
    print(f"{len(fails)} failed" if fails else "all passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
