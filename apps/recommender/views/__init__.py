"""Pages: the storefront (anyone) and the merchandiser's (catalog, settings, experiments).

Modules: storefront, merchandising (independent of each other).
"""

from .merchandising import catalog_import_page, experiment_detail, experiments, manage
from .storefront import (
    cart_add,
    cart_remove,
    cart_view,
    checkout,
    home,
    item_detail,
    placeholder,
    review,
)

__all__ = [
    "cart_add",
    "cart_remove",
    "cart_view",
    "catalog_import_page",
    "checkout",
    "experiment_detail",
    "experiments",
    "home",
    "item_detail",
    "manage",
    "placeholder",
    "review",
]
