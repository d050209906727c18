#!/usr/bin/env python3
"""Holds N concurrent streaming requests against one infergate-sim and checks that every stream
gets all its events on time: the simulator's one event loop must carry thousands of streams.

usage: many_streams.py HOST:PORT [--streams N] [--tokens T] [--timeout S]
Prints one line: streams, tokens, wall time, slowest stream, events received, failures.
"""
import argparse
import asyncio
import json
import time


async def one(host, port, tokens, timeout):
    body = json.dumps({"model": "Qwen/Qwen3-0.6B", "stream": True, "max_tokens": tokens,
                       "messages": [{"role": "user", "content": "many streams"}]}).encode()
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    await writer.drain()
    data = b""
    try:
        while b"data: [DONE]" not in data:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                break
            data += chunk
    finally:
        writer.close()
    return time.monotonic() - t0, data.count(b"data: {"), b"data: [DONE]" in data


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    t0 = time.monotonic()
    results = await asyncio.gather(*(one(host, int(port), a.tokens, a.timeout) for _ in range(a.streams)),
                                   return_exceptions=True)
    wall = time.monotonic() - t0
    ok = [r for r in results if not isinstance(r, BaseException) and r[2]]
    errors = {}
    for r in results:
        key = type(r).__name__ if isinstance(r, BaseException) else ("no-done" if not r[2] else None)
        if key:
            errors[key] = errors.get(key, 0) + 1
    events = sum(r[1] for r in ok)
    slowest = max((r[0] for r in ok), default=float("nan"))
    print(f"streams={a.streams} tokens={a.tokens} wall_s={wall:.2f} slowest_s={slowest:.2f} "
          f"events={events} failed={a.streams - len(ok)} {errors or ''}")


if __name__ == "__main__":
    asyncio.run(main())
