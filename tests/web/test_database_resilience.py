"""Lost database connections: the next request of every web thread succeeds (issue 21, finding 3).

A real HTTP server in this process serves the whole Django stack (WSGIHandler: middleware,
request signals) from one long-lived thread, as a gunicorn gthread does, keeping its database
connection between requests (CONN_MAX_AGE). A second connection then terminates every other
backend of the test database with pg_terminate_backend, as a database restart or failover
would. With CONN_HEALTH_CHECKS (config/settings/base.py: database()) the thread pings its
kept connection before the next request's first query and reconnects; without it, that
request answered 500.
"""

import http.client
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections
from django.test import Client

from tests.factories import UserFactory


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def one_thread_server(transactional_db, monkeypatch):
    """(port, stop): the app served by one thread that keeps its database connection."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    server = make_server("127.0.0.1", 0, WSGIHandler(), handler_class=QuietHandler)

    def serve():
        try:
            server.serve_forever()
        finally:
            connections.close_all()  # this thread's kept connection, before the database is dropped

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def get(port: int, path: str, cookie: str) -> int:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        client.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
        return client.getresponse().status
    finally:
        client.close()


def terminate_other_backends() -> int:
    """From a connection of its own, end every backend of the test database but this test's."""
    own_pid = connection.cursor().connection.info.backend_pid
    with psycopg.connect(
        host=connection.settings_dict["HOST"] or "127.0.0.1",
        port=connection.settings_dict["PORT"] or 5432,
        user=connection.settings_dict["USER"] or "postgres",
        password=connection.settings_dict["PASSWORD"] or None,
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    ) as killer:
        rows = killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
            [own_pid],
        ).fetchall()
    return sum(1 for (terminated,) in rows if terminated)


@pytest.mark.parametrize(("health_checks", "first_status_after"), [(True, 200), (False, 500)])
def test_the_next_requests_succeed_after_the_servers_connections_are_terminated(
    one_thread_server, monkeypatch, health_checks, first_status_after
):
    """Signed in (the session and the user are read from the database on every request), the
    page answers 200; every server connection is terminated; with health checks on, the next
    requests answer 200 at once. The run without them shows what the setting is for: the
    first request after answered 500."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", health_checks)
    port = one_thread_server
    browser = Client()
    browser.force_login(UserFactory())
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    assert get(port, "/", cookie) == 200

    assert terminate_other_backends() >= 1, "the server thread kept no connection to terminate"

    assert [get(port, "/", cookie) for _ in range(3)] == [first_status_after, 200, 200]
