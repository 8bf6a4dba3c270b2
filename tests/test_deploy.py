"""The production shape: docker-compose.yml, Dockerfile, .env.example, settings from the environment.

No Docker engine runs the suite, so the compose file is checked by parsing it; Django's own
deployment checks run in a subprocess against config.settings.production.
"""

import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
TEST_DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seatbill")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def environment(service: dict) -> dict[str, str]:
    """A service's `environment`, whether written as a mapping or as a list of NAME=value."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


# ---------- docker-compose.yml ----------


def test_compose_has_the_six_services(compose):
    assert set(compose["services"]) == {"proxy", "web", "worker", "beat", "postgres", "redis"}
    assert compose["services"]["postgres"]["image"] == "postgres:16"
    assert compose["services"]["redis"]["image"] == "redis:7"
    assert re.fullmatch(
        r"nginx:[\d.]+(-alpine)?", compose["services"]["proxy"]["image"]
    )  # the official image


def test_the_proxy_alone_is_published_and_runs_the_repositorys_config(compose):
    """Clients reach gunicorn only through nginx (deploy/nginx.conf), which spreads their
    kept-alive connections' requests over the workers (docs/performance.md)."""
    proxy, web = compose["services"]["proxy"], compose["services"]["web"]
    assert proxy["ports"] == ["${WEB_PORT:-8000}:8080"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["depends_on"]["web"] == {"condition": "service_healthy"}
    assert "ports" not in web and web["expose"] == ["8000"]
    nginx_conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server web:8000 resolve;" in nginx_conf and "listen 8080;" in nginx_conf
    assert "resolver 127.0.0.11" in nginx_conf  # a recreated web container is followed, not lost
    assert "127.0.0.1:8081" in nginx_conf and "8081" in " ".join(proxy["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["proxy", "web", "worker", "beat", "postgres", "redis"])
def test_every_service_has_a_healthcheck(compose, name):
    healthcheck = compose["services"][name]["healthcheck"]
    test = healthcheck["test"]
    assert test and test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1
    for key in ("interval", "timeout", "retries"):
        assert key in healthcheck


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_run_production_settings(compose, name):
    service = compose["services"][name]
    env = environment(service)
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert re.fullmatch(r"postgres://[^@]+@postgres:5432/\S+", env["DATABASE_URL"])
    assert env["MEDIA_ROOT"] == "/app/media"
    assert "SECRET_KEY" not in env  # from .env, never written in the compose file
    env_files = service["env_file"]
    assert ".env" in ([env_files] if isinstance(env_files, str) else env_files)
    assert service["build"] == "."


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(compose, name):
    depends_on = compose["services"][name]["depends_on"]
    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["redis"] == {"condition": "service_healthy"}
    for dependency in depends_on.values():
        assert dependency["condition"] == "service_healthy"


def test_commands(compose):
    services = compose["services"]
    web = command_text(services["web"])
    assert "collectstatic --no-input" in web
    assert "gunicorn -c config/gunicorn.py config.wsgi:application" in web
    assert web.index("collectstatic") < web.index("gunicorn")
    assert "celery -A config worker" in command_text(services["worker"])
    assert "celery -A config beat" in command_text(services["beat"])


def test_named_volumes_for_media_and_postgres_data(compose):
    assert {"media", "postgres-data"} <= set(compose["volumes"])
    assert "media:/app/media" in compose["services"]["web"]["volumes"]
    assert "media:/app/media" in compose["services"]["worker"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_postgres_credentials_come_from_the_env_file(compose):
    env = environment(compose["services"]["postgres"])
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    for name in APP_SERVICES:
        assert "${POSTGRES_PASSWORD" in environment(compose["services"][name])["DATABASE_URL"]


# ---------- Dockerfile, .dockerignore ----------


def test_dockerfile():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"):
        assert package in dockerfile
    assert "pip install -c constraints.txt ." in dockerfile
    assert 'CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"' in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "db.sqlite3", "media", "staticfiles"} <= ignored


# ---------- .env.example ----------


def names_in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M))


def test_env_example_lists_every_variable_the_settings_read():
    read = set()
    for module in ("base.py", "production.py"):
        source = (ROOT / "config" / "settings" / module).read_text()
        read |= set(re.findall(r"\benv(?:_bool|_list)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS"} <= read
    assert read - names_in_env_example() == set()


def test_env_example_lists_every_variable_the_compose_file_interpolates():
    compose_text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", compose_text))
    assert "POSTGRES_PASSWORD" in interpolated
    assert interpolated - names_in_env_example() == set()


def test_env_example_holds_no_secret():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.M))
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert values[name] == ""


