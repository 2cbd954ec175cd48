"""Writes of the recommender, one module per sub-domain.

Sub-modules import one way:
    _common -> catalog
    _common -> shoppers -> events -> checkout
    _common -> settings -> experiments
    _common -> retrain
    _common -> placements
(events and settings read `selectors` inside a function: selectors imports services.)
"""

from ._common import (
    CATALOG_VERSION_KEY,
    INDEX_NAME,
    INT32_MAX,
    MODEL_NAME,
    catalog_changed,
    catalog_embedding_model,
    catalog_index,
    id_parse,
    shopper_changed,
)
from .catalog import (
    ITEM_FIELDS,
    KEEP_WHEN_BLANK,
    PRICE_LIMIT,
    ItemRowError,
    index_rebuild,
    item_clean,
    item_deactivate,
    item_save,
    items_changed,
    items_delete,
    items_embed,
    items_forget,
)
from .checkout import CheckoutResult, checkout_complete
from .events import (
    FUTURE_SKEW,
    TRACKER_PURCHASE_REFUSED,
    RecordResult,
    event_record,
    events_record,
)
from .experiments import (
    experiment_create,
    experiment_ship,
    experiment_start,
    experiment_stop,
    variants_clean,
)
from .placements import (
    BOOST_FACTOR,
    PIN_POSITION_MAX,
    PlacementError,
    boost_set,
    pin_set,
    placement_delete,
)
from .retrain import retrain_start
from .settings import (
    CATEGORY_CAP_MAX,
    HALF_LIFE_DAYS,
    SETTINGS_FIELDS,
    WEIGHT_MAX,
    SettingsError,
    settings_problems,
    settings_update,
)
from .shoppers import (
    VISITOR_COOKIE,
    Shopper,
    SignupError,
    shopper_signup,
    visitor_cookie,
    visitor_id_new,
    visitor_link,
    visitor_merge,
    visitor_merge_on_login,
)

__all__ = [
    "BOOST_FACTOR",
    "CATALOG_VERSION_KEY",
    "CATEGORY_CAP_MAX",
    "FUTURE_SKEW",
    "HALF_LIFE_DAYS",
    "INDEX_NAME",
    "INT32_MAX",
    "ITEM_FIELDS",
    "KEEP_WHEN_BLANK",
    "MODEL_NAME",
    "PIN_POSITION_MAX",
    "PRICE_LIMIT",
    "SETTINGS_FIELDS",
    "TRACKER_PURCHASE_REFUSED",
    "VISITOR_COOKIE",
    "WEIGHT_MAX",
    "CheckoutResult",
    "ItemRowError",
    "PlacementError",
    "RecordResult",
    "SettingsError",
    "Shopper",
    "SignupError",
    "boost_set",
    "catalog_changed",
    "catalog_embedding_model",
    "catalog_index",
    "checkout_complete",
    "event_record",
    "events_record",
    "experiment_create",
    "experiment_ship",
    "experiment_start",
    "experiment_stop",
    "id_parse",
    "index_rebuild",
    "item_clean",
    "item_deactivate",
    "item_save",
    "items_changed",
    "items_delete",
    "items_embed",
    "items_forget",
    "pin_set",
    "placement_delete",
    "retrain_start",
    "settings_problems",
    "settings_update",
    "shopper_changed",
    "shopper_signup",
    "variants_clean",
    "visitor_cookie",
    "visitor_id_new",
    "visitor_link",
    "visitor_merge",
    "visitor_merge_on_login",
]
