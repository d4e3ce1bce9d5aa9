#!/usr/bin/env python3
"""Lists the metric names that the PromQL queries of balloond's Prometheus
rules and Grafana dashboard read, and checks them against a live daemon's
/metrics text.

    metric_names.py RULES.yml DASHBOARD.json [METRICS.txt]

Without METRICS.txt: prints each name read and where. With it: every name
must be exported by balloond (a "# TYPE name" line or a sample of it), be a
recording rule of RULES.yml, or be Prometheus's own `up`; the script prints
what is missing and exits 1. The names come from the queries with their
strings, label matchers, ranges, grouping clauses and function calls taken
out, so what is left are the selectors."""
import json
import re
import sys

import yaml

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def selectors(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)      # strings
    e = re.sub(r"\{[^}]*\}", " ", e)                   # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                  # ranges, subqueries
    e = GROUPING.sub(" ", e)                           # label lists
    e = re.sub(r"\$\w+", " ", e)                       # Grafana variables
    names = set()
    for m in IDENT.finditer(e):
        tail = e[m.end():].lstrip()
        word = m.group(0)
        if tail.startswith("(") or word.lower() in KEYWORDS:
            continue                                   # a function, a keyword
        if re.fullmatch(r"[0-9.e+-]+[smhdwy]?", word):
            continue
        names.add(word)
    return names


def rule_queries(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    records, queries = set(), []
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                records.add(rule["record"])
            queries.append((rule.get("record") or rule.get("alert"), rule["expr"]))
    return records, queries


def dashboard_queries(path):
    with open(path) as f:
        dash = json.load(f)
    queries = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                queries.append(("panel '%s'" % p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        m = re.match(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", q or "")
        if m:
            queries.append(("variable '%s'" % v["name"], m.group(1)))
    return queries


def exported(metrics_path):
    names = set()
    with open(metrics_path) as f:
        for line in f:
            if line.startswith("# TYPE "):
                names.add(line.split()[2])
            elif line.strip() and not line.startswith("#"):
                names.add(IDENT.match(line).group(0))
    return names


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    records, queries = rule_queries(argv[1])
    queries += dashboard_queries(argv[2])
    used = {}
    for where, q in queries:
        for n in selectors(q):
            used.setdefault(n, []).append(where)
    if len(argv) == 3:
        for n in sorted(used):
            print(n, ", ".join(sorted(set(used[n]))))
        return 0
    have = exported(argv[3]) | records | {"up"}
    missing = sorted(n for n in used if n not in have)
    for n in missing:
        print("not exported by balloond: %s (used by %s)" % (n, ", ".join(sorted(set(used[n])))))
    raw = sorted(n for n in used if n not in records and n != "up")
    print("%d metric names read by %d queries; %d from balloond's /metrics, %d recording rules, %d missing"
          % (len(used), len(queries), len(raw), len([n for n in used if n in records]), len(missing)))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
