"""P2's clients in a process of their own: `python -m bench.http_client` with a JSON job on stdin.

The same loop as bench.api.concurrent_round (each client task sends add_note to its own cases, one
at a time, until the time is up), over one httpx.AsyncClient; prints the outcome as JSON. Run so
that the service's process, and its one GIL, carry only the service, as with real callers.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import msgspec

# As bench.event_store.NOTE; not imported from there, so this process loads no more than it needs.
NOTE = "Phoned the client about the coaching plan; next meeting agreed for Tuesday at the office."


class Job(msgspec.Struct):
    base_url: str
    token: str
    groups: list[list[str]]
    seconds: float
    warmup: float = 1.0


class Outcome(msgspec.Struct):
    done: int
    errors: int
    seconds: float
    latencies: list[float]
    first_errors: list[str]
    cpu_seconds: float = 0.0


async def run(job: Job) -> Outcome:
    headers = {"Authorization": f"Bearer {job.token}"}
    limits = httpx.Limits(max_keepalive_connections=len(job.groups))
    async with httpx.AsyncClient(
        base_url=job.base_url, headers=headers, timeout=30, limits=limits
    ) as http:

        async def clients(seconds: float) -> Outcome:
            latencies: list[float] = []
            errors: list[str] = []
            deadline = time.perf_counter() + seconds

            async def client(cases: list[str]) -> None:
                i = 0
                while time.perf_counter() < deadline:
                    began = time.perf_counter()
                    try:
                        response = await http.post(
                            f"/api/cases/{cases[i % len(cases)]}/commands/add_note",
                            json={"text": NOTE},
                        )
                        if response.status_code != 200:
                            raise RuntimeError(f"{response.status_code} {response.text[:200]}")
                        latencies.append((time.perf_counter() - began) * 1000)
                    except Exception as error:  # counted and reported, whatever went wrong
                        errors.append(f"{type(error).__name__}: {error}"[:200])
                    i += 1

            start, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(client(cases) for cases in job.groups))
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            return Outcome(len(latencies), len(errors), elapsed, latencies, errors[:3], cpu)

        if job.warmup:
            await clients(job.warmup)
        return await clients(job.seconds)


def main() -> None:
    job = msgspec.json.decode(sys.stdin.buffer.read(), type=Job)
    sys.stdout.buffer.write(msgspec.json.encode(asyncio.run(run(job))))


if __name__ == "__main__":
    main()
