"""gunicorn settings for the kneo web tier: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Threaded workers keep the web responsive while synchronous runs wait for their workers.
Every value can be overridden from the environment.
"""

import multiprocessing
import os

bind = os.environ.get("KNEO_SERV_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KNEO_SERV_WEB_WORKERS", max(2, multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
threads = int(os.environ.get("KNEO_SERV_WEB_THREADS", "16"))
timeout = int(float(os.environ.get("KNEO_SERV_CLIENT_TIMEOUT", "120"))) + 30
graceful_timeout = 30
keepalive = 30
max_requests = int(os.environ.get("KNEO_SERV_WEB_MAX_REQUESTS", "0"))
max_requests_jitter = 100
forwarded_allow_ips = os.environ.get("KNEO_SERV_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None
errorlog = "-"
loglevel = os.environ.get("KNEO_SERV_LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"raw": {"format": "%(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "raw", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "kneo_serv.service": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
    },
}
