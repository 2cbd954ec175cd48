"""Admin screens for rows that only the services write."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted by hand: the rows are derived (hourly counts,
    chunks of an article), live state (presence) or a record (events, corrections), and their
    app's services keep them consistent with everything that depends on them.

    The delete permission itself stays, because Django asks it of every row a delete cascades
    to: an article deleted through its service takes its chunks along. Only deleting these rows
    on their own is refused."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        raise PermissionDenied

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
