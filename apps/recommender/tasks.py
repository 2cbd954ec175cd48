from celery import shared_task

from apps.core.upload_jobs import jobs_requeue

from . import catalog_import
from .models import CatalogImport
from .services import index_rebuild, items_embed, retrain_start


@shared_task(acks_late=True, queue="inference", autoretry_for=(OSError,), max_retries=3)
def items_embed_task(item_ids: list[int]) -> int:
    """Re-embed changed items; idempotent (an upsert of the items' current text)."""
    return items_embed(item_ids=[int(i) for i in item_ids])


@shared_task(
    acks_late=True,
    queue="inference",
    autoretry_for=(OSError,),
    max_retries=3,
    soft_time_limit=1800,
    time_limit=1900,
)
def catalog_reembed_task() -> int:
    """Embed every active item again, with the catalog's embedding model (it changed) or the
    production item-text encoder (a new recommender adapted base); idempotent."""
    return index_rebuild()


@shared_task(queue="inference")
def ranker_retrain_task() -> int:
    """Scheduled retraining: queues a training run; the mlops gate decides on promotion."""
    return int(retrain_start().pk)


@shared_task(acks_late=True, queue="inference", soft_time_limit=1800, time_limit=1900)
def catalog_import_run_task(job_id: int) -> str:
    """Import an uploaded catalog file; idempotent (the job is claimed; rows upsert by sku)."""
    ran = catalog_import.catalog_import_run(job_id=job_id)
    return ran[0].status if ran else "taken"


@shared_task(acks_late=True, queue="inference")
def catalog_imports_rescue_task() -> int:
    """Queue again the catalog imports nobody moved for a while (lost message, dead worker)."""
    return jobs_requeue(CatalogImport, catalog_import_run_task)
