import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

from config.runtime import settle_long_lived_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("seatbill")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect  # each prefork child, once it has loaded
@worker_ready.connect  # the worker itself: with --pool=solo it runs the tasks
def _settle_worker(**_kwargs) -> None:
    settle_long_lived_process()
