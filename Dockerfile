FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker worker
COPY classifier classifier
COPY models models
COPY templates templates
RUN pip install --no-cache-dir -e '.[postgres,redis]'
# jieba's dictionary cache is built once here, not by every worker at start.
ENV TRIAGE_CACHE_DIR=/opt/triage-cache
RUN python -c "from classifier import text; text.warm_up()" && chmod -R a+rX /opt/triage-cache
USER nobody
