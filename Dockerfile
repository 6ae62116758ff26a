# plugbot: slim image, non-root, config mountable at /app/config.yaml.
FROM python:3.11-slim-bookworm

# pg_dump refuses a server newer than itself, and the SQL a newer pg_restore writes may not load
# into an older server: the client tools must be those of the server's major version. Build with
# --build-arg PG_MAJOR=<your server's major version> (13-17); see docs/deployment.md.
ARG PG_MAJOR=17

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

# postgresql-client-${PG_MAJOR} comes from the PostgreSQL project's apt repository (Debian itself
# ships one major version only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
         https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
         > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && apt-get purge -y curl && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 plugbot
WORKDIR /app

COPY setup.cfg pyproject.toml README.md ./
COPY framework ./framework
COPY plugins ./plugins
RUN pip install .
COPY config.yaml ./config.yaml
# webhook mode: `run` starts gunicorn with the same settings; this file is for running it by hand
COPY gunicorn.conf.py ./gunicorn.conf.py

# Both volumes belong to the bot's user: Docker copies this ownership into a new named volume.
RUN mkdir -p /app/data /app/backups && chown -R plugbot:plugbot /app/data /app/backups
USER plugbot

# SQLite lives in data/ unless DATABASE_URL points at PostgreSQL; `backup` writes to backups/.
VOLUME ["/app/data", "/app/backups"]
EXPOSE 8080

# The database and Redis answer, and the bot's heartbeat is fresh (docs/deployment.md, "Health").
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "framework", "health"]

# SIGTERM: an idle bot stops at once, a busy one after the updates in hand. Give it the grace
# docs/deployment.md advises (docker stop -t 30, compose stop_grace_period: 30s).
STOPSIGNAL SIGTERM

CMD ["python", "-m", "framework", "run"]
