"""A handoff as its partner's task: states, the changes a partner is told of, and the consent
behind it (expiry, withdrawal). Pure: no store, no clock."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from casework.domain import commands as c
from casework.domain import events as e
from casework.domain.errors import (
    ConsentMissing,
    IllegalStep,
    NotFound,
    NotPermitted,
    ValidationFailed,
)
from casework.domain.tasks import changes, seen, task_state
from casework.partner_tasks import TaskIds
from tests.domain.test_journey_rules import (
    KELA,
    STAFF,
    consent,
    event,
    open_case,
    recorded,
    refused,
)

H = "handoff-2"


def kela_case(*partners: str) -> object:
    return open_case(c.RequestHandoff(partner="kela", consent=consent("kela", *partners)))


def state_of(case) -> str:
    return task_state(case.state, case.state.handoff(H))


def test_a_task_is_the_partners_move_until_it_asks_then_the_offices_then_answered():
    case = kela_case()
    assert state_of(case) == "open"
    case.execute(c.AcknowledgeHandoff(handoff_id=H), KELA)
    assert state_of(case) == "open"
    case.execute(c.RequestHandoffInfo(handoff_id=H, question="?"), KELA)
    assert state_of(case) == "waiting"
    case.execute(c.SupplyHandoffInfo(handoff_id=H, answer="!"), STAFF)
    assert state_of(case) == "answered"
    case.execute(c.AcceptHandoff(handoff_id=H), KELA)
    assert state_of(case) == "open"  # an accepted task waits on the partner's completion
    case.execute(c.CompleteHandoff(handoff_id=H, outcome="advice_given"), KELA)
    assert state_of(case) == "closed"


def test_the_closing_of_a_case_closes_its_tasks():
    case = kela_case()
    case.execute(c.CloseCase(outcome="other", reason="muutti"), STAFF)
    assert state_of(case) == "closed"


def test_a_partner_is_told_of_an_answer_and_a_stall_as_such():
    case = kela_case()
    case.execute(c.AcknowledgeHandoff(handoff_id=H), KELA)
    case.execute(c.RequestHandoffInfo(handoff_id=H, question="?"), KELA)
    before = seen(case.state, H)
    case.execute(c.SupplyHandoffInfo(handoff_id=H, answer="!"), STAFF)
    assert changes(before, seen(case.state, H)) == ["answered"]
    before = seen(case.state, H)
    case.execute(c.WithdrawConsent(handoff_id=H, reason="peruttu"), STAFF)
    case.execute(c.CloseCase(outcome="other", reason="-"), STAFF)
    assert changes(before, seen(case.state, H)) == ["consent_withdrawn", "case_closed"]
    assert changes(before, before) == []


def test_withdrawing_consent_reaches_the_handoff_it_was_redirected_to():
    case = kela_case("ilmarinen")
    case.execute(c.AcknowledgeHandoff(handoff_id=H), KELA)
    case.execute(c.RedirectHandoff(handoff_id=H, to_partner="ilmarinen", reason="-"), KELA)
    case.collect_events()
    case.execute(c.WithdrawConsent(handoff_id="handoff-4", reason="asiakas peruu"), STAFF)
    assert recorded(case) == [
        event(e.ConsentWithdrawn, 5, reason="asiakas peruu", handoff_id="handoff-4")
    ]
    assert [h.consent_withdrawn for h in case.state.handoffs] == [True, True]
    refused(case, c.WithdrawConsent(handoff_id=H, reason="-"), STAFF, IllegalStep)


def test_a_withdrawn_consent_cannot_be_carried_to_another_partner():
    case = kela_case("ilmarinen")
    case.execute(c.AcknowledgeHandoff(handoff_id=H), KELA)
    case.execute(c.WithdrawConsent(handoff_id=H, reason="-"), STAFF)
    redirect = c.RedirectHandoff(handoff_id=H, to_partner="ilmarinen", reason="-")
    refused(case, redirect, KELA, ConsentMissing)


def test_a_partner_may_not_withdraw_the_clients_consent():
    case = kela_case()
    refused(case, c.WithdrawConsent(handoff_id=H, reason="-"), KELA, NotPermitted)


def test_a_consent_ends_on_or_after_the_day_it_was_given():
    with pytest.raises(ValidationFailed):
        c.Consent(given_on=date(2026, 3, 1), partners=["kela"], expires_on=date(2026, 2, 28))
    c.Consent(given_on=date(2026, 3, 1), partners=["kela"], expires_on=date(2026, 3, 1))


def test_a_task_id_names_its_case_and_handoff_and_nothing_else_decodes():
    ids = TaskIds(b"k" * 32)
    case_id = uuid4()
    task = ids.id_of(case_id, "handoff-17")
    assert ids.id_of(case_id, "handoff-17") == task  # stable
    assert case_id.hex not in task.lower()  # opaque
    assert ids.decode(task) == (case_id, "handoff-17")
    assert ids.id_of(case_id, "handoff-18") != task
    with pytest.raises(NotFound):
        TaskIds(b"j" * 32).decode(task)  # under another key: not ours
