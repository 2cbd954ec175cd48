"""Pages: the storefront (anyone) and the merchandiser's (catalog, settings, experiments).

Modules: storefront -> signup; merchandising, placements (pins, boosts, the reasons preview).
"""

from .merchandising import catalog_import_page, experiment_detail, experiments, manage
from .placements import placements
from .signup import signup
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
    "placements",
    "review",
    "signup",
]
