"""Tests of the pages' data: the body map draws every region once, the forms ask every finding."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from tools import make_bodymap

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import KnowledgeError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.web.bodymap import site_territory
from pinchpoint.web.content import WebContent, data_directory, load_content


def _region_ids() -> list[str]:
    return sorted(load_knowledge().vocabulary.region_ids)


@pytest.mark.parametrize("region", _region_ids())
def test_every_region_and_side_is_drawn_exactly_once(content: WebContent, region: str) -> None:
    """Each vocabulary region on each side (midline regions once) has exactly one shape on the map."""
    drawn = Counter(shape.region for shape in content.bodymap.regions)
    assert drawn[region] == 1


def test_the_map_draws_nothing_but_vocabulary_regions(content: WebContent, knowledge: Knowledge) -> None:
    """No shape names a region the vocabulary does not have."""
    assert {shape.region for shape in content.bodymap.regions} == knowledge.vocabulary.region_ids


def test_the_generated_geometry_is_up_to_date() -> None:
    """bodymap.yaml is what tools/make_bodymap.py writes (it is never edited by hand)."""
    assert (data_directory() / "bodymap.yaml").read_text(encoding="utf-8") == make_bodymap.render()


def test_every_vocabulary_finding_is_asked_on_a_page(content: WebContent, knowledge: Knowledge) -> None:
    """The self-check and clinician pages together ask every finding of the vocabulary."""
    asked = {finding for sections in content.forms.pages.values() for s in sections for finding in s.findings}
    assert asked == {spec.base for spec in knowledge.vocabulary.findings.values()}


@pytest.mark.parametrize(
    "site", ["root.L5.left", "root.S1.right", "nerve.common_peroneal.left", "cauda_equina"]
)
def test_a_site_territory_is_the_anatomy_skin_territory(knowledge: Knowledge, site: str) -> None:
    """The highlighted territory is the skin territory anatomy.py derives for the site's units."""
    expected: dict[str, float] = {}
    for unit in knowledge.model.units:
        if unit.site_id == site:
            for key, degree in unit.territory.items():
                if key.startswith("skin:"):
                    expected[key[5:]] = max(expected.get(key[5:], 0.0), degree)
    assert site_territory(knowledge, site) == expected
    assert expected  # each of these sites supplies skin


def test_the_l5_territory_is_the_l5_dermatome(knowledge: Knowledge) -> None:
    """L5 on the left highlights the big toe and the top of the foot on the left, nothing on the right."""
    territory = site_territory(knowledge, "root.L5.left")
    assert territory["big_toe.left"] == 1.0
    assert territory["foot_dorsum.left"] == 1.0
    assert not [region for region in territory if region.endswith(".right")]


def _broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    for file in data_directory().glob("*.yaml"):
        (tmp_path / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "old", "new", "error", "message"),
    [
        (
            "ui.yaml",
            "  source: girft-ces-2023\nlevels:",
            "  source: nowhere-2020\nlevels:",
            "MissingSourceError",
            "ui.yaml: safety: source 'nowhere-2020' is not in sources.yaml; expected a source id "
            "of knowledge/data/sources.yaml (got 'nowhere-2020')",
        ),
        (
            "ui.yaml",
            '    word: "Urgent"',
            '    wording: "Urgent"',
            "SchemaError",
            "ui.yaml: levels.urgent.word: a web data file does not match its schema: Field "
            "required; expected the layout described at the top of the file (got {'wording': "
            "'Urgent', 'icon': 'clock', 'now': [\"Be seen by a doctor today, wi...)",
        ),
        (
            "forms.yaml",
            "[age, sex, pregnant,",
            "[age, sex, pregnnt,",
            "UnresolvedReferenceError",
            "forms.yaml: pages.self_check: finding 'pregnnt' is not in the vocabulary; expected "
            "a finding id of the vocabulary (without side or movement) (got 'pregnnt')",
        ),
        (
            "bodymap.yaml",
            "- region: heel.left",
            "- region: heel.lefty",
            "UnresolvedReferenceError",
            "bodymap.yaml: regions: regions the vocabulary does not have are drawn; expected "
            "every region id of the vocabulary (region.side, or midline) exactly once (got "
            "['heel.lefty']); regenerate it with python -m tools.make_bodymap",
        ),
    ],
)
# pytest passes the parametrized arguments by name.
def test_broken_page_data_is_refused_with_its_place(  # noqa: PLR0917
    tmp_path: Path, knowledge: Knowledge, name: str, old: str, new: str, error: str, message: str
) -> None:
    """A broken data file stops the app from being built, with a message naming the file and key."""
    folder = _broken_copy(tmp_path, name, old, new)
    with pytest.raises(KnowledgeError) as raised:
        load_content(knowledge, folder)
    assert type(raised.value).__name__ == error
    assert str(raised.value) == message
