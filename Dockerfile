# rtcc in a container: `docker compose up` runs Redis and `rtcc serve` (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY rtcc ./rtcc
COPY simulators ./simulators
COPY load_tests ./load_tests
COPY scenarios ./scenarios
RUN pip install --no-cache-dir . \
    && useradd --system --create-home --home-dir /home/rtcc rtcc
USER rtcc

# Inside the compose network the service must listen beyond loopback; the compose file publishes
# the port on the host's 127.0.0.1 only.
EXPOSE 8080
CMD ["rtcc", "serve", "--host", "0.0.0.0", "--port", "8080"]
