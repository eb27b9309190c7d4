# groupbot service image: slim Python, non-root, migrations then the server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GROUPBOT_CONFIG=/app/config.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY rules ./rules
COPY handlers ./handlers
COPY storage ./storage
# The chat-archive extra ships Tencent's native SDK for linux x86_64/arm64. Leaderboard charts
# use the CJK font bundled in bot/fonts/, so the image needs no font packages.
RUN pip install '.[archive]'
COPY config.yaml ./config.yaml

RUN useradd --create-home --uid 10001 groupbot \
    && mkdir -p /app/data \
    && chown groupbot:groupbot /app/data
USER groupbot

# SQLite under /app/data by default; set DATABASE_URL=postgresql://... in production.
VOLUME ["/app/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

CMD ["sh", "-c", "groupbot db upgrade && exec groupbot run --host 0.0.0.0 --port 8000"]
