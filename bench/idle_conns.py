#!/usr/bin/env python3
"""Opens N keep-alive connections through a proxy, sends one request on each, reads
the response, keeps every connection open, then reports the proxy's memory.

Usage: idle_conns.py --port PORT --pids PID[,PID...] [--n 10000] [--path /]

Prints one JSON object: connections opened and still open, errors, the proxy's VmRSS
(summed over the given processes) before and with the connections open, and VmHWM.
Connections are closed with SO_LINGER 0 (RST) so the run leaves no TIME_WAIT behind.
"""

import argparse
import asyncio
import json
import socket
import struct
import sys
import time


def mem_kb(pids, field):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


async def one(host, port, path, sem, conns, errors):
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 15)
            w.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            await w.drain()
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 15)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await asyncio.wait_for(r.readexactly(length), 15)
            conns.append((r, w))
        except Exception as e:  # noqa: BLE001 - reported, not raised
            errors.append(type(e).__name__ + ": " + str(e))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pids", required=True)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--settle", type=float, default=2.0)
    a = ap.parse_args()
    pids = [p for p in a.pids.split(",") if p]
    rss_before = mem_kb(pids, "VmRSS")
    sem = asyncio.Semaphore(256)
    conns, errors = [], []
    t0 = time.monotonic()
    await asyncio.gather(
        *(one(a.host, a.port, a.path, sem, conns, errors) for _ in range(a.n))
    )
    opened = time.monotonic() - t0
    await asyncio.sleep(a.settle)
    still_open = sum(1 for r, _ in conns if not r.at_eof())
    rss = mem_kb(pids, "VmRSS")
    hwm = mem_kb(pids, "VmHWM")
    linger = struct.pack("ii", 1, 0)
    for _, w in conns:
        try:
            w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        w.close()
    await asyncio.sleep(0.2)
    out = {
        "requested": a.n,
        "opened": len(conns),
        "still_open": still_open,
        "errors": len(errors),
        "first_errors": sorted(set(errors))[:3],
        "open_seconds": round(opened, 2),
        "rss_before_kb": rss_before,
        "rss_kb": rss,
        "hwm_kb": hwm,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
