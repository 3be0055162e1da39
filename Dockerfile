FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# Pango and a font for the invoice PDFs (WeasyPrint).
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings to load; these values exist only for this build step.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build python manage.py collectstatic --noinput
RUN useradd --create-home costledger && mkdir -p /app/media && chown costledger /app/media
USER costledger
EXPOSE 8000
CMD ["gunicorn", "costledger.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
