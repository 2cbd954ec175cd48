"""Conversation memory and out-of-scope questions, on the demo help centre with the real MiniLM.

    python -m bench support_memory              # everything
    python -m bench support_memory --quick      # 100 banking77 questions instead of 1000

- follow-ups: article hit@3 of each follow-up of bench/data/support_followups.json searched on
  its own (what the bot did before) and rewritten from the conversation (`query_rewrite`), with
  the opening questions' hit@3 for reference;
- stand-alone questions (banking77 held-out, when ../shared/datasets/banking77 is there) asked
  after an unrelated earlier question: how many the rewriting touches, and their hit@3 with and
  without it (rewriting must not hurt a question that stands on its own);
- out of scope: the share of off-topic questions whose best passage falls below
  `OUT_OF_SCOPE_DENSE` (the bot offers a person instead of handing off), and the share of
  banking77 questions that would wrongly fall below it (retrieval alone, no intent model: the
  live path also keeps a question whose intent is above the threshold).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.support import BANKING77, _django, banking77_split

DATA = Path(__file__).resolve().parent / "data" / "support_followups.json"


def _top_articles(kb_id: int, query: str) -> tuple[list[int], float]:
    # setup: apps load after django.setup() (main calls _django first)
    from apps.support.retrieval import passages_retrieve

    passages = passages_retrieve(kb_id=kb_id, query=query, k=10)
    articles: list[int] = []
    for passage in passages:
        if passage.article_id not in articles:
            articles.append(passage.article_id)
    return articles, (passages[0].dense if passages else 0.0)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench support_memory")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    _django()
    # setup: apps load after django.setup()
    from apps.support import demo, selectors
    from apps.support.memory import Exchange, query_rewrite
    from apps.support.scope import OUT_OF_SCOPE_DENSE

    kb = demo.demo_knowledge_load(log=lambda _m: None)
    intents_of = selectors.article_intents_map(kb_id=kb.pk)
    data = json.loads(DATA.read_text())

    def hit3(articles: list[int], wanted: set[str]) -> bool:
        return any(wanted & set(intents_of.get(a, ())) for a in articles[:3])

    results: dict[str, Any] = {}
    alone = rewritten = opening = detected = 0
    conversations = data["conversations"]
    for case in conversations:
        wanted = set(case["intents"])
        history = [Exchange(turn, "(answer)", "extractive") for turn in case["turns"]]
        rewrite = query_rewrite(case["follow_up"], history)
        detected += rewrite.follow_up
        alone += hit3(_top_articles(kb.pk, case["follow_up"])[0], wanted)
        rewritten += hit3(_top_articles(kb.pk, rewrite.query)[0], wanted)
        opening += hit3(_top_articles(kb.pk, case["turns"][0])[0], wanted)
    n = len(conversations)
    results["follow_ups"] = n
    results["follow_ups_detected"] = round(detected / n, 4)
    results["follow_up_hit_at_3_alone"] = round(alone / n, 4)
    results["follow_up_hit_at_3_with_context"] = round(rewritten / n, 4)
    results["opening_hit_at_3"] = round(opening / n, 4)

    off_dense = [_top_articles(kb.pk, text)[1] for text in data["off_topic"]]
    results["off_topic_questions"] = len(off_dense)
    results["out_of_scope_floor"] = OUT_OF_SCOPE_DENSE
    results["off_topic_caught"] = round(
        sum(d < OUT_OF_SCOPE_DENSE for d in off_dense) / len(off_dense), 4
    )
    results["off_topic_top_dense_median"] = round(statistics.median(off_dense), 4)
    notes = [
        f"{n} written conversations (bench/data/support_followups.json) on the demo help "
        "centre, real MiniLM, retrieval only; a hit when one of the top 3 articles is tagged "
        "with an intent that answers the follow-up."
    ]
    if BANKING77.exists():
        _, held = banking77_split()
        held = held[: 100 if args.quick else 1000]
        unrelated = [Exchange("How do I change my PIN?", "(answer)", "extractive")]
        touched = plain_hits = memory_hits = 0
        in_dense: list[float] = []
        for text, label in held:
            articles, dense = _top_articles(kb.pk, text)
            in_dense.append(dense)
            hit = hit3(articles, {label})
            plain_hits += hit
            rewrite = query_rewrite(text, unrelated)
            if rewrite.follow_up:
                touched += 1
                hit = hit3(_top_articles(kb.pk, rewrite.query)[0], {label})
            memory_hits += hit
        m = len(held)
        results["standalone_questions"] = m
        results["standalone_rewritten_share"] = round(touched / m, 4)
        results["standalone_hit_at_3_alone"] = round(plain_hits / m, 4)
        results["standalone_hit_at_3_after_unrelated_turn"] = round(memory_hits / m, 4)
        results["in_scope_below_floor"] = round(
            sum(d < OUT_OF_SCOPE_DENSE for d in in_dense) / m, 4
        )
        results["in_scope_top_dense_median"] = round(statistics.median(in_dense), 4)
        notes.append(
            "banking77 held-out questions (seeded 90/10 split of train.csv) asked after an "
            "unrelated question ('How do I change my PIN?')."
        )
    else:
        notes.append(f"stand-alone and in-scope checks skipped: {BANKING77} is absent")
    return {
        "title": "Support: conversation memory and out-of-scope questions",
        "results": results,
        "notes": " ".join(notes),
    }
