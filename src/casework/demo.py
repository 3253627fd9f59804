"""A living demo programme: a year of clients on the scale of the programme's 2021 figures
(DOMAIN.md), sent through the HTTP API as staff and the partners would send it.

Each client gets a profile (`Profile`: how far their journey went), drawn from the seed, and the
profile becomes the commands of their journey (`steps`), placed in the year so that effective
dates spread over it: journeys that ended anywhere in it, open ones active in the last days, and
some left to stall weeks ago. The first clients are a showcase of every stage and every partner,
so that even a small programme (`--clients 30`) shows them. Partners answer through their own
routes, finding their tasks in their inboxes. Every request carries an idempotency key derived
from the seed, so the same seed and year end make the same programme, and a rerun writes nothing.

Employers (interest tags), job referrals to their vacancies and training sessions are not
simulated yet: the API has no route to register an employer or plan a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import msgspec
from rich.progress import Progress

from casework.api.auth import Authenticator, Claims
from casework.domain.reference import reference
from casework.progress import progress_bar

HELSINKI = ZoneInfo("Europe/Helsinki")
# httpx logs every request at info level: the API logs each already, once.
logging.getLogger("httpx").setLevel(logging.WARNING)
CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
DEFAULT_CLIENTS = 1000
DEFAULT_SEED = 2021
RETRIES = 6
"""Attempts of one request while the service is busy or restarting (503, 429, no answer)."""

Answer = Literal["unanswered", "acknowledged", "accepted", "completed", "rejected", "redirected"]
CoachingEnd = Literal["referred", "started", "completed", "interrupted"]


def sample_identity_code(born: date, number: int) -> str:
    """A valid personal identity code; individual numbers 900–999 are reserved for temporary use."""
    assert 900 <= number <= 999
    sign = {18: "+", 19: "-", 20: "A"}[born.year // 100]
    check = CHECK_CHARS[int(f"{born:%d%m%y}{number:03d}") % 31]
    return f"{born:%d%m%y}{sign}{number:03d}{check}"


def sample_business_id(n: int) -> str:
    """A valid business id (Y-tunnus): the first with a valid check digit from `n` on."""
    while True:
        digits = f"{n:07d}"
        rest = sum(int(d) * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if rest != 1:
            return f"{digits}-{0 if rest == 0 else 11 - rest}"
        n += 1


@dataclass(frozen=True)
class Handoff:
    partner: str
    answer: Answer
    info_loop: bool = False
    redirect_to: str | None = None


@dataclass(frozen=True)
class Profile:
    """How far one client's journey goes."""

    channel: Literal["staff", "digital"] = "staff"
    screened: bool = True
    concern: bool = False
    tag: Literal["no", "yes", "declined"] = "no"
    diagnosed: bool = False
    sickness_days: int | None = None
    work_history: tuple[int, Literal["public", "private", "none"]] | None = None
    coaching: CoachingEnd | None = None
    handoff: Handoff | None = None
    employment: Literal["plain", "pay_subsidy"] | None = None
    work_arrangement: bool = False
    follow_ups: bool = False
    closed: Literal["employed", "rehabilitation", "pension", "municipal_pilot", "other"] | None = (
        None
    )
    stalls: bool = False
    """Left weeks ago with a step waiting: the stalled queue's."""


IDENTIFIED = Profile(concern=True, tag="yes", work_history=(3, "none"))
SHOWCASE = [
    Profile(screened=False),  # opened
    Profile(channel="digital"),  # screened, no concern
    replace(IDENTIFIED, coaching="started"),  # identified, in coaching
    replace(IDENTIFIED, diagnosed=True, employment="pay_subsidy", sickness_days=300),  # F05
    replace(
        IDENTIFIED, coaching="completed", employment="plain", follow_ups=True, closed="employed"
    ),
    replace(
        IDENTIFIED, diagnosed=True, handoff=Handoff("kela", "completed"), closed="rehabilitation"
    ),
    replace(
        IDENTIFIED,
        diagnosed=True,
        work_history=(12, "public"),
        handoff=Handoff("keva", "accepted", info_loop=True),
    ),
    replace(
        IDENTIFIED,
        work_history=(9, "private"),
        handoff=Handoff("kela", "redirected", redirect_to="ilmarinen"),
    ),
    replace(
        IDENTIFIED,
        work_history=(15, "private"),
        handoff=Handoff("ilmarinen", "unanswered"),
        stalls=True,
    ),
]
"""The first clients of every programme: each stage, each partner, a redirection, a stall."""


