# KI-Lernbegleiter: one image for the app and (same chromadb version as the client) the Chroma server.
# Build: docker compose build   (see docs/deploy.md; not built on the development machine, which has no daemon)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LB_DATA_DIR=/data ANONYMIZED_TELEMETRY=False HF_HUB_OFFLINE=1

WORKDIR /app
# dependencies first (cached layer), then the sources; an editable install keeps corpus/, prompts/ and ui/
# where the code looks for them (next to the packages)
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY ingestion ./ingestion
COPY ui ./ui
RUN pip install -e '.[postgres]'
COPY prompts ./prompts
COPY corpus ./corpus

RUN useradd --system --uid 10001 --home /app lernbegleiter && mkdir -p /data /chroma \
    && chown lernbegleiter /data /chroma
USER lernbegleiter
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)" || exit 1
CMD ["lernbegleiter", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
