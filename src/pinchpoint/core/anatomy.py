"""Derive each candidate lesion's territory from the innervation tables.

A lesion explains a finding because the finding's muscle, skin region or reflex lies in
its territory. Nothing here lists territories: they are computed from the roots of each
muscle, reflex and dermatome, from the nerve tree and its cutaneous branches, and from
where each root's pain is felt (``knowledge/data``). A territory maps structure keys to a
degree: 1.0 when the structure lies in the core of the lesion's supply, 0.5 at its edge
(a minor root contribution, an accessory muscle, a half of a midline region).

Structure keys: ``movement:<movement>:<side>``, ``reflex:<reflex>:<side>``,
``plantar:<side>``, ``skin:<region id>``, ``pain:<region id>``, ``function:<function>``,
``test:<test>:<side>``, ``site:<region id>`` and ``leg:<side>`` (any movement of that leg, for
findings that name the leg but not the muscle: "the leg feels weak", wasting).

``site:`` keys mark where a nerve lesion *is*: the regions the lesioned nerves themselves
(those a variant names) run through, where an entrapment hurts and is tender. Regions
that only their branches pass through stay in the ``pain:`` territory without a ``site:``
key, so the compression site can be weighed on its own (``likelihoods.yaml``,
``lesion_site_pain``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pinchpoint.knowledge import schema as s

__all__ = ["Anatomy", "Territory", "leg_key", "plantar_key", "structure_key"]

Territory = dict[str, float]
"""Structure key to degree of involvement (1.0 core, 0.5 edge)."""

_DEGREE = {"major": 1.0, "minor": 0.5}
_ROLE = {"prime": 1.0, "accessory": 0.5}
_MIDLINE_FROM_ONE_SIDE = 0.5


def structure_key(kind: str, item: str, side: str | None = None) -> str:
    """Return the key of one structure, e.g. ``movement:ankle_dorsiflexion:left``."""
    return f"{kind}:{item}:{side}" if side else f"{kind}:{item}"


@dataclass(frozen=True)
class Anatomy:
    """The anatomy tables, with the questions the reasoning asks of them."""

    sides: tuple[str, ...]
    midline_regions: frozenset[str]
    regions: tuple[str, ...]
    movements: tuple[str, ...]
    reflexes: tuple[str, ...]
    nerves: s.NervesTable
    muscles: s.MusclesTable
    reflex_table: s.ReflexesTable
    skin: s.SkinTable
    radicular_pain: s.RadicularPainTable
    sacral_functions: s.SacralFunctionsTable
    polyneuropathy: s.PolyneuropathyTable
    tests: s.ProvocationTestsTable

    def subtree(self, nerves: Iterable[str]) -> frozenset[str]:
        """Return the nerves named and every nerve that branches from them."""
        found = set(nerves)
        changed = True
        while changed:
            changed = False
            for name, nerve in self.nerves.nerves.items():
                if nerve.parent in found and name not in found:
                    found.add(name)
                    changed = True
        return frozenset(found)

    def lesion_site_regions(self, variant: s.Variant) -> frozenset[str]:
        """Return the regions the nerves a variant names run through: where the lesion itself lies.

        Only the named nerves count, not their branches: a sciatic lesion at the notch lies
        in the buttock and the back of the thigh, not in the calf its tibial branch reaches.
        A variant may add the regions where its pain is typically felt most (``pain_sites``:
        the buttocks and thighs of neurogenic claudication).
        """
        courses = {region for nerve in variant.nerves for region in self.nerves.nerves[nerve].course}
        return frozenset(courses | set(variant.pain_sites))

    def territory(self, variant: s.Variant, side: str | None) -> Territory:
        """Return the territory of one lesion variant on ``side`` (None: both sides)."""
        sides = self.sides if variant.sides == "both" or side is None else (side,)
        one_sided = len(sides) == 1
        territory: Territory = {}
        if variant.roots:
            _merge(territory, self._root_territory(variant.roots, sides, one_sided))
        if variant.nerves:
            supplied = self.subtree(variant.nerves) - self.subtree(variant.excluding)
            _merge(territory, self._nerve_territory(supplied, frozenset(variant.nerves), sides, one_sided))
        for region in sorted(self.lesion_site_regions(variant)):
            for one in sides:
                self._add_region(territory, "site", region, side=one, degree=1.0, one_sided=one_sided)
        if variant.upper_motor_neuron is not None:
            _merge(territory, self._upper_motor_neuron_territory(_DEGREE[variant.upper_motor_neuron]))
        if variant.length_dependent:
            _merge(territory, self._length_dependent_territory(sides))
        for one in self.sides:
            movements = [territory.get(structure_key("movement", m, one), 0.0) for m in self.movements]
            if max(movements, default=0.0) > 0.0:
                territory[leg_key(one)] = max(movements)
        return territory

    def _root_territory(self, roots: Mapping[str, str], sides: tuple[str, ...], one_sided: bool) -> Territory:
        weight = {root: _DEGREE[degree] for root, degree in roots.items()}
        territory: Territory = {}
        for side in sides:
            self._root_motor_territory(territory, weight, side)
            self._root_sensory_territory(territory, weight, side, one_sided)
        if not one_sided:
            for name, function in self.sacral_functions.functions.items():
                _raise(territory, structure_key("function", name), _overlap(weight, function.roots))
        return territory

    def _root_motor_territory(self, territory: Territory, weight: Mapping[str, float], side: str) -> None:
        for muscle in self.muscles.muscles.values():
            degree = _overlap(weight, muscle.roots)
            for movement, role in muscle.movements.items():
                _raise(territory, structure_key("movement", movement, side), degree * _ROLE[role])
        for name, reflex in self.reflex_table.reflexes.items():
            _raise(territory, structure_key("reflex", name, side), _overlap(weight, reflex.roots))
        for name, test in self.tests.tests.items():
            _raise(territory, structure_key("test", name, side), _overlap(weight, test.roots))

    def _root_sensory_territory(
        self, territory: Territory, weight: Mapping[str, float], side: str, one_sided: bool
    ) -> None:
        for region, supply in self.skin.regions.items():
            degree = _overlap(weight, supply.roots)
            self._add_region(territory, "skin", region, side=side, degree=degree, one_sided=one_sided)
            self._add_region(territory, "pain", region, side=side, degree=degree, one_sided=one_sided)
        for root, pain in self.radicular_pain.roots.items():
            for region in pain.regions:
                self._add_region(
                    territory, "pain", region, side=side, degree=weight.get(root, 0.0), one_sided=one_sided
                )

    def _nerve_territory(
        self, supplied: frozenset[str], lesioned: frozenset[str], sides: tuple[str, ...], one_sided: bool
    ) -> Territory:
        territory: Territory = {}
        for side in sides:
            self._nerve_motor_territory(territory, supplied, lesioned, side)
            self._nerve_sensory_territory(territory, supplied, side, one_sided)
        if not one_sided:
            for name, function in self.sacral_functions.functions.items():
                if function.nerve in supplied:
                    _raise(territory, structure_key("function", name), 1.0)
        return territory

    def _nerve_motor_territory(
        self, territory: Territory, supplied: frozenset[str], lesioned: frozenset[str], side: str
    ) -> None:
        for muscle in self.muscles.muscles.values():
            if muscle.nerve in supplied:
                for movement, role in muscle.movements.items():
                    _raise(territory, structure_key("movement", movement, side), _ROLE[role])
        for name, reflex in self.reflex_table.reflexes.items():
            if reflex.nerve in supplied:
                _raise(territory, structure_key("reflex", name, side), 1.0)
        for name, test in self.tests.tests.items():
            if lesioned & set(test.nerves):
                _raise(territory, structure_key("test", name, side), 1.0)

    def _nerve_sensory_territory(
        self, territory: Territory, supplied: frozenset[str], side: str, one_sided: bool
    ) -> None:
        for region, supply in self.skin.regions.items():
            degree = max((_DEGREE[d] for nerve, d in supply.nerves.items() if nerve in supplied), default=0.0)
            self._add_region(territory, "skin", region, side=side, degree=degree, one_sided=one_sided)
            self._add_region(territory, "pain", region, side=side, degree=degree, one_sided=one_sided)
        for nerve in supplied:
            for region in self.nerves.nerves[nerve].course:
                self._add_region(territory, "pain", region, side=side, degree=1.0, one_sided=one_sided)

    def _upper_motor_neuron_territory(self, degree: float) -> Territory:
        territory: Territory = {}
        minor = _DEGREE["minor"]
        for side in self.sides:
            _raise(territory, plantar_key(side), degree)
            if degree < _DEGREE["major"]:
                continue
            for movement in self.movements:
                _raise(territory, structure_key("movement", movement, side), degree)
            for reflex in self.reflexes:
                _raise(territory, structure_key("reflex", reflex, side), degree)
            for region in self.regions:
                self._add_region(territory, "skin", region, side=side, degree=minor, one_sided=False)
        if degree >= _DEGREE["major"]:
            for function in self.sacral_functions.functions:
                _raise(territory, structure_key("function", function), degree)
        return territory

    def _length_dependent_territory(self, sides: tuple[str, ...]) -> Territory:
        table = self.polyneuropathy
        territory: Territory = {}
        for side in sides:
            for region, degree in table.regions.items():
                self._add_region(
                    territory, "skin", region, side=side, degree=_DEGREE[degree], one_sided=False
                )
                self._add_region(
                    territory, "pain", region, side=side, degree=_DEGREE[degree], one_sided=False
                )
            for movement, degree in table.movements.items():
                _raise(territory, structure_key("movement", movement, side), _DEGREE[degree])
            for reflex, degree in table.reflexes.items():
                _raise(territory, structure_key("reflex", reflex, side), _DEGREE[degree])
        return territory

    def _add_region(
        self, territory: Territory, kind: str, region: str, *, side: str, degree: float, one_sided: bool
    ) -> None:
        if degree <= 0.0:
            return
        if region in self.midline_regions:
            _raise(
                territory,
                structure_key(kind, region),
                degree * (_MIDLINE_FROM_ONE_SIDE if one_sided else 1.0),
            )
        else:
            _raise(territory, structure_key(kind, f"{region}.{side}"), degree)


def leg_key(side: str) -> str:
    """Return the structure key of the whole leg on ``side``: any of its movements."""
    return f"leg:{side}"


def plantar_key(side: str) -> str:
    """Return the structure key of the plantar response on ``side``."""
    return f"plantar:{side}"


def _overlap(weight: Mapping[str, float], supply: Mapping[str, str]) -> float:
    """Degree to which lesioned roots (weighted) cover a structure's root supply."""
    return max((weight.get(root, 0.0) * _DEGREE[degree] for root, degree in supply.items()), default=0.0)


def _raise(territory: Territory, key: str, degree: float) -> None:
    if degree > territory.get(key, 0.0):
        territory[key] = degree


def _merge(territory: Territory, other: Territory) -> None:
    for key, degree in other.items():
        _raise(territory, key, degree)
