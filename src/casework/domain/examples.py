"""A realistic body for every command, by the command's name: the API's docs show them (Swagger's
"Try it out" starts from the first), and the tests decode each into its command, so none can
drift from the Struct it illustrates."""

from __future__ import annotations

from typing import Any

EMPLOYER = "0b8f2a47-3c1e-4d2a-9f6b-5e7c8d9a0b1c"

EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "open_case": {
        "a client met at the Helsinki office": {
            "identity_code": "131052-308T", "area": "helsinki", "team": "helsinki-it",
            "assignee": "anna.virtanen",
        },
        "an application made online, recorded as it was dated": {
            "identity_code": "131052-308T", "area": "itainen", "team": "itainen-sote",
            "channel": "digital", "effective_at": "2026-10-05T09:30:00+03:00",
        },
    },
    "record_screening": {
        "a concern raised": {
            "answers": {"q1": "nostaminen on vaikeaa", "q2": "selkä kipeytyy istuessa"},
            "concern": True,
        },
    },
    "record_self_assessment": {
        "the client's own scores": {
            "overall": 6, "mental_wellbeing": 5, "social_participation": 7,
            "physical_functioning": 4, "skills": 8, "everyday_coping": 6,
        },
    },
    "add_tasmatyo_tag": {"on the B statement": {"basis": "b_statement"}},
    "remove_tasmatyo_tag": {"tagged in error": {"reason": "tagged on another client's screening"}},
    "decline_tasmatyo_tag": {"the client declines": {"reason": "the client does not want the tag"}},
    "record_diagnosis": {"on a B statement": {"icd_chapter": "M", "b_statement_on": "2026-09-14"}},
    "record_work_history": {"nine years, public sector": {"years": 9, "last_insured": "public"}},
    "record_sickness_allowance": {"days used so far": {"days_used": 212}},
    "refer_to_coaching": {"to TyöDesign coaching": {}},
    "start_coaching": {"the first session held": {"coaching_id": "coaching-7"}},
    "complete_coaching": {"the last session held": {"coaching_id": "coaching-7"}},
    "interrupt_coaching": {
        "interrupted": {"coaching_id": "coaching-7", "reason": "the client began rehabilitation"},
    },
    "propose_match": {"an employer in the sector": {"employer_id": EMPLOYER, "sector": "sote"}},
    "make_job_referral": {"to a vacancy": {"employer_id": EMPLOYER, "vacancy_id": "v-2026-114"}},
    "record_referral_outcome": {"hired": {"referral_id": "referral-9", "hired": True}},
    "apply_for_subsidy": {"pay subsidy": {"kind": "pay_subsidy", "employer_id": EMPLOYER}},
    "decide_subsidy": {"granted": {"subsidy_id": "subsidy-11", "granted": True}},
    "request_handoff": {
        "to Kela, with consent": {
            "partner": "kela",
            "consent": {"given_on": "2026-10-01", "partners": ["kela"], "shares": ["icd_chapter"]},
            "summary": "ammatillisen kuntoutuksen tarve arvioitava",
            "shares": ["icd_chapter"],
        },
    },
    "acknowledge_handoff": {"received": {"handoff_id": "handoff-6"}},
    "request_handoff_info": {
        "a question to the office": {
            "handoff_id": "handoff-6", "question": "Onko asiakkaalla voimassa oleva B-lausunto?",
        },
    },
    "supply_handoff_info": {
        "the office answers": {"handoff_id": "handoff-6", "answer": "Kyllä, päivätty 14.9.2026."},
    },
    "accept_handoff": {"accepted": {"handoff_id": "handoff-6"}},
    "reject_handoff": {
        "rejected": {"handoff_id": "handoff-6", "reason": "the client is not insured by Keva"},
    },
    "redirect_handoff": {
        "to another partner": {
            "handoff_id": "handoff-6", "to_partner": "ilmarinen",
            "reason": "the last employment was insured by Ilmarinen",
        },
    },
    "complete_handoff": {
        "rehabilitation granted": {"handoff_id": "handoff-6", "outcome": "rehabilitation_granted"},
    },
    "withdraw_consent": {
        "the client withdraws": {
            "handoff_id": "handoff-6", "reason": "asiakas peruu suostumuksensa puhelimitse",
        },
    },
    "start_employment": {
        "with a pay subsidy": {
            "starts_on": "2026-12-01", "employer_id": EMPLOYER, "subsidy_id": "subsidy-11",
        },
    },
    "record_follow_up": {"still employed at three months": {"month": 3, "employed": True}},
    "flag_stall": {
        "screening overdue": {
            "step": "screening", "since": "2026-10-01T09:00:00+03:00",
            "due": "2026-10-22T09:00:00+03:00", "policy_version": "2026-01",
        },
    },
    "escalate_stall": {"escalated": {"step": "screening"}},
    "acknowledge_stall": {
        "seen, and what is done": {
            "step": "screening", "note": "Asiakas tavoitettu, seulonta sovittu ensi viikolle.",
        },
    },
    "send_handoff_reminder": {"halfway": {"handoff_id": "handoff-6", "step": "handoff_ack"}},
    "reassign": {"to a colleague": {"assignee": "mikko.korhonen", "team": "helsinki-sote"}},
    "add_note": {
        "a phone call": {"text": "Soitettu asiakkaalle, tapaaminen sovittu ensi viikolle."},
        "a late note on an earlier meeting": {
            "text": "Tapaamisessa käyty läpi työkokeilun vaihtoehdot.",
            "effective_at": "2026-10-20T14:00:00+03:00",
            "reason": "kirjattu jälkikäteen",
        },
    },
    "close_case": {"employed": {"outcome": "employed", "reason": "työsuhde jatkuu toistaiseksi"}},
}  # fmt: skip
