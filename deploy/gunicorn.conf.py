"""gunicorn settings for the kneo web tier: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Threaded workers keep the web responsive while synchronous runs wait for their workers. One
worker process per core with 8 threads each spent the least web CPU per request in the load
harness (W3 reads: about 0.9 to 1.4 ms against 1.5 to 1.7 ms with 4 workers of 16 threads on 2
cores) and holds half the database connections (each thread needs at most one read and one write
connection). A thread waits with each synchronous run: raise ``KNEO_SERV_WEB_THREADS`` when many
clients wait at once.
Every value can be overridden from the environment.
"""

import multiprocessing
import os

bind = os.environ.get("KNEO_SERV_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KNEO_SERV_WEB_WORKERS", max(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("KNEO_SERV_WEB_THREADS", "8"))
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
