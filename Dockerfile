FROM python:3.11-slim
# CJK fonts: the monthly report's charts carry Chinese labels.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker worker
COPY classifier classifier
COPY models models
COPY templates templates
RUN pip install --no-cache-dir -e '.[postgres,redis,report]'
# jieba's dictionary cache is built once here, not by every worker at start.
ENV TRIAGE_CACHE_DIR=/opt/triage-cache
RUN python -c "from classifier import text; text.warm_up()" && chmod -R a+rX /opt/triage-cache
# matplotlib needs a writable config directory; the worker runs as nobody.
ENV MPLCONFIGDIR=/tmp/matplotlib
# The storage volume (attachments, signing key, models) is mounted here; a fresh named volume
# takes this directory's owner, so the worker can write to it.
RUN mkdir -p /var/lib/triage && chown nobody:nogroup /var/lib/triage
USER nobody
