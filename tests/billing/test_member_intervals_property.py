"""Per-member intervals add nothing when everyone pays on the plan's own interval.

Property (issue 11): for any scenario whose members all use the plan's own interval, the
documents, refusals and final state equal those of the same scenario on a plan without
per-member intervals.
"""

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seats.simulation import run_scenario

START = dt.date(2026, 1, 1)


@st.composite
def scenarios(draw):
    interval = draw(st.sampled_from(["month", "year"]))
    included = draw(st.integers(0, 3))
    plan = {
        "code": "p",
        "name": "P",
        "currency": "EUR",
        "interval": interval,
        "base_price": draw(st.sampled_from(["0.00", "20.00", "240.00"])),
        "seat_price": draw(st.sampled_from(["10.00", "12.00", "120.00", "33.33"])),
        "included_seats": included,
        "max_seats": draw(st.sampled_from([None, 8])),
        "seat_mode": "auto",
        "seat_removal": draw(st.sampled_from(["credit", "none"])),
        "renewal_seats": draw(st.sampled_from(["in_use", "keep"])),
        "seat_invoicing": draw(st.sampled_from(["immediate", "next_day", "next_invoice"])),
        "proration": draw(st.sampled_from(["day", "month"])),
    }
    span = 75 if interval == "month" else 200
    actions = []
    for _ in range(draw(st.integers(1, 5))):
        actions.append(
            {
                "on": (START + dt.timedelta(days=draw(st.integers(0, span)))).isoformat(),
                "do": draw(st.sampled_from(["add_members", "add_members", "remove_members", "buy_seats"])),
                "count": draw(st.integers(1, 3)),
            }
        )
    actions.sort(key=lambda action: action["on"])
    members = draw(st.integers(1, 4))
    for action in actions:  # never remove more people than can be present
        if action["do"] == "remove_members":
            action["count"] = 1
    return {
        "plan": plan,
        "customer": {"country": draw(st.sampled_from(["DK", "DE", "US"])), "vat_id": None},
        "start": START.isoformat(),
        "seats": draw(st.integers(0, 5)),
        "members": members,
        "actions": actions,
        "until": (START + dt.timedelta(days=span + 10)).isoformat(),
    }


def with_own_interval(scenario: dict) -> dict:
    plan = dict(
        scenario["plan"], seat_intervals={scenario["plan"]["interval"]: scenario["plan"]["seat_price"]}
    )
    actions = [
        dict(a, interval=plan["interval"]) if a["do"] != "remove_members" else a for a in scenario["actions"]
    ]
    return dict(scenario, plan=plan, actions=actions)


@pytest.mark.django_db
# Each example bills two whole scenarios through the engine (about 2 s): 12 keep CI under 20
# minutes; PROPERTY_EXAMPLES=100 for a deeper run.
@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 12)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
def test_everyone_on_the_plans_interval_bills_like_a_plan_without_intervals(scenario):
    pooled = run_scenario(scenario)
    per_member = run_scenario(with_own_interval(scenario))
    assert per_member == pooled
