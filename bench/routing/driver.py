#!/usr/bin/env python3
"""Open-loop load driver for the routing benchmark (Python 3 stdlib only, raw HTTP/1.1).

Poisson arrivals at a fixed rate per stage (seeded); each request is a streaming chat completion
(stream: true, stream_options.include_usage). Per request it records time to first token (first
non-empty content delta), end-to-end latency, output tokens and the status. Arrivals never wait
for answers: when --max-inflight requests are outstanding a new arrival is dropped and counted.
Each stage lasts --duration seconds of arrivals, then at most --drain seconds for the
stragglers (then they are cancelled: their connections close, the server aborts them).

Targets: --gateway HOST:PORT (the gateway routes), or --endpoints H:P,H:P with
--client-policy rr|random|least|p2c (the driver routes directly: a stand-in baseline while the
gateway cannot be configured with that policy). --metrics H:P,... are scraped before and after
each stage for the prefix-cache hit rate (vllm:prefix_cache_hits_total / _queries_total deltas).

Writes one JSON summary line per stage to --out, and one line per request to --raw.
"""
import argparse
import asyncio
import json
import math
import random
import sys
import time

from workloads import WORKLOADS


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100.0 * len(s)) - 1))
    return s[k]


def host_port(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


class Pool:
    """Idle keep-alive connections per target."""

    def __init__(self):
        self.idle = {}

    async def get(self, target):
        conns = self.idle.get(target)
        while conns:
            reader, writer = conns.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection(*target)
        return reader, writer, False

    def put(self, target, conn):
        self.idle.setdefault(target, []).append(conn)

    def close(self):
        for conns in self.idle.values():
            for _, w in conns:
                w.close()
        self.idle.clear()


class ClientRouter:
    """Client-side baselines over the endpoints, by the driver's own in-flight counts."""

    def __init__(self, endpoints, policy, seed):
        self.endpoints = endpoints
        self.policy = policy
        self.rng = random.Random(seed ^ 0x5EED)
        self.cursor = 0
        self.inflight = {e: 0 for e in endpoints}

    def pick(self):
        eps = self.endpoints
        if self.policy == "rr":
            e = eps[self.cursor % len(eps)]
            self.cursor += 1
            return e
        if self.policy == "random":
            return self.rng.choice(eps)
        if self.policy == "least":
            low = min(self.inflight.values())
            return self.rng.choice([e for e in eps if self.inflight[e] == low])
        if self.policy == "p2c":
            a, b = self.rng.sample(eps, 2)
            if self.inflight[a] == self.inflight[b]:
                return a
            return a if self.inflight[a] < self.inflight[b] else b
        raise ValueError(self.policy)


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def body_chunks(reader, headers):
    """Yields the body's bytes as they arrive (chunked or content-length)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if n:
            yield await reader.readexactly(n)
    else:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            yield data


class Stage:
    def __init__(self, rate, duration):
        self.rate = rate
        self.duration = duration
        self.records = []
        self.tokens_in_window = 0
        self.t0 = 0.0
        self.dropped = 0


async def one_request(args, pool, router, stage, req, rec):
    target = router.pick() if router else args.gateway
    rec["endpoint"] = f"{target[0]}:{target[1]}"
    if router:
        router.inflight[target] += 1
    body = json.dumps({"model": req.model, "messages": req.messages, "max_tokens": req.max_tokens,
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {target[0]}:{target[1]}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"x-session-id: {req.session}\r\n\r\n").encode()
    writer = None
    reusable = False
    start = time.monotonic()
    try:
        for attempt in range(2):
            reader, writer, pooled = await pool.get(target)
            try:
                writer.write(head + body)
                status, headers = await read_head(reader)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                writer = None
                if not pooled or attempt == 1:
                    raise
        rec["status"] = status
        rec["pod"] = headers.get("x-inference-port", "")
        tokens = 0
        usage = None
        buf = b""
        done = False
        async for data in body_chunks(reader, headers):
            if status != 200:
                continue
            buf += data
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                if not event.startswith(b"data: "):
                    continue
                payload = event[6:]
                if payload == b"[DONE]":
                    done = True
                    continue
                if b'"content"' in payload:
                    obj = json.loads(payload)
                    ch = obj.get("choices") or []
                    if ch and (ch[0].get("delta") or {}).get("content"):
                        now = time.monotonic()
                        if tokens == 0:
                            rec["ttft"] = now - start
                        tokens += 1
                        if now - stage.t0 <= stage.duration:
                            stage.tokens_in_window += 1
                elif b'"usage"' in payload:
                    u = json.loads(payload).get("usage")
                    if u:
                        usage = u
        rec["e2e"] = time.monotonic() - start
        rec["tokens"] = usage["completion_tokens"] if usage else tokens
        rec["streamed"] = tokens
        rec["complete"] = status == 200 and done
        reusable = headers.get("connection", "").lower() != "close"
    except asyncio.CancelledError:
        rec["status"] = rec.get("status") or 0
        rec["error"] = "drain-timeout"
        raise
    except Exception as e:  # noqa: BLE001 - every failure is recorded, none stops the run
        rec["status"] = rec.get("status") or 0
        rec["error"] = f"{type(e).__name__}: {e}"[:200]
        reusable = False
    finally:
        if router:
            router.inflight[target] -= 1
        if writer is not None:
            if reusable:
                pool.put(target, (reader, writer))
            else:
                writer.close()


async def scrape(endpoints):
    """Sum of (hits, queries) of vllm:prefix_cache_* over the endpoints."""
    hits = queries = 0.0
    for h, p in endpoints:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(h, p), 2)
            writer.write(f"GET /metrics HTTP/1.1\r\nhost: {h}:{p}\r\nconnection: close\r\n\r\n".encode())
            text = (await asyncio.wait_for(reader.read(-1), 5)).decode("latin-1")
            writer.close()
        except (OSError, asyncio.TimeoutError):
            continue
        for line in text.split("\n"):
            if line.startswith("vllm:prefix_cache_hits_total"):
                hits += float(line.rsplit(" ", 1)[1])
            elif line.startswith("vllm:prefix_cache_queries_total"):
                queries += float(line.rsplit(" ", 1)[1])
    return hits, queries


async def run_stage(args, pool, router, gen, rng, rate, index):
    stage = Stage(rate, args.duration)
    arrivals_rng = random.Random(args.seed * 1000 + index)
    before = await scrape(args.metrics) if args.metrics else (0, 0)
    cpu0 = time.process_time()
    tasks = set()
    stage.t0 = time.monotonic()
    t = 0.0
    while True:
        t += arrivals_rng.expovariate(rate)
        if t >= args.duration:
            break
        req = gen(rng)
        delay = stage.t0 + t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        rec = {"stage": index, "rate": rate, "t": round(t, 4), "class": req.klass, "tag": req.tag,
               "prompt_chars": sum(len(m["content"]) for m in req.messages), "max_tokens": req.max_tokens}
        stage.records.append(rec)
        if len(tasks) >= args.max_inflight:
            stage.dropped += 1
            rec["status"] = -1
            rec["error"] = "driver-max-inflight"
            continue
        task = asyncio.ensure_future(one_request(args, pool, router, stage, req, rec))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    lag = time.monotonic() - stage.t0 - args.duration
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=args.drain + max(0.0, args.duration - (time.monotonic() - stage.t0)))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
    wall = time.monotonic() - stage.t0
    cpu = time.process_time() - cpu0
    after = await scrape(args.metrics) if args.metrics else (0, 0)
    return summarize(args, stage, before, after, cpu, wall, lag), stage.records


def summarize(args, stage, before, after, cpu, wall, lag):
    recs = stage.records
    out = {"label": args.label, "workload": args.workload, "rate": stage.rate,
           "duration": stage.duration, "requests": len(recs), "wall_s": round(wall, 2),
           "driver_cpu_s": round(cpu, 2), "driver_cpu_frac": round(cpu / wall, 3) if wall else None,
           "arrival_lag_s": round(lag, 3), "driver_dropped": stage.dropped,
           "output_tokens_per_s": round(stage.tokens_in_window / stage.duration, 1)}
    dq = after[1] - before[1]
    out["prefix_hit_rate"] = round((after[0] - before[0]) / dq, 4) if dq > 0 else None
    ok = [r for r in recs if r.get("complete")]
    out["ok"] = len(ok)
    out["ok_frac"] = round(len(ok) / len(recs), 4) if recs else None
    statuses = {}
    for r in recs:
        key = str(r.get("status"))
        statuses[key] = statuses.get(key, 0) + 1
    out["statuses"] = statuses
    out["errors"] = sum(1 for r in recs if r.get("error"))
    out["ttft"] = pcts([r["ttft"] for r in ok if "ttft" in r])
    out["e2e"] = pcts([r["e2e"] for r in ok])
    by_class = {}
    for k in sorted({r["class"] for r in recs}):
        rs = [r for r in recs if r["class"] == k]
        okk = [r for r in rs if r.get("complete")]
        by_class[k] = {"requests": len(rs), "ok": len(okk),
                       "shed_429": sum(1 for r in rs if r.get("status") == 429),
                       "rejected_503": sum(1 for r in rs if r.get("status") == 503),
                       "other_fail": sum(1 for r in rs if not r.get("complete") and r.get("status") not in (429, 503)),
                       "ttft": pcts([r["ttft"] for r in okk if "ttft" in r])}
    out["by_class"] = by_class
    return out


def pcts(values):
    if not values:
        return None
    return {"n": len(values), "p50": round(percentile(values, 50), 4),
            "p90": round(percentile(values, 90), 4), "p99": round(percentile(values, 99), 4)}


async def main_async(args):
    gen = WORKLOADS[args.workload]()
    rng = random.Random(args.seed)
    router = ClientRouter(args.endpoints, args.client_policy, args.seed) if args.endpoints else None
    pool = Pool()
    out = open(args.out, "a") if args.out else sys.stdout
    raw = open(args.raw, "a") if args.raw else None
    try:
        for i, rate in enumerate(args.rates):
            summary, records = await run_stage(args, pool, router, gen, rng, rate, i)
            summary["stage"] = i
            summary.update(args.extra)
            out.write(json.dumps(summary) + "\n")
            out.flush()
            print(f"[{args.label}] {args.workload} rate={rate:.1f}/s ok={summary['ok']}/{summary['requests']} "
                  f"ttft_p90={summary['ttft'] and summary['ttft']['p90']} tok/s={summary['output_tokens_per_s']} "
                  f"hit={summary['prefix_hit_rate']} cpu={summary['driver_cpu_frac']} lag={summary['arrival_lag_s']}",
                  file=sys.stderr, flush=True)
            if raw:
                for r in records:
                    r["label"] = args.label
                    raw.write(json.dumps(r) + "\n")
            pool.close()  # a fresh set of connections per stage
    finally:
        pool.close()
        if raw:
            raw.close()
        if args.out:
            out.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateway", type=host_port)
    p.add_argument("--endpoints", type=lambda s: [host_port(x) for x in s.split(",") if x])
    p.add_argument("--client-policy", choices=["rr", "random", "least", "p2c"], default="rr")
    p.add_argument("--metrics", type=lambda s: [host_port(x) for x in s.split(",") if x], default=[])
    p.add_argument("--workload", choices=sorted(WORKLOADS), required=True)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], required=True,
                   help="requests/s of each stage, comma-separated")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of arrivals per stage (max 120)")
    p.add_argument("--drain", type=float, default=15.0, help="seconds allowed after the last arrival")
    p.add_argument("--max-inflight", type=int, default=1500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--label", default="")
    p.add_argument("--extra", type=json.loads, default={}, help="JSON object merged into each summary")
    p.add_argument("--out")
    p.add_argument("--raw", help="one JSON line per request")
    args = p.parse_args()
    if bool(args.gateway) == bool(args.endpoints):
        p.error("give exactly one of --gateway and --endpoints")
    args.duration = min(args.duration, 120.0)
    args.drain = min(args.drain, 120.0)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
