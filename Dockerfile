# One image for every twinwear service; the service module is the argument, e.g.
#   docker run twinwear services.ingestion      (the Helm chart sets args per Deployment)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen
WORKDIR /app

# Fixed numeric UID/GID so Kubernetes can verify runAsNonRoot (chart: podSecurityContext).
RUN groupadd --system --gid 10001 twinwear \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin twinwear

# Dependencies first so this layer is reused until requirements.txt changes. Dropped: the
# local-Triton server (nvidia-pytriton, large; Triton runs separately) and dev-only tools.
COPY requirements.txt /tmp/requirements.txt
RUN grep -viE '^[[:space:]]*(nvidia-pytriton|pytest|pytest-timeout|ruff)[[:space:]]*([=<>!~;]|$)' \
      /tmp/requirements.txt > /tmp/requirements-image.txt \
 && python -m venv /opt/venv \
 && pip install -r /tmp/requirements-image.txt \
 && rm /tmp/requirements*.txt

# Protobuf/gRPC code is generated here from protos/ (same command as infra/bootstrap.sh),
# never copied from the host's gen/.
COPY protos/ protos/
COPY infra/gen-protos.sh infra/gen-protos.sh
RUN infra/gen-protos.sh python /app

COPY twinwear_runtime/ twinwear_runtime/
COPY twinwear_contracts/ twinwear_contracts/
COPY twinwear_body/ twinwear_body/
COPY services/ services/
# Byte-compile now: at runtime the root filesystem is read-only.
RUN python -m compileall -q gen twinwear_runtime twinwear_body services

USER 10001:10001

# No CMD (setting ENTRYPOINT clears the base image's): the service module must be given.
ENTRYPOINT ["python", "-m"]
