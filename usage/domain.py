"""Pure usage rules: reading one reported event, the accepted time window, summing a batch
per rollup key, entitlement arithmetic, alert thresholds and usage levels. No ORM, settings
or clock.
"""

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

AI_TOKENS, DOCUMENTS, AGENTS, SEATS = "ai_tokens", "documents", "agents", "seats"
REPORTED_METERS = (AI_TOKENS, DOCUMENTS, AGENTS)
ALL_METERS = (AI_TOKENS, DOCUMENTS, AGENTS, SEATS)
PERIOD_METERS = (AI_TOKENS,)  # summed over the billing period
COUNT_METERS = (DOCUMENTS, AGENTS)  # a current count: +n created, -n deleted

MAX_BATCH = 1000
MAX_EVENT_ID_LENGTH = 128
MAX_DIMENSION_LENGTH = 64
MAX_QUANTITY = 10**12
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
ALERT_THRESHOLDS = (80, 100)  # percent of the limit at which owners are e-mailed, once per period
# A meter's level, as the usage card colours it: amber from 80 % of its limit, red at 100 %
# and over, the points at which owners are e-mailed.
FINE, AMBER, RED = "", "amber", "red"
AMBER_FROM, RED_FROM = ALERT_THRESHOLDS


# Events and their errors are NamedTuples: a batch makes a thousand of them, and a frozen
# dataclass costs several times as much to build.
class Event(NamedTuple):
    index: int
    event_id: str
    meter: str
    quantity: int
    occurred_at: dt.datetime  # aware
    model: str
    action: str


# Builds an Event from a tuple in C: a NamedTuple's own constructor is a Python function,
# a measurable share of a 1,000-event batch.
_event = functools.partial(tuple.__new__, Event)


class EventError(NamedTuple):
    index: int
    event_id: str
    code: str
    message: str


def event_parse(raw, *, index: int) -> Event | EventError:
    """Read one reported event.

    Shape: {"event_id", "meter", "quantity", "timestamp", "dimensions": {"model", "action"}}.
    On the ingestion hot path (a thousand calls a request): plain checks, no helpers.
    """
    if not isinstance(raw, dict):
        return EventError(index, "", "invalid_event", "An event must be a JSON object.")
    event_id = raw.get("event_id")
    event_id = event_id.strip() if isinstance(event_id, str) else None
    if not event_id:
        return EventError(
            index, "", "missing_event_id", "event_id is required: a non-empty string you choose."
        )
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        return EventError(
            index,
            event_id[:MAX_EVENT_ID_LENGTH],
            "invalid_event_id",
            f"event_id is at most {MAX_EVENT_ID_LENGTH} characters.",
        )
    # PostgreSQL text can't hold U+0000: the whole batch would fail. (The other half of
    # organizations.text.storable, lone surrogates, never gets here: orjson refuses them.)
    if "\x00" in event_id:
        return EventError(
            index, event_id, "invalid_event_id", "event_id must not contain the NUL character (\\u0000)."
        )

    meter = raw.get("meter")
    if meter not in REPORTED_METERS:
        if meter == SEATS:
            return EventError(
                index,
                event_id,
                "meter_not_reportable",
                "Seats are counted from the team's members and are never reported.",
            )
        return EventError(
            index,
            event_id,
            "unknown_meter",
            f"meter must be one of {', '.join(REPORTED_METERS)}; got {meter!r}.",
        )

    quantity = raw.get("quantity")
    if type(quantity) is not int:  # bool is a subclass of int: refused here too
        return EventError(index, event_id, "invalid_quantity", "quantity must be a whole number.")
    if quantity > MAX_QUANTITY or quantity < -MAX_QUANTITY:
        return EventError(
            index, event_id, "invalid_quantity", f"quantity must be at most {MAX_QUANTITY:,} in size."
        )
    if quantity <= 0 and meter in PERIOD_METERS:
        return EventError(index, event_id, "invalid_quantity", f"{meter} quantity must be positive.")
    if quantity == 0:
        return EventError(
            index,
            event_id,
            "invalid_quantity",
            f"{meter} quantity is +n for created and -n for deleted; 0 changes nothing.",
        )

    timestamp = raw.get("timestamp")
    if not isinstance(timestamp, str):
        return EventError(
            index,
            event_id,
            "missing_timestamp",
            "timestamp is required: ISO 8601 with a time zone, e.g. 2026-05-01T12:00:00Z.",
        )
    try:
        occurred_at = dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return EventError(index, event_id, "invalid_timestamp", f"timestamp {timestamp!r} is not ISO 8601.")
    if occurred_at.tzinfo is None:  # fromisoformat gives None or a fixed offset, never a zone
        return EventError(index, event_id, "invalid_timestamp", "timestamp needs a time zone (Z or +hh:mm).")

    dimensions = raw.get("dimensions")
    if not dimensions:
        model = action = ""
    elif not isinstance(dimensions, dict):
        return EventError(
            index,
            event_id,
            "invalid_dimensions",
            'dimensions must be an object: {"model": ..., "action": ...}.',
        )
    else:
        model = dimensions.get("model", "")
        action = dimensions.get("action", "")
        if type(model) is not str or type(action) is not str:
            model = "" if model is None else model
            action = "" if action is None else action
        if (  # inline, on the hot path; _dimension_ok names the culprit
            type(model) is not str
            or type(action) is not str
            or len(model) > MAX_DIMENSION_LENGTH
            or len(action) > MAX_DIMENSION_LENGTH
            or "\x00" in model
            or "\x00" in action
        ):
            name = "action" if _dimension_ok(model) else "model"
            return EventError(
                index,
                event_id,
                "invalid_dimensions",
                f"dimensions.{name} must be text of at most {MAX_DIMENSION_LENGTH} characters,"
                " without the NUL character (\\u0000).",
            )
        model, action = model.strip(), action.strip()
    if occurred_at.tzinfo is not dt.UTC:  # "Z" and "+00:00" parse to dt.UTC itself: kept as is
        try:
            occurred_at = occurred_at.astimezone(dt.UTC)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is in the year 10000 in UTC
            return _outside_the_calendar(index, event_id, timestamp)
    return _event((index, event_id, meter, quantity, occurred_at, model, action))


def _outside_the_calendar(index: int, event_id: str, timestamp: str) -> EventError:
    return EventError(
        index,
        event_id,
        "invalid_timestamp",
        f"timestamp {timestamp!r} falls outside the years 1-9999 in UTC or in the organization's time zone.",
    )


def _dimension_ok(value) -> bool:
    return isinstance(value, str) and len(value) <= MAX_DIMENSION_LENGTH and "\x00" not in value


def window_check(
    event: Event, *, local_day: dt.date, earliest_day: dt.date, at: dt.datetime
) -> EventError | None:
    """Refuse events from before the previous period or more than 5 minutes in the future."""
    if local_day < earliest_day:
        return EventError(
            event.index,
            event.event_id,
            "timestamp_too_old",
            f"timestamp is before {earliest_day.isoformat()}, the start of the previous billing period; "
            "such usage can no longer be counted.",
        )
    if event.occurred_at > at + FUTURE_TOLERANCE:
        return EventError(
            event.index,
            event.event_id,
            "timestamp_in_future",
            "timestamp is more than 5 minutes in the future; check the sender's clock.",
        )
    return None


def local_day(instant: dt.datetime, tz: ZoneInfo) -> dt.date:
    return instant.astimezone(tz).date()


class BatchRead(NamedTuple):
    """A batch as read, before it is stored: what may be counted, and what may not."""

    # event id -> (event, local day, period start): each id's first occurrence in the batch
    firsts: dict[str, tuple[Event, dt.date, dt.date]]
    repeats: list[tuple[int, str]]  # (index, event id) of later occurrences in the batch
    refused: list[EventError]


