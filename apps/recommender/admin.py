from typing import Any

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin_base import ReadOnlyAdmin

from . import services
from .forms import ItemAdminForm, RecommenderSettingsForm, VariantFormSet
from .models import Event, Experiment, Item, RecommenderSettings, Variant, Visitor


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "category", "price", "stock", "active", "boost"]
    list_filter = ["category", "active"]
    search_fields = ["sku", "title", "description"]
    list_editable = ["stock", "active", "boost"]
    form = ItemAdminForm  # the import's and the API's checks, errors next to the field

    def save_model(self, request: Any, obj: Item, form: Any, change: bool) -> None:
        # Through the service, so the item is re-embedded and caches refreshed.
        data = {f: getattr(obj, f) for f in services.ITEM_FIELDS}
        saved = services.item_save(data=data, item_id=obj.pk)
        obj.pk = saved.pk

    def delete_model(self, request: Any, obj: Item) -> None:
        services.items_delete(item_ids=[obj.pk])

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        services.items_delete(item_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    # A record of what shoppers did (services.events); the ranker and the reports learn from it.
    list_display = ["created", "kind", "item", "user", "visitor_id", "variant"]
    list_filter = ["kind", "experiment"]
    search_fields = ["event_id", "visitor_id"]
    raw_id_fields = ["item", "user"]


def _draft(experiment: Experiment | None) -> bool:
    return experiment is None or experiment.status == Experiment.Status.DRAFT


class VariantInline(admin.TabularInline):
    # Once started, the variants are what the report compares (events name them, shoppers are
    # split by their weights): they are shown, never changed, added or removed.
    model = Variant
    formset = VariantFormSet
    extra = 2

    def get_extra(self, request: Any, obj: Experiment | None = None, **kwargs: Any) -> int:
        return self.extra if _draft(obj) else 0

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return _draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return _draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return _draft(obj) and super().has_delete_permission(request, obj)


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

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        # An experiment that ran owns its events' tags: deleting it would untag them and lose
        # its report for good. Only drafts can go.
        if obj is not None and obj.status != Experiment.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: Any) -> Any:
        # The bulk delete does not ask per row; a draft is deleted from its own page.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

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


@admin.register(RecommenderSettings)
class RecommenderSettingsAdmin(admin.ModelAdmin):
    form = RecommenderSettingsForm
    fields = list(services.SETTINGS_FIELDS)

    def has_add_permission(self, request: Any) -> bool:
        # One row holds the settings (the shop reads pk 1); a second would be ignored.
        return not RecommenderSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        # Through the service: the same checks as the API and the page, and cached lists refresh.
        saved = services.settings_update(
            values={name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS}
        )
        obj.pk = saved.pk


admin.site.register(Visitor, ReadOnlyAdmin)  # services.shoppers
