# The production image: web (gunicorn), worker and beat (Celery) all run it; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    MEDIA_ROOT=/app/media

# WeasyPrint (invoice and credit-note PDFs) needs Pango, HarfBuzz's subsetter and a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, pinned by constraints.txt, so a code change does not reinstall them.
# (pyproject.toml installs no packages of its own: the code runs from /app.)
COPY pyproject.toml constraints.txt ./
RUN pip install -c constraints.txt .

COPY --chown=app:app . .

# collectstatic runs at start (it needs SECRET_KEY, which only the running container has) and
# writes staticfiles/; media/ is the mount point of the media volume, which takes this ownership.
RUN mkdir -p /app/media /app/staticfiles && chown app:app /app/media /app/staticfiles

USER app

EXPOSE 8000

CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
