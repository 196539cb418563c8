# syntax=docker/dockerfile:1
# The kura image: web, worker and migrate all run from it (see docker-compose.yml).

# Build stage: install the project into a virtual environment, so the runtime stage gets
# the installed packages without pip's caches or the source tree.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/kura
WORKDIR /src
COPY . .
RUN /opt/kura/bin/pip install .

FROM python:3.11-slim-bookworm
# OCR engine with Japanese data, PDF rasteriser (pdftoppm of poppler), Japanese fonts
# for rendering reports and page images, and tini to forward signals and reap children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        tesseract-ocr \
        tesseract-ocr-jpn \
        poppler-utils \
        fonts-noto-cjk \
        fonts-ipaexfont \
        fonts-klee \
        fonts-seto \
        tini \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid, so volume ownership stays the same across rebuilds.
RUN useradd --system --uid 10001 --user-group --create-home \
        --home-dir /var/lib/kura --shell /usr/sbin/nologin kura

COPY --from=build /opt/kura /opt/kura

ENV PATH=/opt/kura/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KURA_DATA_DIR=/var/lib/kura \
    OMP_THREAD_LIMIT=1
# OMP_THREAD_LIMIT=1: pages are already processed in parallel by worker processes;
# tesseract's own OpenMP threads on top of that only oversubscribe the CPUs.

USER kura
WORKDIR /var/lib/kura
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["kura", "web", "--host", "0.0.0.0", "--port", "8080"]
