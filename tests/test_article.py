"""Tests of the article's coverage: every sentence of the source article is a graded claim or says nothing.

The claim list is derived from the article itself (its paragraphs, list items and sentences,
:func:`pinchpoint.knowledge.article.article_sentences`), so a sentence that no entry of
``article.yaml`` covers fails the suite, as does an anchor that no longer points to exactly
one sentence of its section.
"""

from __future__ import annotations

import json
from typing import cast

import pytest

from pinchpoint.cli.knowledge import ARTICLE_TABLE, GENERATED_BY, article_markdown
from pinchpoint.cli.main import main
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge import schema as s
from pinchpoint.knowledge.article import ArticleSentence, article_sentences, find_anchor
from tests.corpus import REPO, SHARED

pytestmark = pytest.mark.core

_ARTICLE = SHARED / "seed" / "pinched-nerve-in-the-leg.txt"
_COVERAGE = REPO / "docs" / "article-coverage.md"
_NAMED_CLAIMS = [
    # The claims issue 3 names; each must be a graded claim of article.yaml.
    "bed rest",
    "diet",
    "saunas",
    "turpentine",  # warming ointments
    "novocaine",
    "Indomethacin",
    "DDT",  # diadynamic currents
    "UHF",
    "Darsonval",
    "Acupuncture",
    "massag",
    "raise the thigh",  # leg elevation
    "bandage",  # in pregnancy
    "high-heeled",
    "X-ray",
    "magnetic resonance",
    "During pregnancy, no diagnosis",
    "necrosis",
]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The packaged knowledge base."""
    return load_knowledge()


@pytest.fixture(scope="module")
def table(knowledge: Knowledge) -> s.ArticleTable:
    """The article table of the knowledge base."""
    return cast(s.ArticleTable, knowledge.tables["article"])


@pytest.fixture(scope="module")
def sentences() -> tuple[ArticleSentence, ...]:
    """The sentences of the seed article's body."""
    if not _ARTICLE.is_file():
        pytest.skip(f"the source article is absent: {_ARTICLE} does not exist")
    return article_sentences(_ARTICLE.read_text(encoding="utf-8"))


def _claim_sentences(claim: s.ArticleClaim, sentences: tuple[ArticleSentence, ...]) -> list[ArticleSentence]:
    return [sentence for anchor in claim.anchors for sentence in find_anchor(anchor, sentences)]


def test_every_sentence_of_the_article_is_covered(
    table: s.ArticleTable, sentences: tuple[ArticleSentence, ...]
) -> None:
    """Each sentence of the article is a claim graded in article.yaml or declared to claim nothing."""
    anchors = [anchor for claim in table.claims for anchor in claim.anchors]
    anchors += [entry.anchor for entry in table.not_claims]
    covered = {sentence for anchor in anchors for sentence in find_anchor(anchor, sentences)}
    uncovered = [f"[{sentence.section}] {sentence.text}" for sentence in sentences if sentence not in covered]
    assert uncovered == []
    assert len(sentences) > len(table.claims)


def test_every_claim_anchor_points_to_one_sentence_of_its_section(
    table: s.ArticleTable, sentences: tuple[ArticleSentence, ...]
) -> None:
    """A claim's anchors each find exactly one sentence, under the section the claim names."""
    faults = []
    for claim in table.claims:
        for anchor in claim.anchors:
            found = find_anchor(anchor, sentences)
            if len(found) != 1:
                faults.append(f"{claim.id}: {anchor!r} finds {len(found)} sentences")
            elif found[0].section != claim.section:
                faults.append(f"{claim.id}: {anchor!r} is under {found[0].section!r}, not {claim.section!r}")
    faults += [
        f"not_claims: {e.anchor!r} finds nothing"
        for e in table.not_claims
        if not find_anchor(e.anchor, sentences)
    ]
    assert faults == []


def test_no_sentence_is_both_a_claim_and_not_a_claim(
    table: s.ArticleTable, sentences: tuple[ArticleSentence, ...]
) -> None:
    """A sentence declared to claim nothing is not also the sentence of a graded claim."""
    claimed = {sentence for claim in table.claims for sentence in _claim_sentences(claim, sentences)}
    idle = {sentence for entry in table.not_claims for sentence in find_anchor(entry.anchor, sentences)}
    assert sorted(sentence.text for sentence in claimed & idle) == []


@pytest.mark.parametrize("keyword", _NAMED_CLAIMS)
def test_named_claim_is_graded(
    keyword: str, table: s.ArticleTable, sentences: tuple[ArticleSentence, ...], knowledge: Knowledge
) -> None:
    """Each claim the issue names is located by a claim of article.yaml, with a verdict and a source."""
    claims = [
        claim
        for claim in table.claims
        if any(keyword.lower() in sentence.text.lower() for sentence in _claim_sentences(claim, sentences))
    ]
    assert claims != [], f"no claim of article.yaml covers the sentence with {keyword!r}"
    assert all(claim.source in knowledge.sources and claim.why.strip() for claim in claims)


