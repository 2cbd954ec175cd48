"""Agents: presence, the assignment of waiting conversations to the online agents, and the
canned responses agents reply with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from .. import realtime
from ..models import AgentPresence, CannedResponse, Conversation
from ..selectors import PRESENCE_TTL_S, agents_online
from ._common import _no_agent_notice


# == presence and assignment =======================================================================
def agent_presence_connect(*, agent_id: int) -> None:
    presence, _ = AgentPresence.objects.get_or_create(agent_id=agent_id)
    AgentPresence.objects.filter(pk=presence.pk).update(
        connections=F("connections") + 1, last_seen_at=timezone.now()
    )
    conversations_assign()
    transaction.on_commit(realtime.agents_broadcast)


def agent_presence_heartbeat(*, agent_id: int) -> None:
    updated = AgentPresence.objects.filter(agent_id=agent_id).update(last_seen_at=timezone.now())
    if not updated:
        agent_presence_connect(agent_id=agent_id)


def agent_presence_disconnect(*, agent_id: int) -> None:
    AgentPresence.objects.filter(agent_id=agent_id, connections__gt=0).update(
        connections=F("connections") - 1
    )
    conversations_assign()
    transaction.on_commit(realtime.agents_broadcast)


def presence_expire() -> int:
    """Agents whose consoles stopped sending heartbeats (a dead process) go offline."""
    cutoff = timezone.now() - timedelta(seconds=PRESENCE_TTL_S)
    expired = AgentPresence.objects.filter(connections__gt=0, last_seen_at__lt=cutoff).update(
        connections=0
    )
    if expired:
        conversations_assign()
        transaction.on_commit(realtime.agents_broadcast)
    return expired


def conversations_assign() -> int:
    """Give each waiting conversation without an online agent to the least busy online agent."""
    online = {p.agent_id: p.capacity for p in agents_online()}
    waiting = Conversation.objects.filter(status=Conversation.Status.WAITING).order_by("handoff_at")
    needs = [c for c in waiting if c.assigned_agent_id not in online]
    if not needs:
        return 0
    load = dict(
        Conversation.objects.filter(
            assigned_agent_id__in=list(online),
            status__in=[Conversation.Status.WAITING, Conversation.Status.AGENT],
        )
        .values_list("assigned_agent_id")
        .annotate(n=Count("id"))
        .values_list("assigned_agent_id", "n")
    )
    assigned = 0
    for conversation in needs:
        candidates = [a for a in online if load.get(a, 0) < online[a]] or list(online)
        if not candidates:
            # Nobody online: leave it unassigned so the first agent to connect gets it.
            if conversation.assigned_agent_id is not None:
                released = Conversation.objects.filter(
                    pk=conversation.pk,
                    assigned_agent_id=conversation.assigned_agent_id,
                    status=Conversation.Status.WAITING,
                ).update(assigned_agent=None)
                realtime.conversation_broadcast(conversation_id=conversation.pk, event="assigned")
                if released:
                    # The last agent left: the customer learns that nobody is there for now.
                    _no_agent_notice(conversation.pk)
            continue
        agent_id = min(candidates, key=lambda a: (load.get(a, 0), a))
        claimed = Conversation.objects.filter(
            pk=conversation.pk,
            status=Conversation.Status.WAITING,
            assigned_agent_id=conversation.assigned_agent_id,
        ).update(assigned_agent_id=agent_id)
        if claimed:
            load[agent_id] = load.get(agent_id, 0) + 1
            assigned += 1
            realtime.conversation_broadcast(conversation_id=conversation.pk, event="assigned")
    return assigned


# -- canned responses (the agents' reply snippets) ----------------------------------------------
@transaction.atomic
def canned_response_create(*, title: str, text: str) -> CannedResponse:
    return CannedResponse.objects.create(title=title, text=text)


@transaction.atomic
def canned_response_update(
    *, canned_id: int, title: str | None = None, text: str | None = None
) -> CannedResponse:
    """Change a canned response; a value left None keeps what it is."""
    canned = CannedResponse.objects.select_for_update().get(pk=canned_id)
    values = {"title": title, "text": text}
    changed = [name for name, value in values.items() if value is not None]
    for name in changed:
        setattr(canned, name, values[name])
    if changed:
        canned.save(update_fields=changed)
    return canned


@transaction.atomic
def canned_response_delete(*, canned_id: int) -> None:
    CannedResponse.objects.filter(pk=canned_id).delete()


@transaction.atomic
def canned_responses_delete(*, canned_ids: Sequence[int]) -> None:
    CannedResponse.objects.filter(pk__in=canned_ids).delete()