def draw_profile(rng: random.Random) -> Profile:
    """A client as the programme's 2021 proportions suggest (DOMAIN.md "Indicators")."""
    chance = rng.random
    p = Profile(channel="digital" if chance() < 0.2 else "staff", screened=chance() < 0.94)
    if not p.screened:
        return replace(p, stalls=chance() < 0.3)
    p = replace(p, concern=chance() < 0.42)
    if p.concern:
        p = replace(p, tag="declined" if chance() < 0.1 else "yes")
    if p.tag == "yes":
        insured = rng.choice(["public", "private", "private"])
        years = rng.choice([0, 1, 3, 6, 9, 14, 22])
        p = replace(
            p,
            diagnosed=chance() < 0.45,
            sickness_days=rng.choice([40, 120, 210, 300]) if chance() < 0.25 else None,
            work_history=(years, "none" if years == 0 else insured) if chance() < 0.8 else None,  # type: ignore[arg-type]
            coaching=_coaching(rng) if chance() < 0.85 else None,  # only the identified
        )
        if p.work_history and chance() < 0.3:
            p = replace(p, handoff=_handoff(rng, p.work_history))
    settled = p.handoff is not None and p.handoff.answer in ("completed", "rejected")
    if (p.handoff is None or settled) and chance() < 0.55:
        subsidy = chance() < (0.45 if p.tag == "yes" else 0.25)
        p = replace(
            p, employment="pay_subsidy" if subsidy else "plain", work_arrangement=chance() < 0.06
        )
    if p.employment and chance() < 0.55:
        p = replace(p, closed="employed", follow_ups=chance() < 0.8)
    elif p.handoff and p.handoff.answer == "completed" and not p.employment and chance() < 0.5:
        p = replace(p, closed=rng.choice(["rehabilitation", "rehabilitation", "pension"]))
    elif not p.employment and p.tag != "yes" and chance() < 0.3:
        p = replace(p, closed=rng.choice(["other", "other", "municipal_pilot"]))
    return replace(p, stalls=not p.closed and chance() < 0.1)


def _coaching(rng: random.Random) -> CoachingEnd:
    return rng.choices(["referred", "started", "completed", "interrupted"], [12, 20, 53, 15])[0]  # type: ignore[return-value]


def _handoff(rng: random.Random, work_history: tuple[int, str]) -> Handoff:
    years, insured = work_history
    partner = (
        "kela" if insured == "none" or years < 5 else {"public": "keva"}.get(insured, "ilmarinen")
    )
    answer: Answer = rng.choices(
        ["unanswered", "acknowledged", "accepted", "completed", "rejected", "redirected"],
        [8, 10, 12, 50, 10, 10],
    )[0]  # type: ignore[assignment]
    other = {"kela": "ilmarinen", "keva": "kela", "ilmarinen": "kela"}[partner]
    return Handoff(partner, answer, rng.random() < 0.3, other if answer == "redirected" else None)


@dataclass(frozen=True)
class Step:
    """One request of a journey, `days` after its opening: a staff command on the case, or a
    partner's move on its task (`partner`)."""

    days: int
    name: str
    body: Callable[[datetime, dict[str, str]], dict[str, Any]]
    """The body, given when the step takes effect and the ids earlier steps created."""
    partner: str | None = None
    creates: str | None = None
    """The kind of item whose id later steps use (`coaching`, `subsidy`, `handoff`)."""


@dataclass
class Journey:
    number: int
    profile: Profile
    opening: dict[str, Any]
    steps: list[Step]
    start: datetime
    case_id: str | None = None
    created: dict[str, str] = field(default_factory=dict)

    def moment(self, step: Step) -> datetime:
        day = self.start.date() + timedelta(days=step.days)
        return datetime.combine(day, time(9, 0), HELSINKI) + timedelta(minutes=7 * (step.days % 40))


