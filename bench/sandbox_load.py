"""Load the sandbox provider from a second process and print requests/s and latency.

Usage: .venv/bin/python bench/sandbox_load.py [--seconds 5] [--concurrency 50]
Starts `python -m sandbox` on a free local port, creates one Evolution instance, links it, then
sends sendText and connectionState requests for a fixed time. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

KEY = "bench-global-key"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare(session: aiohttp.ClientSession, base: str) -> str:
    """Create and link one instance; return its token."""
    async with session.post(
        f"{base}/instance/create",
        headers={"apikey": KEY},
        json={"instanceName": "bench", "integration": "WHATSAPP-BAILEYS"},
    ) as response:
        token = (await response.json())["hash"]
    async with session.get(f"{base}/instance/connect/bench", headers={"apikey": token}):
        pass
    async with session.post(
        f"{base}/_sandbox/evolution/instances/bench/scan", json={"phone": "5511900000000"}
    ):
        pass
    return str(token)


async def worker(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    until: float,
    latencies: list[float],
    errors: list[int],
    n: int,
) -> None:
    """Alternate a send and a state read until the time is up."""
    headers = {"apikey": token}
    i = 0
    while time.monotonic() < until:
        started = time.monotonic()
        if i % 2:
            request = session.get(f"{base}/instance/connectionState/bench", headers=headers)
        else:
            request = session.post(
                f"{base}/message/sendText/bench",
                headers=headers,
                json={"number": f"55119{n:04d}{i % 10000:04d}", "text": "hi"},
            )
        async with request as response:
            await response.read()
            if response.status >= 400:
                errors.append(response.status)
        latencies.append(time.monotonic() - started)
        i += 1


async def run(base: str, seconds: float, concurrency: int) -> None:
    """Warm up, load, print the figures."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        token = await prepare(session, base)
        latencies: list[float] = []
        errors: list[int] = []
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(worker(session, base, token, until, latencies, errors, n) for n in range(concurrency))
        )
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"requests: {len(latencies)} in {seconds:.0f} s with {concurrency} concurrent clients")
    print(f"throughput: {len(latencies) / seconds:.0f} requests/s")
    print(f"latency: p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms")
    print(f"errors: {len(errors)}")


def main() -> None:
    """Start the sandbox, load it, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 argv is our own interpreter and module, no shell
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--evolution-api-key",
            KEY,
            "--no-auto-receipts",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(run(f"http://127.0.0.1:{port}", args.seconds, args.concurrency))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
