from django.apps import AppConfig


class OutboxConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "outbox"
    verbose_name = "Outbox"

    def ready(self):
        from celery.signals import task_postrun

        from .relay import task_finished

        task_postrun.connect(task_finished, dispatch_uid="outbox.relay.task_finished", weak=False)
