"""The `casework` command: run the service or a part of it, mint tokens, audit, reconcile."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec

from casework.children import CannotStart
from casework.demo import DEFAULT_CLIENTS, DEFAULT_SEED
from casework.domain.errors import CaseworkError
from casework.logs import configure_logging
from casework.settings import Settings, load_settings

if TYPE_CHECKING:
    from casework.importer import ImportReport


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from casework.service import up

    asyncio.run(up(settings, demo=args.demo))
    return 0


def _api(args: argparse.Namespace, settings: Settings) -> int:
    from casework.service import api_only

    asyncio.run(api_only(settings))
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from casework.service import worker_only

    asyncio.run(worker_only(settings))
    return 0


def _project(args: argparse.Namespace, settings: Settings) -> int:
    from casework.service import project

    asyncio.run(project(settings))
    return 0


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import TaskID

    from casework.bootstrap import build_app
    from casework.domain.policy import load_policy
    from casework.progress import progress_bar
    from projections.rebuild import Progress, rebuild
    from projections.service import Projections

    app = build_app(settings)
    policy = load_policy(Path(settings.policy_file) if settings.policy_file else None)
    projections = Projections(app, policy)
    names = [args.view] if args.view else list(projections.factories)
    for name in names:
        if name not in projections.factories:
            print(f"casework: no view {name!r}; views: {', '.join(projections.factories)}",
                  file=sys.stderr)  # fmt: skip
            return 2
        with progress_bar() as bar:
            shown = bar.add_task(f"rebuild {name}", total=None, detail="events")

            def show(p: Progress, shown: TaskID = shown) -> None:
                bar.update(shown, completed=p.done, total=p.total,
                           detail=f"events, {p.rate:,.0f}/s")  # fmt: skip

            applied = rebuild(app, projections, name, show)
        print(f"{name}: rebuilt from {applied} events and swapped in", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from casework.bootstrap import build_app
    from casework.domain.commands import Actor
    from casework.importer import import_journeys
    from casework.progress import progress_bar

    app = build_app(settings)
    with Path(args.file).open(encoding="utf-8") as counting:
        total = sum(1 for _ in counting)
    started = time.monotonic()

    with progress_bar() as bar, Path(args.file).open(encoding="utf-8") as lines:
        shown = bar.add_task("import", total=total, detail="lines")

        def show(report: ImportReport) -> None:
            rate = report.events / max(time.monotonic() - started, 1e-6)
            bar.update(shown, completed=report.lines,
                       detail=f"lines, {report.cases} cases, {rate:,.0f} events/s")  # fmt: skip

        # Legacy records name no author: steps count as staff work, recorded as the importer.
        report = import_journeys(
            app, lines, Actor(args.user, "staff", "*"), show, workers=args.workers
        )
    for error in report.errors:
        print(f"{args.file}:{error.line}: {error.error}", file=sys.stderr)
    print(
        f"imported {report.cases} cases ({report.events} events), {len(report.errors)} lines"
        f" refused; {len(report.open_cases)} open cases need journeys",
        file=sys.stderr,
    )
    if report.open_cases and not args.no_journeys:
        asyncio.run(_start_journeys(settings))
    return 1 if report.errors else 0


async def _start_journeys(settings: Settings) -> None:
    from casework.service import engines
    from workflows.reconcile import reconcile

    async with engines(settings) as e:
        report = await reconcile(e.app, e.client, e.journeys)
    print(f"started {len(report.restarted)} journeys", file=sys.stderr)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from casework.api.auth import Authenticator
    from casework.demo import load

    url = args.url or f"http://{settings.http_host}:{settings.http_port}"
    started = time.monotonic()
    report = asyncio.run(
        load(url, Authenticator.from_settings(settings), args.seed, args.clients, args.until,
             args.concurrency)
    )  # fmt: skip
    for failure in report.failures:
        print(f"casework demo: {failure}", file=sys.stderr)
    print(
        f"{report.clients} clients: {report.requests} requests, {report.written} written,"
        f" {report.replayed} already there, {len(report.failures)} refused;"
        f" {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return 1 if report.failures else 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from casework.api.auth import Authenticator, Claims

    claims = Claims(
        sub=args.user or f"{args.role}-dev", name=args.user or args.role, role=args.role,
        area=args.area, team=args.team, partner=args.partner,
    )  # fmt: skip
    print(Authenticator.from_settings(settings).mint(claims, lifetime=args.hours * 3600))
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from casework.audit import verify
    from casework.bootstrap import build_app

    app = build_app(settings)
    case_ids = [UUID(args.case)] if args.case else app.integrity.aggregate_ids()
    failures = 0
    for case_id in case_ids:
        result = verify(app, case_id)
        failures += not result.intact
        print(msgspec.json.encode(result).decode())
    if not args.case:
        for number, problem in app.integrity.altered_checkpoints():
            failures += 1
            print(msgspec.json.encode({"checkpoint": number, "intact": False, "problem": problem})
                  .decode())  # fmt: skip
    return 1 if failures else 0


def _audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from casework.bootstrap import build_app

    app = build_app(settings)  # held: a dropped application closes its connection pool
    taken = app.integrity.checkpoint(wait=True)
    if taken is None:
        print("casework: no event was recorded since the last checkpoint", file=sys.stderr)
    else:
        print(msgspec.json.encode(taken).decode())
    return 0


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from casework.service import engines
    from workflows.reconcile import reconcile

    async def run() -> int:
        async with engines(settings) as e:
            report = await reconcile(e.app, e.client, e.journeys, restart=not args.dry_run)
        for line in report.lines():
            print(line)
        return 0

    return asyncio.run(run())


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="casework", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start everything on embedded defaults (PostgreSQL, Temporal)")
    up.add_argument(
        "--demo", action="store_true", help="load the demo programme in the background, once"
    )
    up.set_defaults(run=_up)
    sub.add_parser("api", help="serve the HTTP API").set_defaults(run=_api)
    sub.add_parser("worker", help="run the Temporal worker").set_defaults(run=_worker)
    sub.add_parser("project", help="run every view (read model)").set_defaults(run=_project)
    imp = sub.add_parser("import", help="import historical journeys (JSON lines)")
    imp.add_argument("file", help="one journey per line; format in casework/importer.py")
    imp.add_argument("--user", default="legacy-import", help="who the import is recorded as")
    imp.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1,
        help="processes that replay and seal journeys (default: one per CPU)",
    )  # fmt: skip
    imp.add_argument(
        "--no-journeys", action="store_true", help="do not start journeys (run reconcile later)"
    )
    imp.set_defaults(run=_import)
    rebuild = sub.add_parser("rebuild", help="rebuild a view beside the live one, then swap")
    rebuild.add_argument("view", nargs="?", help="the view (default: every view)")
    rebuild.set_defaults(run=_rebuild)
    demo = sub.add_parser("demo", help="simulate a programme year through a running service's API")
    demo.add_argument("--url", help="the API (default: CASEWORK_HTTP_HOST and _PORT)")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the same seed, the same"
                      " programme (default %(default)s)")  # fmt: skip
    demo.add_argument("--clients", type=int, default=DEFAULT_CLIENTS,
                      help="how many (default %(default)s: the 2021 scale)")  # fmt: skip
    demo.add_argument("--until", type=date.fromisoformat,
                      help="the year's last day, YYYY-MM-DD (default: yesterday)")  # fmt: skip
    demo.add_argument("--concurrency", type=int, default=8, help="journeys sent at once")
    demo.set_defaults(run=_demo)

    token = sub.add_parser("token", help="print a development token")
    token.add_argument("--role", required=True,
                       choices=["staff", "coordinator", "partner", "auditor", "admin"])  # fmt: skip
    token.add_argument("--area", default="*")
    token.add_argument("--team")
    token.add_argument("--partner")
    token.add_argument("--user")
    token.add_argument("--hours", type=int, default=12)
    token.set_defaults(run=_token)

    audit = sub.add_parser("audit", help="auditor's tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="verify the chain of one case, or of every aggregate and checkpoint"
    )
    verify.add_argument("case", nargs="?", help="case id (default: every aggregate)")
    verify.set_defaults(run=_audit_verify)
    audit_sub.add_parser(
        "checkpoint", help="sign the newest link of every case that moved since the last one"
    ).set_defaults(run=_audit_checkpoint)

    wf = sub.add_parser("workflows", help="journey workflows")
    wf_sub = wf.add_subparsers(dest="workflows_command", required=True)
    reconcile = wf_sub.add_parser(
        "reconcile", help="compare open cases with running journeys; restart what is missing"
    )
    reconcile.add_argument("--dry-run", action="store_true", help="report only")
    reconcile.set_defaults(run=_reconcile)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        return args.run(args, settings)
    except CaseworkError as error:
        print(f"casework: {error.detail}", file=sys.stderr)
        return 2
    except CannotStart as error:
        print(f"casework: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
