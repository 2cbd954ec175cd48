from __future__ import annotations

import pytest

COMPANIES = ["Acme", "Nordbank", "Helio Oy", "Vexa Group", "Kone Steel", "Baltic Paper"]
EVENTS = [
    "reported operating profit of EUR {n} million, up from the year before",
    "cut {n} jobs at its plant after orders fell",
    "signed a {n} million euro contract to supply turbines",
    "expects net sales to grow by {n} percent next year",
    "shares fell {n} percent after the profit warning",
    "will pay a dividend of {n} cents per share",
]


@pytest.fixture
def news_texts() -> list[str]:
    """Eighty distinct financial-news sentences (no dataset needed)."""
    return [
        f"{company} {event.format(n=3 + i * 7 + j)}."
        for i, company in enumerate(COMPANIES)
        for j, event in enumerate(EVENTS)
    ] + [
        f"{c} said market conditions remain uncertain in quarter {q}."
        for c in COMPANIES
        for q in (1, 2)
    ]
