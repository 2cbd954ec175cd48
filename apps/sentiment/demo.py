"""Demo data: a watchlist, sources, a few weeks of scored headlines with one spike, a rule."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.mlops import services as mlops_services

from . import services
from .models import AlertRule, Document, Source
from .training import DEMO_DATA, MODEL_NAME
from .uploads import DocumentRow

DATA = Path(__file__).resolve().parent / "data"
DEMO_DATA_ZH = DATA / "demo_sentences_zh.csv"
DEMO_FEED = DATA / "demo_feed.xml"
SPIKE_COMPANY = "Kestrel Airlines"

WATCHLIST: list[tuple[str, str, list[str], bool | None]] = [
    ("Acme Corp", "ACME", ["Acme", "艾克米公司"], None),
    ("Northwind Bank", "NWB", ["Northwind", "北风银行"], None),
    ("Helios Energy", "HELI", ["Helios", "赫利俄斯能源"], None),
    ("Borealis Mining", "BORM", ["Borealis", "北极光矿业"], None),
    ("Vantage Retail", "VTR", ["Vantage", "优势零售"], None),
    ("Orion Pharma", "ORPH", ["Orion", "猎户座制药"], None),
    (SPIKE_COMPANY, "KSTL", ["Kestrel"], None),
    ("Meridian Telecom", "MRDT", ["Meridian", "子午线电信"], None),
    ("Granite Insurance", "GRNI", ["Granite"], None),
    ("Cobalt Motors", "CBLT", ["Cobalt", "钴蓝汽车"], None),
    ("Lumen Software", "LUMS", ["Lumen"], None),
    ("Atlas Logistics", "ATLG", ["Atlas", "阿特拉斯物流"], None),
    ("Quanta Semiconductors", "QSEM", ["Quanta", "量子半导体"], None),
    ("Summit Hotels", "SMHT", ["Summit Hotels"], None),
    ("Allmark Insurance", "ALL", ["Allmark"], True),
    ("Aion Intelligence", "AI", ["Aion"], True),
    ("Nowcast Systems", "NOW", ["Nowcast"], True),
    ("Redwood Capital", "RWC", ["Redwood"], None),
]

POSITIVE = [
    "{c} beats estimates as quarterly profit jumps {p}%",
    "{c} raises full-year outlook on strong demand",
    "{c} wins major contract worth ${m} million",
    "Analysts upgrade {c} to buy after record orders",
    "{c} lifts dividend and announces share buyback",
    "{c} shares rise {p}% after upbeat guidance",
]
NEUTRAL = [
    "{c} to report quarterly results next week",
    "{c} appoints new chief financial officer",
    "{c} schedules capital markets day for the autumn",
    "{c} opens regional office in Singapore",
    "{c} completes previously announced share consolidation",
    "{c} annual general meeting set for April",
]
NEGATIVE = [
    "{c} cuts outlook as demand weakens",
    "{c} shares fall {p}% after profit warning",
    "{c} to cut {j} jobs in restructuring",
    "Regulator opens probe into {c} accounting",
    "{c} misses estimates as costs climb",
    "{c} downgraded to sell on slowing growth",
]
SPIKE = [
    "{c} grounds fleet after safety inspection finds engine faults",
    "{c} shares plunge {p}% as regulator orders groundings",
    "{c} cancels thousands of flights, passengers stranded",
    "{c} faces class action over cancelled flights",
    "{c} warns of heavy quarterly loss after groundings",
    "Rating agency downgrades {c} on liquidity concerns",
    "{c} pilots announce strike over pay cuts",
    "{c} chief executive under pressure as losses mount",
]


def _headlines(now: datetime, rng: random.Random) -> list[DocumentRow]:
    rows = []
    companies = [name for name, *_ in WATCHLIST]
    for i in range(420):
        company = rng.choice(companies)
        kind = rng.choices([POSITIVE, NEUTRAL, NEGATIVE], weights=[3, 5, 2])[0]
        title = rng.choice(kind).format(
            c=company, p=rng.randint(2, 18), m=rng.randint(20, 900), j=rng.randint(2, 40) * 50
        )
        when = now - timedelta(hours=rng.uniform(7, 21 * 24))
        body = f"{company} made the announcement on {when:%A}, {when:%-d %B}, at {when:%H:%M}."
        url = f"https://news.example.com/demo/{i}"
        rows.append(DocumentRow(i, f"demo-{i}", url, title, body, when, "en"))
    # Steady everyday coverage of the spike company, so its baseline is well estimated.
    for w in range(1, 28):
        for k in range(3):
            kind = rng.choices([POSITIVE, NEUTRAL, NEGATIVE], weights=[3, 6, 1])[0]
            title = rng.choice(kind).format(
                c=SPIKE_COMPANY,
                p=rng.randint(2, 9),
                m=rng.randint(20, 300),
                j=rng.randint(2, 9) * 50,
            )
            when = now - timedelta(hours=6 * w + rng.uniform(0.5, 5.5))
            body = f"The airline gave the update on {when:%A} at {when:%H:%M}."
            rows.append(
                DocumentRow(
                    2000 + w * 10 + k,
                    f"demo-base-{w}-{k}",
                    f"https://news.example.com/demo/base-{w}-{k}",
                    title,
                    body,
                    when,
                    "en",
                )
            )
    for k in range(16):
        title = SPIKE[k % len(SPIKE)].format(c=SPIKE_COMPANY, p=rng.randint(8, 25))
        if k >= len(SPIKE):
            title += f" ({['update', 'analysis', 'live', 'market wrap'][k % 4]} {k})"
        when = now - timedelta(minutes=rng.uniform(5, 5 * 60))
        rows.append(
            DocumentRow(
                1000 + k,
                f"demo-spike-{k}",
                f"https://news.example.com/demo/spike-{k}",
                title,
                "",
                when,
                "en",
            )
        )
    return rows


def _headlines_zh(now: datetime, rng: random.Random) -> list[DocumentRow]:
    """Chinese headlines about the watchlist companies (written for the demo; the labelled
    copy in data/demo_sentences_zh.csv trains and evaluates the Chinese sentiment model)."""
    with DEMO_DATA_ZH.open(encoding="utf-8", newline="") as fh:
        titles = [row["sentence"] for row in csv.DictReader(fh)]
    rows = []
    for i, title in enumerate(titles):
        when = now - timedelta(hours=rng.uniform(3, 14 * 24))
        url = f"https://news.example.com/demo/zh-{i}"
        rows.append(DocumentRow(5000 + i, f"demo-zh-{i}", url, title, "", when, "zh"))
    return rows


def demo_load(*, log: Callable[[str], None] = print, train: bool = True) -> None:
    """Idempotent: safe to run again; existing rows are kept and nothing is duplicated."""

    for name, ticker, aliases, needs_context in WATCHLIST:
        services.entity_upsert(
            name=name, ticker=ticker, aliases=aliases, ticker_needs_context=needs_context
        )
    log(f"   watchlist: {len(WATCHLIST)} companies")

    feed = services.source_get_or_create(
        name="Demo newswire (RSS)",
        kind=Source.Kind.RSS,
        url=DEMO_FEED.as_uri(),
        poll_interval_s=900,
        language="en",
    )
    wire = services.source_get_or_create(name="Demo headlines (API)", kind=Source.Kind.API)
    now = timezone.now()
    ingested = services.documents_ingest(
        source_id=wire.pk, rows=_headlines(now, random.Random(11)), now=now
    )
    log(f"   headlines: {ingested.created} new, {ingested.duplicates} already loaded")
    wire_zh = services.source_get_or_create(
        name="演示快讯（中文）", kind=Source.Kind.API, language="zh"
    )
    # Its Chinese headlines get model topics (the multilingual embedder reads Chinese).
    services.source_update(source_id=wire_zh.pk, embedding_model="multilingual")
    ingested = services.documents_ingest(
        source_id=wire_zh.pk, rows=_headlines_zh(now, random.Random(12)), now=now
    )
    log(f"   Chinese headlines: {ingested.created} new, {ingested.duplicates} already loaded")
    poll = services.source_poll(source_id=feed.pk)
    log(f"   demo feed: {poll.created} new items{' - ' + poll.error if poll.error else ''}")

    owner = get_user_model().objects.filter(username="analyst").first()
    if owner:
        _rule, _ = AlertRule.objects.get_or_create(
            owner=owner,
            name="Negative news spike on the watchlist",
            defaults={
                "metric": AlertRule.Metric.NEGATIVE_SHARE,
                "sensitivity": 3.0,
                "window_hours": 6,
                "min_volume": 5,
                "cooldown_hours": 12,
            },
        )
        AlertRule.objects.get_or_create(
            owner=owner,
            name="Litigation and regulation daily digest",
            defaults={
                "topics": ["litigation", "regulation"],
                "metric": "volume",
                "sensitivity": 3.0,
                "window_hours": 24,
                "min_volume": 3,
                "delivery": AlertRule.Delivery.DIGEST,
            },
        )
    if train:
        demo_train(log=log)
    else:
        _scores_catch_up(log)


def demo_train(*, log: Callable[[str], None] = print, max_steps: int | None = None) -> None:
    """Train the demo sentiment model unless one is in production, then score the headlines
    that waited for it and evaluate the alert rules. `max_steps` caps the fine-tuning."""
    if not mlops_services.model_available(MODEL_NAME):
        log(f"   training the demo sentiment model on {DEMO_DATA.name} (3 epochs, max_length 64)")
        params: dict[str, int] = {"epochs": 3, "max_length": 64}
        if max_steps:
            params["max_steps"] = max_steps
        run = mlops_services.model_train_here(name=MODEL_NAME, params=params, log=log)
        if run.version is not None:
            log(f"   sentiment v{run.version.version}: macro-F1 {run.metrics['macro_f1']:.3f}")
    _scores_catch_up(log)


def _scores_catch_up(log: Callable[[str], None]) -> None:
    if mlops_services.model_available(MODEL_NAME):
        pending = list(
            Document.objects.filter(status=Document.Status.PENDING).values_list("pk", flat=True)
        )
        for start in range(0, len(pending), 128):
            services.documents_score(document_ids=pending[start : start + 128])
        opened = services.alerts_evaluate()
        log(f"   scored {len(pending)} documents; {len(opened)} alert(s) opened")
    else:
        log("   no sentiment model yet: documents wait for scoring (manage.py demo_train)")
