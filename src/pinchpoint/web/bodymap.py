"""The body map: the shapes of every vocabulary region, and a site's territory on it.

The geometry is data (``data/bodymap.yaml``); this module turns it into what a template
draws: one shape per region and side, with its plain name (the region's vocabulary
description and the side), and whether it is selected or highlighted.

The territory of a lesion site is never typed here: it is the skin territory that
:mod:`pinchpoint.core.anatomy` derives for the site's units (its dermatome for a root, its
cutaneous branches for a nerve), as compiled into ``knowledge.model.units``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.web.content import WebContent

__all__ = ["MapShape", "MapView", "region_label", "render_map", "site_territory"]

_SKIN = "skin:"


@dataclass(frozen=True, slots=True)
class MapShape:
    """One region on one side, as drawn: id, plain name, polygon, and its state."""

    region: str
    label: str
    points: str
    selected: bool = False
    degree: float = 0.0

    @property
    def territory_class(self) -> str:
        """``core`` for the core of a territory, ``edge`` for its edge, else ``""``."""
        if self.degree >= 1.0:
            return "core"
        return "edge" if self.degree > 0.0 else ""


@dataclass(frozen=True, slots=True)
class MapView:
    """One panel of the map (front, back or soles) with its shapes and side labels."""

    id: str
    title: str
    x: float
    left_label: str
    right_label: str
    silhouettes: tuple[str, ...]
    shapes: tuple[MapShape, ...]


def region_label(knowledge: Knowledge, content: WebContent, region_id: str) -> str:
    """Return the plain name of a sided region id, e.g. ``"back of the calf, left"``."""
    base, _, side = region_id.partition(".")
    description = knowledge.vocabulary.regions[base].description
    return f"{description}, {content.ui.sides[side]}" if side else description


def render_map(
    knowledge: Knowledge,
    content: WebContent,
    *,
    selected: Collection[str] = (),
    territory: Mapping[str, float] | None = None,
) -> tuple[MapView, ...]:
    """Return the panels of the body map with ``selected`` regions and a ``territory`` highlighted."""
    geometry = content.bodymap
    chosen = frozenset(selected)
    degrees = territory or {}
    views = []
    for view in geometry.views:
        # The panel shows one side on the viewer's left; its label goes there.
        other = "right" if view.left_side_at == "left" else "left"
        views.append(
            MapView(
                id=view.id,
                title=view.title,
                x=view.x,
                left_label=content.ui.sides[view.left_side_at],
                right_label=content.ui.sides[other],
                silhouettes=tuple(s.points for s in geometry.silhouettes if s.view == view.id),
                shapes=tuple(
                    MapShape(
                        region=shape.region,
                        label=region_label(knowledge, content, shape.region),
                        points=shape.points,
                        selected=shape.region in chosen,
                        degree=degrees.get(shape.region, 0.0),
                    )
                    for shape in geometry.regions
                    if shape.view == view.id
                ),
            )
        )
    return tuple(views)


def site_territory(knowledge: Knowledge, site_id: str) -> dict[str, float]:
    """Return the skin territory of a lesion site: region id to degree (1.0 core, 0.5 edge).

    A site with several variants (the tibial nerve at the knee or at the ankle) shows the
    largest degree any variant gives a region. A site without skin territory (a non-neural
    cause, a purely motor nerve) gives an empty mapping.

    Example:
        ``root.L5.left`` gives the front and outer lower leg, the top of the foot, the
        first web space and the big toe on the left, as the dermatome table says.
    """
    territory: dict[str, float] = {}
    for unit in knowledge.model.units:
        if unit.site_id != site_id:
            continue
        for key, degree in unit.territory.items():
            if key.startswith(_SKIN):
                region = key.removeprefix(_SKIN)
                territory[region] = max(territory.get(region, 0.0), degree)
    return territory
