# Our image: web (gunicorn), Celery worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=whatsapp_saas.settings.base

WORKDIR /app
# Runtime set only; tests, lint, the sandbox and embedded services are in requirements-dev.txt.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to load; these throwaway values never reach a running container.
RUN SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home /app app \
    && mkdir -p /var/run/whatsapp-metrics \
    && chown -R app /app /var/run/whatsapp-metrics
USER app

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["gunicorn", "-c", "python:whatsapp_saas.gunicorn_conf", "whatsapp_saas.wsgi:application", \
     "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
