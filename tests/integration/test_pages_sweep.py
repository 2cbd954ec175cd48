"""Every page, as each role sees it, at a phone's 390 px and a laptop's 1366 px, in a real browser.

The demo data is loaded into a database of its own (a copy of the session's freshly migrated
one: the shared session database stays as the other tests expect it), one web server and one
browser serve the whole sweep. On each page: no horizontal scroll, no console errors, and no
serious or critical axe-core violation (axe-core from node_modules, injected into the page).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.integration.conftest import Stack, chromium_launched, own_site, sign_in
from tests.integration.demo_stack import demo_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 800)}

# Where each role starts; the sweep follows the links it finds from there (same site, one page
# per address shape, so /sentiment/documents/7/ stands for every document).
ROLES: dict[str, list[str]] = {
    "anonymous": ["/", "/accounts/login/", "/shop/", "/support/chat/", "/no-such-page/"],
    "agent": ["/", "/support/console/", "/support/knowledge/", "/support/stats/"],
    "analyst": ["/", "/sentiment/", "/sentiment/alerts/", "/sentiment/rules/"],
    "merchandiser": ["/", "/shop/", "/shop/experiments/", "/shop/manage/"],
    "mladmin": ["/", "/mlops/"],
    "admin": ["/", "/mlops/", "/support/console/", "/sentiment/", "/shop/experiments/"],
}
# Not pages of the suite (Django's admin, the API browser) or not safe to open (they act).
SKIP = re.compile(
    r"^/(admin|api|metrics|healthz|accounts/logout)|/(unsubscribe|cart/add|cart/remove|checkout)"
    r"|/(acknowledge|resolve|snooze|poll|cancel|delete|resubscribe)/?$|\.svg$"
)
MAX_PAGES = 40


@dataclass
class Site:
    base: str
    browser: Any


@pytest.fixture(scope="module")
def site(stack: Stack) -> Iterator[Site]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is in package.json)")
    with chromium_launched() as browser, own_site(stack, "sweep") as sweep:
        demo_load(sweep)
        yield Site(base=sweep.start_web(), browser=browser)


def _shape(path: str) -> str:
    return re.sub(r"/\d+(?=/|\.|$)", "/N", path)


# Same-site links of the page (no query, no fragment), as paths.
LINKS = """
() => Array.from(document.querySelectorAll('a[href]'))
  .map((a) => new URL(a.href, location.href))
  .filter((u) => u.origin === location.origin)
  .map((u) => u.pathname)
"""

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

AXE_RUN = """
async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} - ` +
      v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '));
}
"""


def _signed_in_context(site: Site, role: str, width: str) -> Any:
    w, h = WIDTHS[width]
    context = site.browser.new_context(viewport={"width": w, "height": h})
    if role != "anonymous":
        page = context.new_page()
        sign_in(page, site.base, role, role, "/")
        page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"), timeout=30000)
        page.close()
    return context


def _sweep(site: Site, role: str, width: str, axe_seen: set[tuple[str, str]]) -> list[str]:
    context = _signed_in_context(site, role, width)
    problems: list[str] = []
    queue = list(ROLES[role])
    seen_shapes: set[str] = set()
    visited = 0
    while queue and visited < MAX_PAGES:
        path = queue.pop(0)
        shape = _shape(path)
        if shape in seen_shapes or SKIP.search(path):
            continue
        seen_shapes.add(shape)
        visited += 1
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.on(
            "console",
            lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None,
        )
        response = page.goto(urljoin(site.base, path), wait_until="load")
        page.wait_for_timeout(300)  # let deferred scripts draw charts and lists
        where = f"{role} {width} {path}"
        expected_404 = path == "/no-such-page/"
        if response is None or (response.status >= 400 and not expected_404):
            problems.append(f"{where}: HTTP {response.status if response else 'none'}")
        overflow = page.evaluate(OVERFLOW)
        if overflow > 0:
            problems.append(f"{where}: {overflow}px wider than the viewport")
        errors = [e for e in errors if not (expected_404 and "404" in e)]
        if errors:
            problems.append(f"{where}: console errors {errors[:3]}")
        if (shape, width) not in axe_seen:
            axe_seen.add((shape, width))
            page.add_script_tag(path=str(AXE))
            problems.extend(f"{where}: {v}" for v in page.evaluate(AXE_RUN))
        queue.extend(p for p in page.evaluate(LINKS) if _shape(p) not in seen_shapes)
        page.close()
    context.close()
    return problems


AXE_SEEN: set[tuple[str, str]] = set()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_fits_the_screen_and_passes_axe(site, role, width):
    problems = _sweep(site, role, width, AXE_SEEN)

    assert not problems, "\n".join(problems)