def steps(profile: Profile, rng: random.Random) -> list[Step]:
    """The profile as commands, each some days after the one before."""
    day = 0
    out: list[Step] = []

    def then(name: str, body: Callable[..., dict[str, Any]] = lambda m, ids: {},
             gap: tuple[int, int] = (2, 14), **extra: Any) -> None:  # fmt: skip
        nonlocal day
        day += rng.randint(*gap)
        out.append(Step(day, name, body, **extra))

    if not profile.screened:
        return out
    if profile.channel == "digital":
        then("record_self_assessment", lambda m, ids: {
            "overall": 5, "mental_wellbeing": 4, "social_participation": 6,
            "physical_functioning": 5, "skills": 7, "everyday_coping": 6,
        }, gap=(1, 3))  # fmt: skip
    answers = {"tyokyky": "selkä kipeytyy nostaessa" if profile.concern else "ei huolia"}
    then("record_screening", lambda m, ids: {"answers": answers, "concern": profile.concern})
    if profile.tag == "declined":
        then("decline_tasmatyo_tag", lambda m, ids: {"reason": "asiakas ei halua tunnistetta"})
    if profile.diagnosed:
        icd = rng.choice("FMGI")
        then("record_diagnosis", lambda m, ids: {"icd_chapter": icd, "b_statement_on": _day(m)})
    if profile.tag == "yes":
        basis = "b_statement" if profile.diagnosed else "screening"
        then("add_tasmatyo_tag", lambda m, ids: {"basis": basis}, gap=(1, 5))
    if profile.sickness_days is not None:
        days = profile.sickness_days
        then("record_sickness_allowance", lambda m, ids: {"days_used": days}, gap=(1, 5))
    if profile.work_history:
        years, insured = profile.work_history
        then("record_work_history", lambda m, ids: {"years": years, "last_insured": insured},
             gap=(1, 5))  # fmt: skip
    if profile.coaching:
        then("refer_to_coaching", creates="coaching")
        coaching = lambda m, ids: {"coaching_id": ids["coaching"]}  # noqa: E731
        if profile.coaching != "referred":
            then("start_coaching", coaching, gap=(5, 25))
        if profile.coaching == "completed":
            then("complete_coaching", coaching, gap=(30, 70))
        if profile.coaching == "interrupted":
            then("interrupt_coaching", lambda m, ids: coaching(m, ids) | {"reason": "sairausloma"},
                 gap=(10, 40))  # fmt: skip
    if profile.handoff:
        _handoff_steps(profile.handoff, then)
        if profile.handoff.answer in ("unanswered", "acknowledged", "accepted", "redirected"):
            return out  # waits on the partner
    if profile.employment:
        _employment_steps(profile, then)
    if profile.closed:
        outcome = profile.closed
        then("close_case", lambda m, ids: {"outcome": outcome, "reason": "asiakkuus päättyy"},
             gap=(3, 20))  # fmt: skip
    return out


def _handoff_steps(handoff: Handoff, then: Callable[..., None]) -> None:
    partners = [handoff.partner, *([handoff.redirect_to] if handoff.redirect_to else [])]
    shares = ["work_history"]
    then("request_handoff", lambda m, ids: {
        "partner": handoff.partner, "summary": "työkyvyn ja kuntoutustarpeen arvio",
        "consent": {"given_on": _day(m), "partners": partners, "shares": shares},
        "shares": shares,
    }, creates="handoff")  # fmt: skip
    if handoff.answer == "unanswered":
        return
    then("acknowledge", partner=handoff.partner, gap=(1, 8))
    if handoff.info_loop:
        then("request-info", lambda m, ids: {"question": "Onko B-lausunto ajan tasalla?"},
             partner=handoff.partner, gap=(2, 8))  # fmt: skip
        then("supply_handoff_info", lambda m, ids: {
            "handoff_id": ids["handoff"], "answer": "Lausunto lähetetty postitse",
        }, gap=(1, 6))  # fmt: skip
    decision = {"completed": "accepted", "redirected": "redirected"}.get(handoff.answer)
    decision = decision or handoff.answer
    if decision == "accepted":
        then("accept", partner=handoff.partner, gap=(5, 18))
    elif decision == "rejected":
        then("reject", lambda m, ids: {"reason": "edellytykset eivät täyty"},
             partner=handoff.partner, gap=(5, 18))  # fmt: skip
    elif decision == "redirected":
        to = handoff.redirect_to
        then("redirect", lambda m, ids: {"to_partner": to, "reason": "työhistoria yksityisellä"},
             partner=handoff.partner, gap=(3, 10))  # fmt: skip
        then("acknowledge", partner=to, gap=(1, 8))
        then("accept", partner=to, gap=(5, 18))
    if handoff.answer == "completed":
        outcome = "rehabilitation_granted" if handoff.partner != "kela" else "advice_given"
        then("complete", lambda m, ids: {"outcome": outcome}, partner=handoff.partner,
             gap=(10, 40))  # fmt: skip