# ---------- Vendored front-end: pinned, checked, no CDN ----------


def test_vendored_files_match_versions_txt():
    vendor = ROOT / "static" / "vendor"
    rows = [line.split() for line in (vendor / "VERSIONS.txt").read_text().splitlines() if line[:1].isalpha()]
    files = {row[2]: (row[0], row[1], row[3]) for row in rows}
    htmx_package, htmx_version, _ = files["htmx.min.js"]
    chart_package, chart_version, _ = files["chart.umd.min.js"]
    assert htmx_package == "htmx.org" and re.fullmatch(r"2\.\d+\.\d+", htmx_version)
    assert chart_package == "chart.js" and re.fullmatch(r"4\.\d+\.\d+", chart_version)
    for name, (_package, _version, sha256) in files.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == sha256, name


def test_no_cdn_in_templates_or_static():
    cdn = re.compile(
        r"(cdn\.|unpkg\.com|jsdelivr|cdnjs|googleapis\.com|<script[^>]+src=\"(https?:)?//)", re.I
    )
    offenders = []
    for folder in ("templates", "static"):
        for path in (ROOT / folder).rglob("*"):
            if "vendor" in path.relative_to(ROOT).parts or path.suffix not in {".html", ".css", ".js"}:
                continue
            if cdn.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# ---------- Settings from the environment ----------


