"""Screenshots of the main pages of a running suite, for a reviewer to look at side by side.

    bin/screenshots [--base http://127.0.0.1:8000] [--out var/screenshots]
    (= python -m bench screenshots --no-record ...)

Signs in as each demo user (password = user name, `manage.py demo_setup`) in Debian's Chromium
and saves `<role>_<page>_<phone|desk>.png` at 390x844 and 1366x800. Not run in CI: it needs a
running demo (bin/demo) and writes images, not numbers.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from typing import Any

WIDTHS = {"phone": (390, 844), "desk": (1366, 800)}
# (role, name, path); a path ending in "~<regex>" opens the list page first and follows its
# first link whose address matches (an item, an experiment, a run).
PAGES: list[tuple[str, str, str]] = [
    ("anonymous", "home", "/"),
    ("anonymous", "shop", "/shop/"),
    ("anonymous", "shop_item", "/shop/~/shop/item/\\d+/$"),
    ("anonymous", "shop_cart", "/shop/cart/"),
    ("anonymous", "chat", "/support/chat/"),
    ("anonymous", "not_found", "/no-such-page/"),
    ("agent", "console", "/support/console/"),
    ("agent", "knowledge", "/support/knowledge/"),
    ("agent", "kb_settings", "/support/knowledge-bases/"),
    ("agent", "stats", "/support/stats/"),
    ("analyst", "sentiment", "/sentiment/"),
    ("analyst", "alerts", "/sentiment/alerts/"),
    ("analyst", "rules", "/sentiment/rules/"),
    ("analyst", "watchlist", "/sentiment/watchlist/"),
    ("analyst", "sources", "/sentiment/sources/"),
    ("merchandiser", "experiments", "/shop/experiments/"),
    ("merchandiser", "experiment", "/shop/experiments/~/shop/experiments/\\d+/$"),
    ("merchandiser", "manage", "/shop/manage/"),
    ("mladmin", "models", "/mlops/"),
    ("mladmin", "model", "/mlops/models/sentiment/"),
    ("mladmin", "version", "/mlops/models/sentiment/~/mlops/models/sentiment/v\\d+/$"),
    ("mladmin", "run", "/mlops/models/sentiment/~/mlops/runs/\\d+/$"),
]


def _sign_in(page: Any, base: str, role: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", role)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def _open(page: Any, base: str, path: str) -> bool:
    target, _, follow = path.partition("~")
    page.goto(base + target, wait_until="load")
    if not follow:
        return True
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.pathname)")
    match = next((h for h in hrefs if re.search(follow, h)), None)
    if match is None:
        return False
    page.goto(base + match, wait_until="load")
    return True


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bin/screenshots")
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="var/screenshots")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    # optional: playwright is a dev dependency, only this command needs it
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium is not installed (bin/setup --dev installs it)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved: list[str] = []
    missing: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        for width, (w, h) in WIDTHS.items():
            contexts: dict[str, Any] = {}
            for role, name, path in PAGES:
                if role not in contexts:
                    contexts[role] = browser.new_context(viewport={"width": w, "height": h})
                    if role != "anonymous":
                        _sign_in(contexts[role].new_page(), args.base, role)
                page = contexts[role].new_page()
                if _open(page, args.base, path):
                    page.wait_for_timeout(500)  # charts draw after load
                    file = out / f"{role}_{name}_{width}.png"
                    page.screenshot(path=str(file), full_page=True)
                    saved.append(str(file))
                else:
                    missing.append(f"{role} {name} {width}")
                page.close()
            for context in contexts.values():
                context.close()
        browser.close()
    for line in saved:
        print(line)
    return {
        "title": "Page screenshots",
        "results": {"saved": len(saved), "missing": missing, "folder": str(out)},
        "notes": "",
    }
