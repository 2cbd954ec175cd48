from typing import Any

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Event, Experiment, Item, RecommenderSettings, Variant, Visitor


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "category", "price", "stock", "active", "boost"]
    list_filter = ["category", "active"]
    search_fields = ["sku", "title", "description"]
    list_editable = ["stock", "active", "boost"]

    def save_model(self, request: Any, obj: Item, form: Any, change: bool) -> None:
        # Through the service, so the item is re-embedded and caches refreshed.
        data = {f: getattr(obj, f) for f in services.ITEM_FIELDS}
        saved = services.item_save(data=data, item_id=obj.pk)
        obj.pk = saved.pk

    def delete_model(self, request: Any, obj: Item) -> None:
        item_id = obj.pk
        super().delete_model(request, obj)
        services.items_forget(item_ids=[item_id])

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        item_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        services.items_forget(item_ids=item_ids)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["created", "kind", "item", "user", "visitor_id", "variant"]
    list_filter = ["kind", "experiment"]
    search_fields = ["event_id", "visitor_id"]
    raw_id_fields = ["item", "user"]


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 2


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "shipped_variant", "started_at", "ended_at", "report"]
    inlines = [VariantInline]
    readonly_fields = ["status", "shipped_variant", "started_at", "ended_at"]
    actions = ["start", "stop"]

    @admin.action(description="Start the selected draft experiment")
    def start(self, request: Any, queryset: Any) -> None:
        self._each(request, queryset, services.experiment_start)

    @admin.action(description="Stop the selected running experiments")
    def stop(self, request: Any, queryset: Any) -> None:
        self._each(request, queryset, services.experiment_stop)

    @admin.display(description="Report")
    def report(self, experiment: Experiment) -> str:
        # CTR/conversion with intervals and the "ship this variant" buttons live on this page.
        url = reverse("recommender:experiment", args=[experiment.pk])
        return format_html('<a href="{}">report, stop or ship</a>', url)

    def _each(self, request: Any, queryset: Any, fn: Any) -> None:
        for experiment in queryset:
            try:
                fn(experiment_id=experiment.pk)
                self.message_user(request, f"{experiment}: done")
            except ValueError as exc:
                self.message_user(request, f"{experiment}: {exc}", messages.ERROR)


admin.site.register(RecommenderSettings)
admin.site.register(Visitor)