def clean_environ(**overrides: str) -> dict[str, str]:
    """os.environ without anything the settings read, plus `overrides`.

    DJANGO_ALLOW_ASYNC_UNSAFE goes too: the browser tests set it for their live server, and
    a production process never has it (check --deploy refuses it).
    """
    drop = names_in_env_example() | {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(overrides)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"), "port": db.get("PORT"),
    "user": db.get("USER"), "conn_max_age": db.get("CONN_MAX_AGE"),
    "broker": settings.CELERY_BROKER_URL, "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "media_root": str(settings.MEDIA_ROOT), "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def test_base_settings_read_database_url_and_celery_broker_url():
    result = run_python(
        PRINT_SETTINGS,
        clean_environ(
            DJANGO_SETTINGS_MODULE="config.settings.base",
            DATABASE_URL="postgres://billing:s3cret@db.internal:6543/seatbill_prod",
            DB_CONN_MAX_AGE="60",
            CELERY_BROKER_URL="redis://redis:6379/0",
            MEDIA_ROOT="/app/media",
            ALLOWED_HOSTS="billing.example.com, .example.org",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.postgresql",
        "name": "seatbill_prod",
        "host": "db.internal",
        "port": 6543,
        "user": "billing",
        "conn_max_age": 60,
        "broker": "redis://redis:6379/0",
        "eager": False,
        "media_root": "/app/media",
        "allowed_hosts": ["billing.example.com", ".example.org"],
    }


def test_base_settings_without_environment_use_sqlite_and_eager_celery():
    result = run_python(PRINT_SETTINGS, clean_environ(DJANGO_SETTINGS_MODULE="config.settings.base"))
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["engine"] == "django.db.backends.sqlite3"
    assert settings["name"] == str(ROOT / "db.sqlite3")
    assert settings["broker"] is None
    assert settings["eager"] is True
    assert settings["media_root"] == str(ROOT / "media")


def test_an_empty_broker_url_also_runs_celery_eagerly():
    result = run_python(
        PRINT_SETTINGS, clean_environ(DJANGO_SETTINGS_MODULE="config.settings.base", CELERY_BROKER_URL="")
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["broker"] is None
    assert json.loads(result.stdout)["eager"] is True


@pytest.mark.parametrize("secret_key", [None, "", "too-short"])
def test_production_settings_refuse_a_missing_or_short_secret_key(secret_key):
    overrides = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DATABASE_URL": TEST_DATABASE_URL}
    if secret_key is not None:
        overrides["SECRET_KEY"] = secret_key
    result = run_python(PRINT_SETTINGS, clean_environ(**overrides))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_refuse_a_missing_redis_url():
    """The brute-force limits must be counted where every web process sees them."""
    result = run_python(
        PRINT_SETTINGS,
        clean_environ(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            SECRET_KEY=secrets.token_urlsafe(48),
            DATABASE_URL=TEST_DATABASE_URL,
        ),
    )
    assert result.returncode != 0
    assert "REDIS_URL must be set" in result.stderr


@pytest.mark.parametrize("site_url", [None, "", "http://127.0.0.1:8000"])
def test_production_settings_refuse_a_missing_or_plain_http_site_url(site_url):
    """Issue 22: every e-mail link starts with SITE_URL; production never falls back to a port."""
    overrides = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": "redis://127.0.0.1:6379/1",
    }
    if site_url is not None:
        overrides["SITE_URL"] = site_url
    result = run_python(PRINT_SETTINGS, clean_environ(**overrides))
    assert result.returncode != 0
    assert "SITE_URL must be set" in result.stderr


def test_check_deploy_passes_with_production_settings():
    secret_key = secrets.token_urlsafe(48)
    assert len(secret_key) == 64
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean_environ(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            SECRET_KEY=secret_key,
            ALLOWED_HOSTS="example.com",
            DATABASE_URL=TEST_DATABASE_URL,
            REDIS_URL="redis://127.0.0.1:6379/1",
            SITE_URL="https://example.com",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout, output
    assert "WARNING" not in output.upper(), output


def test_documents_go_to_their_own_queue_which_the_worker_reads(compose):
    """PDFs and their e-mails wait in `documents`, never among renewals in the default queue."""
    from celery.app.routes import prepare

    from config.settings import base

    routes = prepare(base.CELERY_TASK_ROUTES)

    def queue_of(task_name):
        return next((found["queue"] for route in routes if (found := route(task_name))), "celery")

    assert queue_of("invoices.document_deliver") == queue_of("invoices.document_pdf_render") == "documents"
    assert (
        queue_of("billing.tasks.renew_subscriptions") == queue_of("payments.tasks.invoice_charge") == "celery"
    )
    assert "--queues celery,documents" in command_text(compose["services"]["worker"])


@pytest.mark.parametrize(
    ("tuning", "expected"), [(None, ["True", "100000", "True"]), ("0", ["False", "700", "False"])]
)
def test_a_web_worker_tunes_the_collector_unless_told_not_to(tuning, expected):
    """config/gunicorn.py's post_worker_init hook imports every view, freezes what start-up
    loaded out of the collector's walks and collects every 100,000 allocations; WEB_GC_TUNING=0
    leaves Python's defaults. Called as gunicorn calls it, once the worker loaded config.wsgi."""
    probe = (
        "import gc, runpy, sys; import config.wsgi; "
        "hooks = runpy.run_path('config/gunicorn.py'); hooks['post_worker_init'](None); "
        "print(gc.get_freeze_count() > 10_000, gc.get_threshold()[0], 'api.usage' in sys.modules); "
        "print(hooks['worker_class'], hooks['threads'])"
    )
    overrides = dict(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=TEST_DATABASE_URL,
        REDIS_URL="redis://127.0.0.1:6379/1",
        SITE_URL="https://example.com",
    )
    if tuning is not None:
        overrides["WEB_GC_TUNING"] = tuning
    result = run_python(probe, clean_environ(**overrides))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [*expected, "gthread", "2"]


@pytest.mark.parametrize(
    ("binding", "threshold", "expected"),
    [(None, None, [True, 5]), (None, "", [True, None]), ("false", "2", [False, 2]), ("1", None, [True, 5])],
)
def test_postgresql_binds_parameters_server_side_and_prepares_what_repeats(binding, threshold, expected):
    """Django's server_side_binding option, on unless DB_SERVER_SIDE_BINDING says false;
    statements are prepared after DB_PREPARE_THRESHOLD uses (default 5), empty: never, for
    poolers that can't keep prepared statements."""
    overrides = {"DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": TEST_DATABASE_URL}
    if binding is not None:
        overrides["DB_SERVER_SIDE_BINDING"] = binding
    if threshold is not None:
        overrides["DB_PREPARE_THRESHOLD"] = threshold
    probe = (
        "import django, json; from django.conf import settings; django.setup(); "
        "options = settings.DATABASES['default']['OPTIONS']; "
        "print(json.dumps([options.get('server_side_binding'), options.get('prepare_threshold')]))"
    )
    result = run_python(probe, clean_environ(**overrides))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected
