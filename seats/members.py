"""What the members page shows of seats: reads for organizations, which imports no other app
and reaches this module through `organizations.membership_entry.membership_seats()`.

Plain dataclasses, no formatting: the page's selector (organizations.selectors.members_page)
turns them into text. The writes are in seats.services.
"""

from dataclasses import dataclass

from billing.selectors import seat_summary
from organizations.models import Organization


@dataclass(frozen=True)
class SeatCount:
    used: int  # members holding a seat
    total: int  # seats included in the plan or paid for


def seat_count(*, organization: Organization) -> SeatCount | None:
    """Seats used of seats available; None without a subscription (no seats to count)."""
    summary = seat_summary(organization=organization)
    if summary is None:
        return None
    return SeatCount(used=summary.members, total=summary.seats)