def batch_read(
    events: list, *, tz: ZoneInfo, earliest_day: dt.date, at: dt.datetime, period_start_of
) -> BatchRead:
    """Read reported events: parse each, refuse those outside the accepted window (see
    `window_check`), give the rest their local day and usage period (`period_start_of(day)`),
    and keep each id's first occurrence.

    The ingestion hot path (a thousand events a request): the window is tested inline and
    `window_check` called only to word a refusal; UTC organizations skip the conversion.
    """
    firsts: dict = {}
    repeats: list = []
    refused: list = []
    period_starts: dict = {}
    latest = at + FUTURE_TOLERANCE
    in_utc = tz.key == "UTC"  # events are parsed into UTC
    parse, event_type = event_parse, Event
    for index, raw in enumerate(events):
        event = parse(raw, index=index)
        if type(event) is event_type:
            occurred = event.occurred_at
            if in_utc:
                day = occurred.date()
            else:
                try:
                    day = occurred.astimezone(tz).date()
                except OverflowError:  # the first or last hours of the calendar, in the organization's zone
                    refused.append(_outside_the_calendar(index, event.event_id, raw["timestamp"]))
                    continue
            if day >= earliest_day and occurred <= latest:
                if event.event_id in firsts:
                    repeats.append((index, event.event_id))
                else:
                    start = period_starts.get(day)
                    if start is None:
                        start = period_starts[day] = period_start_of(day)
                    firsts[event.event_id] = (event, day, start)
                continue
            event = window_check(event, local_day=day, earliest_day=earliest_day, at=at)
        refused.append(event)
    return BatchRead(firsts, repeats, refused)


@dataclass(frozen=True)
class Sums:
    """A batch summed per rollup key, each mapping in sorted key order (the upsert order)."""

    period: list[tuple[tuple[str, dt.date], int]]  # (meter, period_start) -> tokens
    counters: list[tuple[str, int]]  # meter -> change of the count
    daily: list[tuple[tuple[dt.date, str, str, str], int]]  # (day, meter, model, action) -> quantity


def batch_sums(rows: list[tuple[Event, dt.date, dt.date]]) -> Sums:
    """Sum (event, local day, period start) rows per rollup key; keys sorted so every
    connection locks rollup rows in the same order (no deadlocks)."""
    period: dict = defaultdict(int)
    counters: dict = defaultdict(int)
    daily: dict = defaultdict(int)
    for (_index, _event_id, meter, quantity, _occurred_at, model, action), day, start in rows:
        if meter in PERIOD_METERS:
            period[(meter, start)] += quantity
        else:
            counters[meter] += quantity
        daily[(day, meter, model, action)] += quantity
    return Sums(sorted(period.items()), sorted(counters.items()), sorted(daily.items()))


def thresholds_reached(*, used: int, limit: int | None) -> list[int]:
    """The alert thresholds (percent) that `used` has reached against `limit`."""
    if limit is None or limit <= 0:
        return []
    return [t for t in ALERT_THRESHOLDS if used * 100 >= t * limit]


def percent_used(*, used: int, limit: int | None) -> int | None:
    """Whole percent, rounded down (so 100 % means the limit is really reached); None when unlimited."""
    if limit is None:
        return None
    if limit <= 0:
        return 100 if used > 0 else 0
    return max(0, used) * 100 // limit


def usage_level(percent: int | None) -> str:
    """FINE, AMBER (from 80 %) or RED (at 100 % and over) for a whole percent of the limit
    (percent_used); unlimited meters (None) are fine."""
    if percent is None:
        return FINE
    if percent >= RED_FROM:
        return RED
    if percent >= AMBER_FROM:
        return AMBER
    return FINE


def allowed(*, used: int, limit: int | None, hard: bool, quantity: int) -> bool:
    """May `quantity` more be used? A hard limit says no once used + quantity passes the limit
    (and, for quantity 0, once the limit is reached); a soft limit always says yes."""
    if limit is None or not hard:
        return True
    if quantity <= 0:
        return used < limit
    return used + quantity <= limit


def cost_minor(*, tokens: int, price_per_1k_minor: Decimal) -> Decimal:
    """Exact cost of `tokens` in minor units (not rounded)."""
    return Decimal(tokens) * price_per_1k_minor / 1000


def round_minor(value: Decimal) -> int:
    """Round minor units once, half up."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