def _employment_steps(profile: Profile, then: Callable[..., None]) -> None:
    if profile.work_arrangement:
        then("apply_for_subsidy", lambda m, ids: {"kind": "work_arrangement_subsidy"},
             creates="arrangement")  # fmt: skip
        then("decide_subsidy", lambda m, ids: {"subsidy_id": ids["arrangement"], "granted": True},
             gap=(7, 20))  # fmt: skip
    if profile.employment == "pay_subsidy":
        then("apply_for_subsidy", lambda m, ids: {"kind": "pay_subsidy"}, creates="subsidy")
        then("decide_subsidy", lambda m, ids: {"subsidy_id": ids["subsidy"], "granted": True},
             gap=(7, 20))  # fmt: skip
    subsidised = profile.employment == "pay_subsidy"
    then("start_employment", lambda m, ids: {
        "starts_on": _day(m), **({"subsidy_id": ids["subsidy"]} if subsidised else {}),
    }, gap=(3, 14))  # fmt: skip
    if profile.follow_ups:
        then("record_follow_up", lambda m, ids: {"month": 3, "employed": True}, gap=(92, 95))
        then("record_follow_up", lambda m, ids: {"month": 6, "employed": True}, gap=(91, 94))


LONGEST = 330
"""Days a journey may take, so that it fits in the year with room before it."""


