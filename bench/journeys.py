"""Seeded historical journeys in the import format (src/casework/importer.py), for P4, P5 and P7.

Each journey runs the programme's tracks in order and stops at a random point, so the data has
cases at every stage: open ones waiting on staff or partners (many long overdue), handoffs in
partners' inboxes, closed ones. Notes pad a journey to about `events` events on average.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from casework.demo import sample_identity_code
from casework.domain.reference import reference

START = datetime(2025, 1, 1, 8, tzinfo=UTC)
PARTNERS = ("kela", "keva", "ilmarinen")


def identity_code(n: int) -> str:
    """A distinct valid identity code for each n below two million."""
    return sample_identity_code(date(1950, 1, 1) + timedelta(days=n % 20_000), 900 + n // 20_000)


def journeys(count: int, seed: int, events: int = 20) -> Iterator[str]:
    """`count` JSON lines, the same for the same seed."""
    rng = random.Random(seed)
    areas = reference().areas
    for n in range(count):
        area = rng.choice(list(areas))
        yield json.dumps(_journey(rng, n, area, rng.choice(areas[area].teams), events))


def _journey(rng: random.Random, n: int, area: str, team: str, events: int) -> dict[str, Any]:
    opened = t = START + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
    steps: list[dict[str, Any]] = []

    def step(command: str, body: dict[str, Any] | None = None, partner: str = "") -> str:
        nonlocal t
        t += timedelta(hours=rng.uniform(2, 24 * 7))
        item: dict[str, Any] = {"command": command, "at": t.isoformat(), "body": body or {}}
        if partner:
            item["actor"] = {"id": f"{partner}-import", "role": "partner", "partner": partner}
        steps.append(item)
        return str(len(steps) + 1)  # the version of its event: items are named after it

    employer = str(UUID(int=rng.randrange(1, 2000)))

    def coaching() -> None:
        coaching_id = "coaching-" + step("refer_to_coaching")
        step("start_coaching", {"coaching_id": coaching_id})
        step("complete_coaching", {"coaching_id": coaching_id})

    def referral() -> None:
        body = {"employer_id": employer, "vacancy_id": "v-1"}
        referral_id = "referral-" + step("make_job_referral", body)
        step("record_referral_outcome", {"referral_id": referral_id, "hired": True})

    def subsidy() -> None:
        subsidy_id = "subsidy-" + step("apply_for_subsidy", {"kind": "pay_subsidy"})
        step("decide_subsidy", {"subsidy_id": subsidy_id, "granted": rng.random() < 0.7})

    def employment() -> None:
        step("start_employment", {"starts_on": t.date().isoformat()})

    stop = rng.randrange(3, 16)
    step("record_screening", {"answers": {"q1": "imported"}, "concern": True})
    step("add_tasmatyo_tag", {"basis": "screening"})
    step("record_work_history", {"years": rng.randrange(20), "last_insured": "private"})
    plan = [coaching, lambda: _handoff(rng, step), referral, subsidy, employment]
    for action in plan[: stop // 3]:
        action()
    length = rng.randrange(events // 2, events * 3 // 2 + 1)
    while len(steps) + 2 < length:
        step("add_note", {"text": f"note {len(steps)}"})
    if stop > 11:
        step("close_case", {"outcome": "employed" if stop == 15 else "other", "reason": "done"})
    return {
        "identity_code": identity_code(n), "area": area, "team": team,
        "opened_at": opened.isoformat(), "steps": steps,
    }  # fmt: skip


def _handoff(rng: random.Random, step: Any) -> None:
    partner = rng.choice(PARTNERS)
    consent = {"given_on": "2025-01-01", "partners": [partner]}
    handoff = "handoff-" + step(
        "request_handoff", {"partner": partner, "consent": consent, "summary": "legacy"}
    )
    if rng.random() < 0.8:
        step("acknowledge_handoff", {"handoff_id": handoff}, partner)
        step("accept_handoff", {"handoff_id": handoff}, partner)
