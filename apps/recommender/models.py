from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from apps.core.upload_jobs import ImportJobBase
from apps.mlops import runtime

DEFAULT_FEEDBACK_WEIGHTS = {
    "view": 1.0,
    "click": 1.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
    "rating": 2.0,
    "share": 2.0,
    "impression": 0.0,
}
# The sentence embedders the catalog may use (apps.mlops.runtime.EMBEDDING_MODELS).
EMBEDDING_MODEL_CHOICES = runtime.EMBEDDING_MODEL_CHOICES


class Item(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    category = models.CharField(max_length=80, db_index=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    stock = models.PositiveIntegerField(default=0)
    image_url = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    boost = models.FloatField(default=0.0, help_text="Added to the ranking score (e.g. 0.5).")
    language = models.CharField(max_length=8, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return f"{self.title} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("recommender:item", args=[self.pk])

    @property
    def image_src(self) -> str:
        return self.image_url or reverse("recommender:placeholder", args=[self.pk])

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def text(self) -> str:
        """What the embedder reads: the copy a shopper reads."""
        tags = ", ".join(self.tags or [])
        return f"{self.title}. {self.category}. {tags}. {self.description}".strip()


class Visitor(models.Model):
    """An anonymous storefront visitor (cookie id); linked to an account once they sign in."""

    visitor_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)
    merged_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.visitor_id


class Event(models.Model):
    class Kind(models.TextChoices):
        IMPRESSION = "impression", "Impression"
        VIEW = "view", "View"
        CLICK = "click", "Click"
        ADD_TO_CART = "add_to_cart", "Add to cart"
        PURCHASE = "purchase", "Purchase"
        RATING = "rating", "Rating / review"
        SHARE = "share", "Share"

    class Source(models.TextChoices):
        # Purchases count (training, trending, A/B conversion) only when this server recorded
        # them: a client can claim anything through the tracker.
        TRACKER = "tracker", "Tracker (sent by a browser or client)"
        STOREFRONT = "storefront", "Storefront server (checkout, cart, reviews)"
        IMPORT = "import", "Back-office import (merchandiser token, demo data)"

    event_id = models.CharField(max_length=80, unique=True, help_text="Client id; resent = ignored")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(
        max_length=12,
        choices=Source.choices,
        default=Source.TRACKER,
        help_text="who recorded it; purchases count only from the storefront or an import",
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    rating = models.FloatField(null=True, blank=True)
    text = models.TextField(blank=True)
    context = models.CharField(max_length=80, blank=True)
    experiment = models.ForeignKey(
        "Experiment", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    variant = models.CharField(max_length=40, blank=True)
    from_recommendation = models.BooleanField(default=False)
    created = models.DateTimeField(db_index=True)
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created"]),
            models.Index(fields=["visitor_id", "-created"]),
            models.Index(fields=["experiment", "variant", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.item_id} by {self.user_id or self.visitor_id}"

    @staticmethod
    def shopper_key(user_id: int | None, visitor_id: str) -> str:
        """Whose events these are: the signed-in account, else the anonymous visitor id."""
        return f"u{user_id}" if user_id else f"v{visitor_id}"


class RecommenderSettings(models.Model):
    """The merchandiser's knobs (one row)."""

    feedback_weights = models.JSONField(default=dict, blank=True)
    exclude_purchased = models.BooleanField(default=True)
    diversity = models.FloatField(default=0.2, help_text="0 = pure relevance, 0.5 = much variety")
    category_cap = models.PositiveSmallIntegerField(
        default=0, help_text="Most items of one category per list (0 = no cap)"
    )
    trending_half_life_days = models.FloatField(default=3.0)
    default_strategy = models.CharField(max_length=20, default="ranker")
    # The sentence embedder of the item vectors (similar items, cold start, the ranker's text
    # signal); its vectors live in an index of their own, rebuilt when this changes. MiniLM is
    # the better one for an English-only catalog.
    embedding_model = models.CharField(
        max_length=20,
        choices=EMBEDDING_MODEL_CHOICES,
        default="minilm",
        help_text="Multilingual for Chinese or mixed item copy: items match across languages.",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "recommender settings"

    def __str__(self) -> str:
        return "Recommender settings"

    def weights(self) -> dict[str, float]:
        return {**DEFAULT_FEEDBACK_WEIGHTS, **(self.feedback_weights or {})}


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"
        SHIPPED = "shipped", "Shipped"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    shipped_variant = models.CharField(max_length=40, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    STRATEGIES = [
        ("ranker", "Learned ranker (all signals)"),
        ("collaborative", "Bought/viewed together only"),
        ("text", "Text similarity only"),
        ("popular", "Trending only"),
    ]
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=40)
    strategy = models.CharField(max_length=20, choices=STRATEGIES, default="ranker")
    diversity = models.FloatField(null=True, blank=True, help_text="Blank = the shop setting")
    weight = models.PositiveIntegerField(default=1, help_text="Share of traffic (relative)")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="variant_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.experiment.name}/{self.name}"


class CatalogImport(ImportJobBase):
    """An uploaded catalog file (CSV or JSONL) being imported (see upload_jobs)."""

    class Meta(ImportJobBase.Meta):
        indexes = [models.Index(fields=["status", "updated_at"])]


class ShopperProfile(models.Model):
    """What a shopper told the shop at sign-up: their region and what they shop for. New
    accounts start from it before they have any history (cold start)."""

    class Region(models.TextChoices):
        NORTH = "north", "North"
        SOUTH = "south", "South"
        EAST = "east", "East"
        WEST = "west", "West"
        ABROAD = "abroad", "Outside the country"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shopper_profile"
    )
    region = models.CharField(max_length=20, choices=Region.choices, blank=True, db_index=True)
    interests = models.JSONField(default=list, blank=True, help_text="categories they shop for")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"


class Rail(models.TextChoices):
    """The recommendation lists a page shows (and the API serves with `rail=`)."""

    FOR_YOU = "for_you", "For you"
    TRENDING = "trending", "Trending"
    SIMILAR = "similar", "Similar items"
    TOGETHER = "together", "Bought together / goes well with"
    CART = "cart", "Cart: complete your order"


class Pin(models.Model):
    """A merchandiser's item held at a position of a rail, after ranking (filters still apply)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="pins")
    rail = models.CharField(max_length=20, choices=Rail.choices)
    position = models.PositiveSmallIntegerField(help_text="1 = first")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rail", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rail", "position"], name="pin_unique_rail_position"),
            models.UniqueConstraint(fields=["rail", "item"], name="pin_unique_rail_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} at {self.rail} #{self.position}"


class Boost(models.Model):
    """A merchandiser's factor on an item's rank until it expires: x2 moves it from 6th to 3rd
    among the items ranking found (applied after ranking; filters still apply)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="boosts")
    factor = models.FloatField()
    expires_at = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_at"]

    def __str__(self) -> str:
        return f"{self.item_id} x{self.factor} until {self.expires_at:%Y-%m-%d %H:%M}"
