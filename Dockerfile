# Image of Seed Authority: CPU by default.
#   docker build -t seed-authority .
#   docker run --rm -p 8000:8000 seed-authority
# A GPU authority (torch-cuda generated on the GPU, normal included): a CUDA torch build,
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t seed-authority-gpu .
#   docker run --rm --gpus all -p 8000:8000 seed-authority-gpu

# Build stage: compiles the C jump-ahead kernel into a wheel.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch from its CPU index by default: the default PyPI wheel is a multi-GB CUDA build. The
# version is the one pyproject.toml pins (2.13.0+cpu, or +cuXXX, satisfies ==2.13.0).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX}" torch==2.13.0

COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
 && useradd --system --uid 10001 --no-create-home authority

USER authority
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]

# The README's server command, listening on all interfaces of the container.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
