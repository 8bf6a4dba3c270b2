"""scim2-tester (the SCIM RFCs compliance checker) against our live /scim/v2/ endpoint.

The server runs in pytest-django's live_server thread on a real PostgreSQL database; the
checker talks to it over HTTP with an organization's bearer token, discovers it through
ServiceProviderConfig, Schemas and ResourceTypes, then creates, reads, lists, replaces,
patches and deletes Users and Groups. Its result line is printed; every check must pass
(or be skipped by the checker itself). docs/identity.md, "SCIM compliance", lists the
result.

The checker makes up addresses at random domains (`<uuid>@<uuid>.com`), and we create
logins only in domains the organization proved (issue 19): its client moves the
addresses of each User it creates into the organization's verified domain, on the very
object the checker then compares our answers with.
"""

from collections import Counter

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from .support import organization_with_seats, scim_token, verify_domain

FAILING = {Status.ERROR, Status.CRITICAL}
DOMAIN = "compliance.example"


class VerifiedDomainClient(SyncSCIMClient):
    """Creates Users with their addresses in `DOMAIN` (the local parts stay unique)."""

    def create(self, target=None, resource=None, **kwargs):
        for candidate in (target, resource):
            for email in getattr(candidate, "emails", None) or []:
                if email.value:
                    email.value = f"{email.value.partition('@')[0]}@{DOMAIN}"
        return super().create(target, resource, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_scim2_tester_passes_against_the_live_endpoint(live_server, dns_zone, frozen_clock):
    organization, _subscription, _owner = organization_with_seats(included_seats=1000, max_seats=None)
    verify_domain(organization, DOMAIN, dns_zone)
    secret = scim_token(organization)
    with httpx2.Client(
        base_url=f"{live_server.url}/scim/v2", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    ) as http:
        results = check_server(VerifiedDomainClient(http))

    counts = Counter(result.status.name for result in results)
    print(
        f"\nscim2-tester: {len(results)} checks, "
        + ", ".join(f"{name.lower()} {count}" for name, count in sorted(counts.items()))
    )
    failures = [
        f"{result.resource_type or ''} {result.title}: {result.reason}"
        for result in results
        if result.status in FAILING
    ]
    for failure in failures:
        print("  FAIL", failure)
    for result in results:
        if result.status == Status.SKIPPED:
            print(f"  skipped {result.resource_type or ''} {result.title}: {result.reason}")
    assert not failures
