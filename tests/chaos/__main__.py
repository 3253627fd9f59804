"""`make chaos`: the chaos run at length; its figures are appended to bench/RESULTS.md.

`python -m tests.chaos [ROUNDS] [CLIENTS]` (default 3 rounds of every fault, 6 clients).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from bench.harness import HEADER, RESULTS
from tests.chaos.harness import quiet_logs, run


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 3
    clients = int(argv[1]) if len(argv) > 1 else 6
    logs = Path(tempfile.gettempdir()) / "casework-chaos.log"
    print(f"chaos: {rounds} rounds, {clients} clients; the harness logs to {logs}", file=sys.stderr)
    with quiet_logs(logs):
        figures = asyncio.run(run(rounds=rounds, clients=clients, phase_seconds=10))
    section = figures.markdown()
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open("a") as results:
        results.write("\n" + section)
    print(section)
    for problem in [*figures.verdict.lost, *figures.verdict.duplicated]:
        print(problem, file=sys.stderr)
    v = figures.verdict
    failed = v.lost or v.duplicated or v.missing_journeys or v.orphaned_journeys
    return 1 if failed or v.differing_views else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
