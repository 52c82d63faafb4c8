# Two images from one Dockerfile (skaffold.yaml builds both; the chart picks one per component):
#   docker build --target service -t twinwear .          ingestion, the PIM aggregator, publisher
#   docker build --target render  -t twinwear-render .   twin_builder, render, Triton and its models
# Only the render image has anny and torch (requirements/render.txt); the service image installs
# requirements/service.txt. The service module is the argument, e.g.
#   docker run twinwear services.ingestion      (the Helm chart sets args per Deployment)
FROM python:3.11-slim AS base

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
      --shell /usr/sbin/nologin twinwear \
 && python -m venv /opt/venv

# The application: protobuf/gRPC code generated here from protos/ (same command as
# infra/bootstrap.sh, never the host's gen/), byte-compiled now because at runtime the root
# filesystem is read-only. Both images copy /app from this stage.
FROM base AS app
COPY requirements/service.txt /tmp/service.txt
RUN pip install "$(grep -iE '^grpcio-tools==' /tmp/service.txt)"
COPY protos/ protos/
COPY infra/gen-protos.sh infra/gen-protos.sh
RUN infra/gen-protos.sh python /app
COPY twinwear_runtime/ twinwear_runtime/
COPY twinwear_contracts/ twinwear_contracts/
COPY twinwear_body/ twinwear_body/
COPY services/ services/
RUN python -m compileall -q gen twinwear_runtime twinwear_contracts twinwear_body services

FROM base AS service
# Dependencies first so this layer is reused until the requirements change.
COPY requirements/service.txt /tmp/requirements/service.txt
RUN pip install -r /tmp/requirements/service.txt && rm -rf /tmp/requirements
COPY --from=app /app /app
USER 10001:10001
# No CMD (setting ENTRYPOINT clears the base image's): the service module must be given.
ENTRYPOINT ["python", "-m"]

FROM base AS render
# Mesa's EGL (llvmpipe) renders on CPU; on a GPU node the NVIDIA container toolkit adds the
# driver's EGL (NVIDIA_DRIVER_CAPABILITIES=all). ffmpeg encodes the turntables (MP4).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/ /tmp/requirements/
# Triton Inference Server 2.51, the build the local stack runs (bundled in nvidia-pytriton, with
# CUDA; NGC's equivalent is nvcr.io/nvidia/tritonserver:24.10-py3, whose Python is 3.10). Laid out
# as in the wheel, so its RPATHs find the bundled libraries; its python backend stub for 3.11
# embeds this image's Python and finds the venv through `python3` on PATH.
RUN pip install -r /tmp/requirements/render.txt \
 && pip install --no-deps --target /opt/pytriton -r /tmp/requirements/triton.txt \
 && cp /opt/pytriton/pytriton/tritonserver/python_backend_stubs/3.11/triton_python_backend_stub \
      /opt/pytriton/pytriton/tritonserver/backends/python/ \
 && rm -rf /opt/pytriton/pytriton/tritonserver/python_backend_stubs /tmp/requirements
COPY --from=app /app /app
# The model repository as committed (KIND_CPU) and its KIND_GPU variant (chart: triton.gpu).
COPY infra/triton/models/ infra/triton/models/
RUN cp -r infra/triton/models infra/triton/models-gpu \
 && python -m services.render.model_io --kind gpu --repository infra/triton/models-gpu
# Caches (torch, warp) under the writable /tmp; anny's cache is ANNY_CACHE_DIR (chart: a volume).
ENV XDG_CACHE_HOME=/tmp/cache
USER 10001:10001
ENTRYPOINT ["python", "-m"]