def within_the_year(todo: list[Step]) -> list[Step]:
    """The steps, their gaps shortened alike if they take longer than `LONGEST` days."""
    if not todo or todo[-1].days <= LONGEST:
        return todo
    shortened, last = [], 0
    for step in todo:
        last = max(last + 1, step.days * LONGEST // todo[-1].days)
        shortened.append(replace(step, days=last))
    return shortened


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def plan(seed: int, clients: int, until: date) -> list[Journey]:
    """The programme: the same seed, size and year end make the same journeys."""
    rng = random.Random(seed)
    areas = reference().areas
    codes: set[str] = set()
    year_start = datetime.combine(until - timedelta(days=364), time(9, 0), HELSINKI)
    journeys = []
    for number in range(clients):
        profile = SHOWCASE[number] if number < len(SHOWCASE) else draw_profile(rng)
        area = rng.choice(sorted(areas))
        code = ""
        while not code or code in codes:
            born = date(1962, 1, 1) + timedelta(days=rng.randrange(40 * 365))
            code = sample_identity_code(born, rng.randint(900, 999))
        codes.add(code)
        todo = within_the_year(steps(profile, rng))
        length = todo[-1].days if todo else 0
        if profile.closed:  # ended somewhere in the year
            back = length + rng.randint(1, max(1, 360 - length))
        elif profile.stalls:  # left weeks ago
            back = length + rng.randint(35, 150)
        else:  # active in the last days
            back = length + rng.randint(1, 9)
        start = max(year_start, year_start + timedelta(days=364 - back))
        opening = {
            "identity_code": code, "area": area, "team": rng.choice(areas[area].teams),
            "channel": profile.channel,
        }  # fmt: skip
        journeys.append(Journey(number, profile, opening, todo, start))
    return journeys


class Report(msgspec.Struct):
    clients: int = 0
    requests: int = 0
    written: int = 0
    replayed: int = 0
    rescheduled: int = 0
    """Closings refused at their planned moment (a stall recorded since) and sent later."""
    failures: list[str] = msgspec.field(default_factory=list)


class Demo:
    """Sends a programme through the API: a few journeys at once, each step after the last."""

    def __init__(
        self, http: httpx.AsyncClient, auth: Authenticator, seed: int, concurrency: int = 8
    ) -> None:
        self.http, self.auth, self.seed = http, auth, seed
        self.concurrency = concurrency
        self.report = Report()
        self.tokens: dict[tuple[str, str], dict[str, str]] = {}
        self.tasks: dict[tuple[str, str], str] = {}
        """(partner, case id) → the newest task, as the coordinators' view of an inbox shows."""
        self.inbox_lock = asyncio.Lock()

    def headers(self, role: str, name: str) -> dict[str, str]:
        if (role, name) not in self.tokens:
            claims = {
                "staff": Claims(sub=f"demo-staff-{name}", name=f"Demo {name}", role="staff",
                                area=name),
                "partner": Claims(sub=f"demo-{name}", name=name, role="partner", partner=name),
                "coordinator": Claims(sub="demo-coordinator", role="coordinator", area="*"),
            }[role]  # fmt: skip
            self.tokens[role, name] = {"Authorization": f"Bearer {self.auth.mint(claims)}"}
        return self.tokens[role, name]

    async def run(self, journeys: list[Journey], progress: Progress | None = None) -> Report:
        total = sum(len(j.steps) + 1 for j in journeys)
        bar = progress.add_task("demo programme", total=total, detail="steps") if progress else None

        def advance() -> None:
            if progress is not None and bar is not None:
                progress.advance(bar)

        gate = asyncio.Semaphore(self.concurrency)

        async def one(journey: Journey) -> None:
            async with gate:
                await self.journey(journey, advance)

        await asyncio.gather(*(one(j) for j in journeys))
        self.report.clients = len(journeys)
        return self.report

    async def journey(self, journey: Journey, advance: Callable[[], object]) -> None:
        key = f"demo-{self.seed}-{journey.number}"
        body = journey.opening | {"effective_at": journey.start.isoformat()}
        staff = self.headers("staff", journey.opening["area"])
        answer = await self.send("/api/cases", body, staff, key, journey)
        advance()
        if answer is None:
            return
        journey.case_id = answer["id"]
        for i, step in enumerate(journey.steps, 1):
            ok = await self.step(journey, step, f"{key}-{i}", staff)
            advance()
            if not ok:
                return

    async def step(self, journey: Journey, step: Step, key: str, staff: dict[str, str]) -> bool:
        moment = journey.moment(step)
        body = step.body(moment, journey.created) | {"effective_at": moment.isoformat()}
        if step.partner is None:
            path = f"/api/cases/{journey.case_id}/commands/{step.name}"
            if step.name == "close_case":
                return await self.close(journey, path, body, key, staff)
            answer = await self.send(path, body, staff, key, journey)
        else:
            task = await self.task(step.partner, str(journey.case_id))
            path = f"/api/partners/{step.partner}/tasks/{task}/{step.name}"
            answer = await self.send(path, body, self.headers("partner", step.partner), key,
                                     journey)  # fmt: skip
        if answer is not None and step.creates:
            journey.created[step.creates] = next(iter(answer["created"].values()))
        return answer is not None

    async def close(
        self, journey: Journey, path: str, body: dict[str, Any], key: str, staff: dict[str, str]
    ) -> bool:
        """Close at the planned moment, or, if the journey has recorded a stall after it (the
        service stalls a back-dated case at once), at the newest fact's."""
        answer = await self.send(path, body, staff, key, journey, quiet=(409,))
        if answer is not None:
            return True
        self.report.rescheduled += 1
        case = await self.http.get(f"/api/cases/{journey.case_id}", headers=staff)
        newest = case.json().get("last_event_at") if case.status_code == 200 else None
        later = body | {"effective_at": newest or body["effective_at"]}
        return await self.send(path, later, staff, f"{key}-late", journey) is not None

    async def task(self, partner: str, case_id: str) -> str:
        """The partner's task on the case, from its inbox as a coordinator sees it (with the
        office's ids); the inbox is a view, so a new task may take a moment to appear."""
        for _ in range(200):
            if found := self.tasks.get((partner, case_id)):
                return found
            async with self.inbox_lock:
                if (partner, case_id) not in self.tasks:
                    await self.read_inbox(partner)
            if (partner, case_id) not in self.tasks:
                await asyncio.sleep(0.2)
        raise LookupError(f"no {partner} task for case {case_id}")

    async def read_inbox(self, partner: str) -> None:
        """Every task of the partner, the work in hand and the closed (a rerun finds those)."""
        items = []
        for state in (None, "closed"):
            cursor = None
            while True:
                params = {"limit": 500, "state": state, "cursor": cursor}
                page = (await self.http.get(
                    f"/api/partners/{partner}/tasks", headers=self.headers("coordinator", "*"),
                    params={k: v for k, v in params.items() if v is not None},
                )).json()  # fmt: skip
                items += page["items"]
                if not (cursor := page["next"]):
                    break
        for item in sorted(items, key=lambda i: int(i["handoff_id"].split("-")[1])):
            self.tasks[partner, item["case_id"]] = item["task"]

    async def send(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        key: str,
        journey: Journey,
        quiet: tuple[int, ...] = (),
    ) -> dict[str, Any] | None:
        """POST with the idempotency key, again while the service is busy; the answer, or None
        (a refusal is reported unless `quiet`)."""
        self.report.requests += 1
        response = None
        for attempt in range(RETRIES):
            try:
                response = await self.http.post(
                    path, json=body, headers=headers | {"Idempotency-Key": key}
                )
                if response.status_code not in (429, 503):
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5 * 2**attempt)
        if response is not None and response.is_success:
            replayed = response.headers.get("idempotent-replayed") == "true"
            self.report.replayed += replayed
            self.report.written += not replayed
            return response.json()
        if response is None or response.status_code not in quiet:
            detail = response.json().get("detail") if response is not None else "no answer"
            status = response.status_code if response is not None else "-"
            self.report.failures.append(f"client {journey.number}: {path.rsplit('/', 1)[-1]}:"
                                        f" {status} {detail}")  # fmt: skip
        return None


