# synchub hub image (see compose.yaml). The Ignite nodes use apacheignite/ignite:2.17.0.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
RUN pip install . && useradd --system --uid 10001 synchub

USER synchub
EXPOSE 8000
CMD ["synchub", "serve", "--config", "/etc/synchub/synchub.toml"]
