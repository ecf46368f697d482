"""The prose about the published results says no more than the pages decide: point estimates are called
estimates (or given as numbers), counts over comparisons that share runs are not read as independent
signs, the per-image counts are the page's own, and the cross-network claim is the suite page's."""

from __future__ import annotations

import re

from tests.factories import REPO

RESULTS = REPO / "docs" / "results"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_no_adjective_outruns_the_pages() -> None:
    results = _flat((RESULTS / "README.md").read_text(encoding="utf-8"))
    readme = _flat((REPO / "README.md").read_text(encoding="utf-8"))
    for claim in (
        "Rational and Exponential are ahead of ReLU",  # Exponential's +0.77 is inconclusive
        "lose more accuracy than ReLU",  # estimates, none established
        "All six saturating-unit estimates",  # six estimates sharing the same ReLU runs, read as six signs
        "about 5 points ahead of ReLU",  # resnet20 after 3 epochs: none established
    ):
        assert claim not in results, claim
    assert "established as better than ReLU across networks" not in readme


def test_the_per_image_counts_are_the_pages() -> None:
    """docs/results/README.md repeats the per-image table's counts: they must be the table's."""
    page = (RESULTS / "cifar10.md").read_text(encoding="utf-8")
    cell = {
        m.group(1): m.group(2) for m in re.finditer(r"^\| (\w+) \| (\d+ of \d+) \| \d+ / \d+ \|$", page, re.M)
    }
    results = _flat((RESULTS / "README.md").read_text(encoding="utf-8"))
    said = re.search(
        r"p\(Holm\) < 0\.05 in (\d+ of \d+) Rational pairs and (\d+ of \d+) Exponential pairs", results
    )
    assert said is not None and (said.group(1), said.group(2)) == (cell["rational"], cell["exponential"])
    head = "seed pairs differing (McNemar p (Holm) < 0.05)"
    assert head in page and "Holm over the 20 seed pairs" in results


def test_the_suite_claim_is_what_the_suite_page_decides() -> None:
    """The suite page decides per network (one Holm family over all 20 comparisons) and, with 4 tasks,
    gives no cross-network verdict: the README's claim is about each network, not 'across networks'."""
    suite = (RESULTS / "suite-cifar10-nets.md").read_text(encoding="utf-8")
    decisions = re.findall(r"\(n=\d+, (better|worse|inconclusive)", suite)
    assert decisions and set(decisions) == {"inconclusive"} and "mean ranks only" in suite
    readme = _flat((REPO / "README.md").read_text(encoding="utf-8"))
    assert "no activation is established as better (or worse) than ReLU on any of the four networks" in readme
