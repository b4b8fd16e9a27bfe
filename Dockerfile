# One image for web, worker and beat (docker-compose.yml runs it three ways).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PULSE_PRODUCTION=1

WORKDIR /app
RUN useradd --create-home --uid 1000 pulse

COPY pyproject.toml README.md ./
COPY config ./config
COPY surveys ./surveys
COPY analytics ./analytics
RUN pip install --upgrade pip && pip install .

COPY manage.py ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings to load; the real SECRET_KEY comes from the environment at run time.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0

USER pulse
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