def test_title_is_the_articles_first_line(table: s.ArticleTable) -> None:
    """article.yaml names the article it grades, by its path under shared/ and its title."""
    if not _ARTICLE.is_file():
        pytest.skip(f"the source article is absent: {_ARTICLE} does not exist")
    assert _ARTICLE.read_text(encoding="utf-8").splitlines()[0].strip() == table.title
    assert (SHARED.parent / table.article).resolve() == _ARTICLE.resolve()


def _item_verdicts(knowledge: Knowledge) -> dict[str, str]:
    advice = cast(s.AdviceTable, knowledge.tables["advice"]).items
    tests = cast(s.InvestigationsTable, knowledge.tables["investigations"]).items
    return {row.id: row.verdict for row in [*advice, *tests]}


# A rejected claim must reach the person as advice against it; an unproven one as unproven or advised
# against; an unsafe one (no diagnosis in pregnancy) as the advice that replaces it.
_SHOWN_AS = {
    "not_recommended": {"not_recommended", "unsafe"},
    "no_evidence": {"no_evidence", "not_recommended", "unsafe"},
    "unsafe": {"recommended", "not_recommended", "unsafe"},
}


def test_doubtful_advice_of_the_article_reaches_the_person(
    table: s.ArticleTable, knowledge: Knowledge
) -> None:
    """Each claim the evidence rejects or cannot support maps to an item the plan shows for what it is."""
    verdicts = _item_verdicts(knowledge)
    doubtful = [claim for claim in table.claims if claim.verdict in _SHOWN_AS]
    faults = [
        claim.id
        for claim in doubtful
        if not {verdicts[i] for i in [*claim.maps_to.advice, *claim.maps_to.investigations]}
        & _SHOWN_AS[claim.verdict]
    ]
    assert {claim.verdict for claim in doubtful} == set(_SHOWN_AS)
    assert faults == []


def test_article_sentences_reads_headings_lists_and_links() -> None:
    """Headings start sections, list items are blocks, links and the related-posts tail are skipped."""
    text = (
        "The Title\n\nIntro one. Intro two.\n\nCauses\n\n  1. Disc. It bulges.\n  2. Tumour.\n\n"
        "Read also … elsewhere\n\nThe Title\n\nMore text: here.\n\nRelated Posts\n\nOther page.\n"
    )
    got = [(sentence.section, sentence.text) for sentence in article_sentences(text)]
    assert got == [
        ("The Title", "Intro one."),
        ("The Title", "Intro two."),
        ("Causes", "Disc."),
        ("Causes", "It bulges."),
        ("Causes", "Tumour."),
        ("Causes", "More text: here."),
    ]


def test_anchor_that_is_a_whole_sentence_finds_only_that_sentence() -> None:
    """'Injury.' finds the sentence 'Injury.' and not a longer sentence ending in 'injury.'."""
    sentences = article_sentences("T\n\n  1. Injury. Lifting can cause spinal cord injury.\n")
    assert [sentence.text for sentence in find_anchor("Injury.", sentences)] == ["Injury."]
    assert [sentence.text for sentence in find_anchor("cord injury", sentences)] == [
        "Lifting can cause spinal cord injury."
    ]


# --- the generated document and the CLI ---------------------------------------------------------------


def test_coverage_document_is_up_to_date(knowledge: Knowledge) -> None:
    """docs/article-coverage.md is what tools/generate_article_coverage.py writes now."""
    expected = article_markdown(knowledge) + "\n"
    assert _COVERAGE.read_text(encoding="utf-8") == expected, (
        f"{_COVERAGE} is out of date: run python {GENERATED_BY}"
    )


def test_coverage_document_names_its_generator_and_every_claim(
    knowledge: Knowledge, table: s.ArticleTable
) -> None:
    """The first line names the script and its input; every claim appears with its verdict and source."""
    text = article_markdown(knowledge)
    first = text.splitlines()[0]
    assert GENERATED_BY in first
    assert ARTICLE_TABLE in first
    assert all(claim.claim in text and f"`{claim.source}`" in text for claim in table.claims)


def test_cli_knowledge_article_prints_every_claim(
    capsys: pytest.CaptureFixture[str], table: s.ArticleTable
) -> None:
    """`pinchpoint knowledge article` prints each claim with its verdict, why and source."""
    assert main(["knowledge", "article"]) == 0
    out = capsys.readouterr().out
    assert all(claim.claim in out and f"[{claim.source}]" in out for claim in table.claims)


def test_cli_knowledge_article_json(capsys: pytest.CaptureFixture[str], table: s.ArticleTable) -> None:
    """`pinchpoint knowledge article --json` prints one array with every claim, its verdict and source."""
    assert main(["knowledge", "article", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in data] == [claim.id for claim in table.claims]
    assert all(item["verdict"] and item["source"] and item["source_title"] for item in data)


def test_cli_report_shows_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """The readable report of an example case shows what to do first, the plan and its sources."""
    assert main(["example", "cauda-equina"]) == 0
    out = capsys.readouterr().out
    assert "What to do first\n  - Go to an emergency department now" in out
    assert "Investigations, soonest first" in out
    assert "Emergency MRI of the lower spine (now, within hours)" in out
    assert "source: bmj-bp-ces" in out


def test_repository_file_paths_exist() -> None:
    """The paths the generated document names exist in the repository."""
    assert (REPO / GENERATED_BY).is_file()
    assert (REPO / ARTICLE_TABLE).is_file()
