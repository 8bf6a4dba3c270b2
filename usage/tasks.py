"""Scheduled usage upkeep (thin: the work is in usage.services)."""

from celery import shared_task

from core import clock

from .services import usage_partitions_ensure


@shared_task(name="usage.tasks.partitions_ensure", acks_late=True, ignore_result=True)
def partitions_ensure() -> int:
    return usage_partitions_ensure(on=clock.now().date())
