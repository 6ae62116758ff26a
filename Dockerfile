# plugbot: slim image, non-root, config mountable at /app/config.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 plugbot
WORKDIR /app

COPY setup.cfg pyproject.toml README.md ./
COPY framework ./framework
COPY plugins ./plugins
RUN pip install ".[charts]"
COPY config.yaml ./config.yaml

RUN mkdir -p /app/data && chown -R plugbot:plugbot /app/data
USER plugbot

# SQLite lives here unless DATABASE_URL points at PostgreSQL.
VOLUME ["/app/data"]
EXPOSE 8080

# The database (and Redis, when configured) answer.
HEALTHCHECK --interval=60s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-m", "framework", "health"]

CMD ["python", "-m", "framework", "run"]
