# rtcc in a container. docker-compose.yml runs every role from this one image: `rtcc serve
# --role hub|wall|analyzer`, `rtcc sim`, and the one-shot seeding (deploy/seed.sh).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY rtcc ./rtcc
COPY simulators ./simulators
COPY load_tests ./load_tests
COPY scenarios ./scenarios
COPY deploy ./deploy
# gcc only for the build of the compiled per-packet code (rtcc/compiled.py), then removed.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/rtcc rtcc \
    && mkdir -p /world && chown rtcc /world
USER rtcc

# Inside the compose network the services must listen beyond loopback; the compose file publishes
# the wall's port on the host's 127.0.0.1 only.
ENV RTCC_HOST=0.0.0.0
EXPOSE 8080
ENTRYPOINT []
CMD ["rtcc", "serve", "--port", "8080"]
