# genrekit HTTP service: slim Python, CPU-only torch, the musicnn wheel for its weights, non-root user.
#
#   docker build -t genrekit .
#   docker run -p 9698:9698 genrekit                                   # pretrained musicnn tagger
#   docker run -p 9698:9698 -v $PWD/model:/models/mine:ro -e GENREKIT_MODEL=/models/mine genrekit
#
# See docs/service.md for every setting.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
# Set to 1 to decode m4a/aac/webm/wma uploads (adds ffmpeg, ~100 MB); without it they get 415.
ARG WITH_FFMPEG=0

# MALLOC_ARENA_MAX: glibc creates up to eight malloc arenas per core for threads that allocate at the
# same time; with inference and upload threads that only inflates resident memory: two are enough.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN if [ "$WITH_FFMPEG" = "1" ]; then \
        apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app

# CPU-only torch first (its own index; a layer that survives source changes).
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"

COPY pyproject.toml README.md ./
COPY src ./src
# The package and its dependencies (torch is already satisfied), gunicorn as the process manager, and
# musicnn 0.1.0 for the weights it ships: without its deps (they pin TensorFlow 1 and numpy<1.17).
RUN pip install . "gunicorn>=22" \
 && pip install --no-deps musicnn==0.1.0 \
 && rm -rf /app/src

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin genrekit
USER genrekit
WORKDIR /home/genrekit

# GENREKIT_MODEL: bundle directory/zip inside the container, or empty for the pretrained musicnn tagger.
# WEB_CONCURRENCY: gunicorn worker processes (each loads the model once).
ENV GENREKIT_MODEL="" \
    GENREKIT_MAX_UPLOAD_MB=50 \
    GENREKIT_MAX_IN_FLIGHT=2 \
    GENREKIT_MAX_QUEUE=64 \
    GENREKIT_MAX_DURATION_S=1800 \
    WEB_CONCURRENCY=2 \
    GUNICORN_CMD_ARGS="--bind 0.0.0.0:9698 --timeout 180 --graceful-timeout 30 --access-logfile -"

EXPOSE 9698

# /ready answers 200 once the worker has loaded its model (musicnn takes a while on a small CPU).
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9698/ready', timeout=4).status != 200)"]

CMD ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "genrekit.service.app:create_app_from_env()"]
