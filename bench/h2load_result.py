#!/usr/bin/env python3
"""Reads h2load's report on stdin and prints the RESULT line bench/run.sh expects of
wrk_report.lua: requests done, the duration, errors; h2load has no percentiles, so
only mean_us (and max_us) of its "time for request" row are given."""

import json
import re
import sys

text = sys.stdin.read()
out = {"requests": 0, "duration_us": 1}
m = re.search(r"finished in ([\d.]+)(m?s)", text)
if m:
    v = float(m.group(1))
    out["duration_us"] = int(v * (1e3 if m.group(2) == "ms" else 1e6))
m = re.search(
    r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
    text,
)
if m:
    done, ok, failed, errored, timeout = map(int, m.groups())
    out["requests"] = ok
    out["err_status"] = failed
    out["err_read"] = errored
    out["err_timeout"] = timeout


def us(v):
    n = re.match(r"([\d.]+)(us|ms|s)", v)
    if not n:
        return 0
    return int(float(n.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[n.group(2)])


m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text)
if m:
    out["max_us"] = us(m.group(2))
    out["mean_us"] = us(m.group(3))
print("RESULT " + json.dumps(out))
