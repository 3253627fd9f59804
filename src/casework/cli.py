"""The `casework` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from uuid import UUID

import msgspec

from casework.domain.errors import CaseworkError
from casework.logs import configure_logging
from casework.settings import load_settings


def _demo(args: argparse.Namespace) -> int:
    from casework.audit import history
    from casework.bootstrap import build_app
    from casework.demo import run_journeys

    app = build_app(load_settings())
    for case_id in run_journeys(app):
        case = app.get_case(case_id)
        print(f"\ncase {case_id}  stage={case.state.stage}  group={case.state.group}")
        for item in history(app, case_id):
            actor = f"{item.actor.role}:{item.actor.id}"
            when = f"{item.effective_at:%Y-%m-%d %H:%M}"
            print(f"  v{item.version:<3} {item.type:<28} {actor:<22} {when}")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from casework.audit import verify
    from casework.bootstrap import build_app

    app = build_app(load_settings())
    if args.case:
        case_ids = [UUID(args.case)]
    else:
        with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute("SELECT case_id FROM client_cases ORDER BY case_id")
            case_ids = [row["case_id"] for row in curs.fetchall()]
    failures = 0
    for case_id in case_ids:
        result = verify(app, case_id)
        failures += not result.intact
        print(msgspec.json.encode(result).decode())
    return 1 if failures else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="casework", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="walk sample journeys and print their histories")
    demo.set_defaults(run=_demo)
    audit = sub.add_parser("audit", help="auditor's tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="verify the hash chain of one case or all")
    verify.add_argument("case", nargs="?", help="case id (default: every case)")
    verify.set_defaults(run=_audit_verify)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(load_settings().log_level)
    try:
        return args.run(args)
    except CaseworkError as error:
        print(f"casework: {error.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
