# syntax=docker/dockerfile:1
# One image for every Python process of Open Scouts: `scouts migrate`, `scouts serve`
# (the API) and `scouts worker`. docker-compose.yml picks the command per service.

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 scouts \
    && useradd --system --uid 10001 --gid scouts --home-dir /app --shell /usr/sbin/nologin scouts

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so editing code does not
# reinstall them: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY deploy/healthcheck.py /usr/local/bin/scouts-healthcheck

# The code itself. migrations/ stays beside the packages in /app (the working
# directory), where `scouts migrate` finds it.
# alembic.ini* matches nothing harmlessly if the Alembic config lives elsewhere.
COPY README.md alembic.ini* ./
COPY engine ./engine
COPY api ./api
COPY migrations ./migrations
RUN pip install --no-deps . \
    && rm -rf build *.egg-info \
    && chmod 0755 /usr/local/bin/scouts-healthcheck

USER scouts

# API_HOST/API_PORT are set by compose; 8000 is the default port.
EXPOSE 8000

CMD ["scouts", "serve"]
