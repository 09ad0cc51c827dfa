# syntax=docker/dockerfile:1
#
# reconciler in a container: `reconciler run` as PID 1 (exec form, so SIGTERM from
# `docker stop` reaches Python, which finishes the PO in hand and exits 0 within 10 s),
# non-root uid 10001, state on a volume, JSON logs on the container's output,
# secrets from /run/secrets, HEALTHCHECK on /healthz.
#
#   docker build -t reconciler .
#   docker run -d --name reconciler \
#     -v reconciler-state:/var/lib/reconciler \
#     -v "$PWD/reconciler.toml:/etc/reconciler/reconciler.toml:ro" \
#     -e RECONCILER_CONFIG=/etc/reconciler/reconciler.toml \
#     -v "$PWD/secrets:/run/secrets:ro" \
#     -p 127.0.0.1:8787:8787 reconciler
#
# See docker-compose.example.yml for secrets and for running it as a sidecar, and
# docs/operate.md for the same with Podman.
#
# BASE: any Debian-like image with Python 3.11+ and pip (python:3.11-slim unless told). CI
# passes a base it makes itself with debootstrap, as no container registry is reachable there
# (.ci/image). What is installed is pinned, with hashes, by requirements.lock.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
# Only the project's own wheel: its dependencies come from the lock in the final stage.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${BASE}

# State and token store on the volume; secrets are read as $CREDENTIALS_DIRECTORY/<name>
# (luminous_api_token, qbo_client_secret, qbo_token_key), the same names systemd's
# LoadCredential= uses, so Docker/Compose secrets mounted at /run/secrets/<name> just work.
#
# The health server binds 127.0.0.1 by default because /healthz and /metrics carry no
# authentication. Inside a container that would make them unreachable from anything but the
# container itself: published ports (-p) and other containers (a Prometheus) connect to the
# container's own interface. The container's network namespace is the boundary here, so the
# image binds 0.0.0.0 through configuration, and you decide exposure with -p (prefer
# -p 127.0.0.1:8787:8787). As a sidecar sharing another container's network namespace, set
# RECONCILER_DAEMON__HEALTH_HOST=127.0.0.1 again (see docker-compose.example.yml).
# (TOKEN_STORE and CREDENTIALS_DIRECTORY are paths, not secrets.) MALLOC_ARENA_MAX=2, as in
# the systemd units: two malloc arenas, not one per thread, each keeping what its thread freed.
# hadolint ignore=DL3064
ENV PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECONCILER_STATE__PATH=/var/lib/reconciler/state.sqlite \
    RECONCILER_QBO__TOKEN_STORE=/var/lib/reconciler/tokens.json \
    RECONCILER_LOGGING__FORMAT=json \
    RECONCILER_DAEMON__HEALTH_HOST=0.0.0.0 \
    RECONCILER_DAEMON__HEALTH_PORT=8787 \
    CREDENTIALS_DIRECTORY=/run/secrets

RUN groupadd --system --gid 10001 reconciler \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/reconciler --shell /usr/sbin/nologin reconciler \
    && mkdir -p /var/lib/reconciler /etc/reconciler \
    && chown 10001:10001 /var/lib/reconciler \
    && chmod 0700 /var/lib/reconciler

# The dependencies first, exactly as locked (every file checked against its hash): this layer
# changes only with requirements.lock, so a rebuild after a code change reuses it.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --root-user-action=ignore --require-hashes --only-binary :all: \
       -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

# Then the project, with nothing more to resolve; `pip check` fails the build if the lock
# misses a dependency the project declares.
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --root-user-action=ignore --no-deps /wheels/*.whl \
    && rm -rf /wheels \
    && pip check

WORKDIR /var/lib/reconciler
USER 10001:10001
VOLUME ["/var/lib/reconciler"]
EXPOSE 8787
STOPSIGNAL SIGTERM

# No curl in slim images: Python asks /healthz (reconciler.web.probe, standard library only)
# and prints the daemon's own reason, which `docker inspect` shows for a failing check;
# exit 1 on a 503 or no answer. /healthz is answered on its own thread, never queued behind
# status page views, so a busy page does not get the container restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "reconciler.web.probe"]

ENTRYPOINT ["reconciler"]
CMD ["run"]
