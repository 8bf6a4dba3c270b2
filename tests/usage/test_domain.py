"""Pure rules of usage: reading events, the time window, batch sums, thresholds, entitlements."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from usage import domain as D

AT = dt.datetime(2026, 5, 15, 12, 0, tzinfo=dt.UTC)


def good(**overrides):
    raw = {"event_id": "e1", "meter": "ai_tokens", "quantity": 5, "timestamp": "2026-05-10T10:00:00+02:00"}
    raw.update(overrides)
    return raw


def test_parse_reads_a_good_event_in_utc():
    parsed = D.event_parse(good(dimensions={"model": "m", "action": "a"}), index=3)
    assert parsed == D.Event(3, "e1", "ai_tokens", 5, dt.datetime(2026, 5, 10, 8, 0, tzinfo=dt.UTC), "m", "a")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not an object", "invalid_event"),
        (good(event_id=""), "missing_event_id"),
        (good(event_id="x" * 129), "invalid_event_id"),
        (good(meter="seats"), "meter_not_reportable"),
        (good(meter="bananas"), "unknown_meter"),
        (good(quantity="5"), "invalid_quantity"),
        (good(quantity=True), "invalid_quantity"),
        (good(quantity=1.5), "invalid_quantity"),
        (good(quantity=0), "invalid_quantity"),
        (good(quantity=-3), "invalid_quantity"),
        (good(meter="documents", quantity=0), "invalid_quantity"),
        (good(timestamp=None), "missing_timestamp"),
        (good(timestamp="yesterday"), "invalid_timestamp"),
        (good(timestamp="2026-05-10T10:00:00"), "invalid_timestamp"),
        (good(dimensions=["m"]), "invalid_dimensions"),
        (good(dimensions={"model": "m" * 65}), "invalid_dimensions"),
        (good(event_id="a\x00b"), "invalid_event_id"),
        (good(dimensions={"model": "m", "action": "chat\x00"}), "invalid_dimensions"),
    ],
)
def test_parse_refuses_with_a_code(raw, code):
    parsed = D.event_parse(raw, index=7)
    assert isinstance(parsed, D.EventError)
    assert (parsed.index, parsed.code) == (7, code)
    assert parsed.message


def test_deletions_are_negative_counts():
    parsed = D.event_parse(good(meter="agents", quantity=-1), index=0)
    assert isinstance(parsed, D.Event) and parsed.quantity == -1


def test_window_refuses_before_previous_period_and_far_future():
    ok = D.event_parse(good(), index=0)
    assert D.window_check(ok, local_day=dt.date(2026, 4, 1), earliest_day=dt.date(2026, 4, 1), at=AT) is None
    old = D.window_check(ok, local_day=dt.date(2026, 3, 31), earliest_day=dt.date(2026, 4, 1), at=AT)
    assert old.code == "timestamp_too_old"
    soon = D.event_parse(good(timestamp="2026-05-15T12:05:00Z"), index=0)
    assert (
        D.window_check(soon, local_day=dt.date(2026, 5, 15), earliest_day=dt.date(2026, 4, 1), at=AT) is None
    )
    late = D.event_parse(good(timestamp="2026-05-15T12:05:01Z"), index=0)
    refused = D.window_check(late, local_day=dt.date(2026, 5, 15), earliest_day=dt.date(2026, 4, 1), at=AT)
    assert refused.code == "timestamp_in_future"


def test_local_day_follows_the_time_zone():
    instant = dt.datetime(2026, 4, 30, 22, 30, tzinfo=dt.UTC)
    assert D.local_day(instant, ZoneInfo("Europe/Copenhagen")) == dt.date(2026, 5, 1)
    assert D.local_day(instant, ZoneInfo("UTC")) == dt.date(2026, 4, 30)


def test_batch_sums_are_per_key_and_sorted():
    def ev(meter, quantity, model="b", action="x"):
        return D.Event(0, "id", meter, quantity, AT, model, action)

    may, apr = dt.date(2026, 5, 1), dt.date(2026, 4, 1)
    rows = [
        (ev("ai_tokens", 5, "b"), dt.date(2026, 5, 2), may),
        (ev("agents", 1), dt.date(2026, 5, 2), may),
        (ev("ai_tokens", 7, "a"), dt.date(2026, 5, 2), may),
        (ev("ai_tokens", 1, "b"), dt.date(2026, 4, 30), apr),
        (ev("agents", -1), dt.date(2026, 5, 2), may),
        (ev("ai_tokens", 2, "b"), dt.date(2026, 5, 2), may),
    ]
    sums = D.batch_sums(rows)
    assert sums.period == [(("ai_tokens", apr), 1), (("ai_tokens", may), 14)]
    assert sums.counters == [("agents", 0)]
    assert sums.daily == [
        ((dt.date(2026, 4, 30), "ai_tokens", "b", "x"), 1),
        ((dt.date(2026, 5, 2), "agents", "b", "x"), 0),
        ((dt.date(2026, 5, 2), "ai_tokens", "a", "x"), 7),
        ((dt.date(2026, 5, 2), "ai_tokens", "b", "x"), 7),
    ]


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        (0, 100, []),
        (79, 100, []),
        (80, 100, [80]),
        (99, 100, [80]),
        (100, 100, [80, 100]),
        (500, 100, [80, 100]),
        (5, None, []),
        (0, 0, []),
    ],
)
def test_thresholds(used, limit, expected):
    assert D.thresholds_reached(used=used, limit=limit) == expected


@pytest.mark.parametrize(
    ("used", "limit", "hard", "quantity", "expected"),
    [
        (99, 100, True, 1, True),
        (100, 100, True, 1, False),
        (100, 100, True, 0, False),
        (99, 100, True, 0, True),
        (90, 100, True, 11, False),
        (150, 100, False, 1, True),
        (10**9, None, True, 10**9, True),
    ],
)
def test_allowed(used, limit, hard, quantity, expected):
    assert D.allowed(used=used, limit=limit, hard=hard, quantity=quantity) is expected


def test_percent_rounds_down():
    assert D.percent_used(used=999, limit=1000) == 99
    assert D.percent_used(used=1500, limit=1000) == 150
    assert D.percent_used(used=3, limit=None) is None


@pytest.mark.parametrize(
    ("percent", "level"),
    [(None, ""), (0, ""), (79, ""), (80, "amber"), (99, "amber"), (100, "red"), (250, "red")],
)
def test_meter_colour_amber_from_80_red_at_100(percent, level):
    assert D.usage_level(percent) == level


@pytest.mark.parametrize(
    ("used", "level"), [(799, ""), (800, "amber"), (999, "amber"), (1000, "red"), (1001, "red")]
)
def test_a_meter_changes_colour_where_owners_are_emailed(used, level):
    """Amber once the first alert threshold (80 %) is reached, red at the second (100 %)."""
    assert D.usage_level(D.percent_used(used=used, limit=1000)) == level
    reached = D.thresholds_reached(used=used, limit=1000)
    assert reached == {"": [], "amber": [80], "red": [80, 100]}[level]


def test_cost_is_exact_then_rounded_half_up_once():
    exact = D.cost_minor(tokens=1500, price_per_1k_minor=Decimal("0.3"))
    assert exact == Decimal("0.45")
    assert D.round_minor(Decimal("2.5")) == 3
    assert D.round_minor(exact + exact) == 1


@pytest.mark.parametrize("tz", ["UTC", "Europe/Copenhagen", "America/Los_Angeles"])
def test_batch_read_keeps_first_occurrences_in_the_window_with_their_local_day(tz):
    zone = ZoneInfo(tz)
    events = [
        good(event_id="a", timestamp="2026-04-30T23:30:00Z"),  # 1 May in Copenhagen
        good(event_id="old", timestamp="2026-03-31T12:00:00Z"),
        good(event_id="a", timestamp="2026-05-02T10:00:00Z"),  # a repeat: the first one counts
        good(event_id="soon", timestamp="2026-05-15T12:04:59Z"),
        good(event_id="late", timestamp="2026-05-15T12:05:01Z"),
        good(event_id="bad", quantity=0),
    ]
    batch = D.batch_read(
        events,
        tz=zone,
        earliest_day=dt.date(2026, 4, 1),
        at=AT,
        period_start_of=lambda day: day.replace(day=1),
    )
    expected_day = dt.datetime(2026, 4, 30, 23, 30, tzinfo=dt.UTC).astimezone(zone).date()
    assert list(batch.firsts) == ["a", "soon"]
    event, day, start = batch.firsts["a"]
    assert (event.index, day, start) == (0, expected_day, expected_day.replace(day=1))
    assert batch.repeats == [(2, "a")]
    assert [(e.index, e.code) for e in batch.refused] == [
        (1, "timestamp_too_old"),
        (4, "timestamp_in_future"),
        (5, "invalid_quantity"),
    ]
