#!/usr/bin/env python3
"""CPU-time breakdown of an ingest-bench trace by component.

    dotnet tool install --tool-path /tmp/tools dotnet-trace
    /tmp/tools/dotnet-trace collect --profile dotnet-sampled-thread-time -o ingest.nettrace -- \
        dotnet bench/NxMesh.IngestBench/bin/Release/net10.0/NxMesh.IngestBench.dll --seconds 20 --rows 0 --out /tmp --name prof
    /tmp/tools/dotnet-trace convert ingest.nettrace --format Speedscope -o ingest
    python3 bench/NxMesh.IngestBench/profile-breakdown.py ingest.speedscope.json

Only samples whose leaf is CPU_TIME count (threads running managed code, not blocked); each is attributed to the
first matching component of its stack.
"""
import collections
import json
import sys

RULES = [
    ("hub: access-log fields -> rows (TelemetryRows)", ("TelemetryRows",)),
    ("hub: binary COPY of the rows (Npgsql writes)", ("CopyAccessLogs",)),
    ("hub: rollup upsert", ("UpsertRollups",)),
    ("hub: other Npgsql (claim, commit, reads)", ("TelemetryWriter", "Npgsql")),
    ("hub: protobuf parse of the LogBatch", ("AgentService.__Helper_DeserializeMessage",)),
    ("hub: Kestrel HTTP/2 + gRPC server", ("Grpc.AspNetCore", "Kestrel")),
    ("simulated agents (gRPC client)", ("Grpc.Net.Client", "System.Net.Http", "NxMesh.IngestBench!")),
    ("thread-pool workers spinning for work", ("LowLevelLifoSemaphore", "LowLevelSpinWaiter", "WorkerThreadStart")),
    ("GC", ("GC", "gc_heap")),
]


def category(names):
    names = [n for n in names if not n.startswith("Process64") and not n.startswith("Thread (")]
    joined = " ".join(names)
    for label, keys in RULES:
        if any(k in joined for k in keys):
            return label
    return "other"


def main(path):
    data = json.load(open(path))
    frames = [f["name"] for f in data["shared"]["frames"]]
    totals = collections.Counter()
    cpu = 0.0
    for profile in data["profiles"]:
        stack, last = [], None
        for event in profile["events"]:
            if last is not None and stack and frames[stack[-1]] == "CPU_TIME":
                dt = event["at"] - last
                cpu += dt
                totals[category([frames[i] for i in stack])] += dt
            last = event["at"]
            if event["type"] == "O":
                stack.append(event["frame"])
            elif stack:
                stack.pop()
    for label, weight in totals.most_common():
        print(f"{100 * weight / cpu:5.1f} %  {label}")


if __name__ == "__main__":
    main(sys.argv[1])
