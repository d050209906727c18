#!/usr/bin/env python3
"""Saturation rate from an overload stage's raw records: requests completed per second between
the 4th second and the end of the arrival window (the fleet is full by then, not yet draining).

usage: calibrate.py RAW.jsonl DURATION  -> prints requests/s
"""
import json
import sys

path, duration = sys.argv[1], float(sys.argv[2])
start = min(4.0, duration / 3)
done = 0
for line in open(path):
    r = json.loads(line)
    if r.get("complete") and start <= r["t"] + r["e2e"] <= duration:
        done += 1
print(round(done / (duration - start), 2))
