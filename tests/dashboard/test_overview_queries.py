"""The overview costs a constant number of SQL queries whatever the organization's size.

Issue 7: at most 15, with 1,000 members and 500 invoices. The usage meters read the rollups,
never the raw events, so the number of events does not matter either (bench/overview_bench.py
times the page with a million of them).
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboard.support import grow

pytestmark = pytest.mark.django_db

MAX_QUERIES = 15


def count_overview(client, email: str) -> int:
    client.force_login(get_user_model().objects.get(username=email))
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/o/nordlys/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("email", ["owner@nordlys.example", "member@nordlys.example"])
def test_overview_queries_do_not_grow_with_the_organization(
    client, nordlys, email, django_assert_max_num_queries
):
    small = count_overview(client, email)
    grow(nordlys, members=1000, invoices=500)
    large = count_overview(client, email)
    assert large == small, (small, large)
    print(f"overview: {large} queries")
    client.force_login(get_user_model().objects.get(username=email))
    with django_assert_max_num_queries(MAX_QUERIES):
        page = client.get("/o/nordlys/").content.decode()
    assert "1.0K / 10" in page  # the seats meter counts all 1,004 members
    if email.startswith("owner"):
        assert page.count("invoice-amount") == 5  # five latest of 503