async def load(
    base_url: str,
    auth: Authenticator,
    seed: int = DEFAULT_SEED,
    clients: int = DEFAULT_CLIENTS,
    until: date | None = None,
    concurrency: int = 8,
    show_progress: bool = True,
) -> Report:
    """Send the programme to the API at `base_url`; `until` is the year's last day
    (yesterday by default, so every step has taken effect)."""
    until = until or yesterday()
    journeys = plan(seed, clients, until)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        demo = Demo(http, auth, seed, concurrency)
        if not show_progress:
            return await demo.run(journeys)
        with progress_bar() as progress:
            return await demo.run(journeys, progress)


MARKER = """
CREATE TABLE IF NOT EXISTS demo_programme (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seed integer NOT NULL,
    clients integer NOT NULL,
    until date NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    loaded_at timestamptz
)
"""


class DemoMarker:
    """Whether `casework up --demo` has loaded the programme into this database: kept in it, so
    it cannot drift from the data. The parameters are kept too, so a load cut short by a stop
    is finished with the very same requests (their keys make the finished part a replay)."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as curs:
            curs.execute(MARKER)

    def claim(self, seed: int, clients: int, until: date) -> tuple[int, int, date] | None:
        """The programme to load (the one begun before, if any), or None if it is loaded."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO demo_programme (seed, clients, until) VALUES (%s, %s, %s)"
                " ON CONFLICT (one) DO NOTHING",
                (seed, clients, until),
            )
            curs.execute("SELECT seed, clients, until, loaded_at FROM demo_programme")
            row = curs.fetchone()
        return None if row["loaded_at"] else (row["seed"], row["clients"], row["until"])

    def loaded(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("UPDATE demo_programme SET loaded_at = now()")


def yesterday() -> date:
    """The default year end: every step of the programme has taken effect by then."""
    return datetime.now(HELSINKI).date() - timedelta(days=1)


async def until_ready(base_url: str) -> None:
    """Wait until the service answers `/ready` with 200 (ready, or degraded but serving)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.5)
