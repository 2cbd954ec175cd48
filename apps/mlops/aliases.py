"""Keeping the production alias files in line with the database.

Promotion writes the database and, after the commit, the alias file every process reads. A crash
in between leaves them disagreeing; the database is the record, so the reconcile moves the alias
file to it. It runs after every promotion, when a worker starts, and on beat.
"""

from __future__ import annotations

import logging

from django.db import transaction

from mlcore.registry import PRODUCTION, RegistryError

from .model_store import registry
from .models import ModelVersion

log = logging.getLogger(__name__)


def production_alias_reconcile(*, name: str) -> str:
    """Point `name`'s production alias at the database's production version; says what it did.

    The model's rows are locked meanwhile, so a promotion committing at the same moment cannot
    be overwritten by the version read before it. A database without a production version
    leaves the alias alone (a registry used without the database, or a fresh database), and
    says so. Raises RegistryError when the wanted version's files fail their checks.
    """
    with transaction.atomic():
        rows = list(
            ModelVersion.objects.select_for_update()
            .filter(name=name)
            .values_list("version", "is_production")
        )
        wanted = next((version for version, production in rows if production), None)
        current = registry().aliases(name).get(PRODUCTION)
        if wanted is None:
            if current is None:
                return "no production version"
            return f"alias v{current} left alone: the database has no production version"
        if current == wanted:
            return f"v{wanted} in both"
        registry().set_alias(name, PRODUCTION, wanted)
    was = f"v{current}" if current is not None else "no alias"
    log.warning("production alias of %s moved from %s to v%s (database)", name, was, wanted)
    return f"alias moved from {was} to v{wanted}"


def production_aliases_reconcile() -> dict[str, str]:
    """`production_alias_reconcile` for every model with a production version in the database."""
    names = (
        ModelVersion.objects.filter(is_production=True)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )
    outcome = {}
    for name in names:
        try:
            outcome[name] = production_alias_reconcile(name=name)
        except RegistryError as exc:
            log.error("production alias of %s not reconciled: %s", name, exc)
            outcome[name] = f"not reconciled: {exc}"
    return outcome
