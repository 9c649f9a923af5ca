"""Choosing the next interview question: red flags first, then expected information gain.

Two tools serve :mod:`pinchpoint.core.interview`:

* :class:`RuleScreen` reads every triage rule in three-valued logic. A rule *fires*
  (its condition holds on the known findings), is *ruled out* (no answer still to be asked
  could make it hold), or is *open*. A finding that is unknown and can no longer be asked
  (answered "don't know", or an examination finding in self-check mode) is read as
  :mod:`pinchpoint.core.triage` reads it: it fails a plain leaf (the interview reports it as a
  warning rather than letting it pass silently) and holds an ``unless_known_otherwise``
  leaf. While it may still be asked, a leaf that it alone could settle is open.
* :class:`Predictor` scores a question by the expected fall in uncertainty (entropy, in
  nats) over the lesion site plus the cause. It reads the answers so far as an assessment
  does (:func:`pinchpoint.core.posterior.weigh`), and gives each possible answer's vectors to
  the same log-joint kernel (:meth:`pinchpoint.core.likelihood.StackedModel.log_joint`), for
  every answer of every candidate question at once. Answers of one finding are enumerated; joint answers of a
  form, grid or body map are enumerated when there are few, else sampled from the
  posterior predictive (a hypothesis, whether its lesion involves each modality, then each
  finding), with a fixed seed so that the same state always gives the same choice.

Nothing here reads files or prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pinchpoint.core.likelihood import MODALITIES, Evidence, StackedRegionList, Vector
from pinchpoint.core.posterior import weigh
from pinchpoint.core.triage import leaf_test, matching_specs
from pinchpoint.core.vocabulary import Urgency

if TYPE_CHECKING:
    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Question
    from pinchpoint.core.vocabulary import Vocabulary
    from pinchpoint.knowledge import schema as s

__all__ = ["Predictor", "RuleScreen", "State", "Truth", "compile_screen", "screen_for"]

Matrix = npt.NDArray[np.float64]
Findings = Mapping[str, "FindingValue"]
Truth = bool | None
"""Three-valued truth: True (fires), False (ruled out), None (open)."""

_SEED = 20240601


# --- red-flag screening ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    ids_by_side: tuple[tuple[str, ...], ...]
    test: Callable[[object], bool]
    unknown_holds: bool = False

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i for ids in self.ids_by_side for i in ids)


@dataclass(frozen=True)
class _Node:
    kind: str  # "all", "any" or "leaf"
    children: tuple[_Node, ...] = ()
    leaf: _Leaf | None = None


@dataclass(frozen=True)
class ScreenRule:
    """A triage rule in the form the screen evaluates."""

    id: str
    level: Urgency
    root: _Node
    findings: frozenset[str]


@dataclass(frozen=True)
class RuleScreen:
    """Every triage rule compiled for three-valued evaluation."""

    rules: tuple[ScreenRule, ...]

    def truth(
        self,
        rule: ScreenRule,
        findings: Findings,
        open_ids: frozenset[str],
        maybe_ids: frozenset[str] = frozenset(),
    ) -> Truth:
        """Return whether ``rule`` fires (True), is settled (False) or asking could still fire it (None).

        Args:
            rule: The rule.
            findings: The known findings.
            open_ids: Unknown findings that may still be asked.
            maybe_ids: Unknown findings that will not be asked again but may be present (answered
                "don't know"). A rule that they alone keep open is not worth asking about
                (False), but one that needs them *and* a question still to ask is (None): the
                triage counts an unknown warning sign as possibly present
                (:func:`pinchpoint.core.triage.unanswered_signs`), so the interview asks the rest
                rather than leave it open.
        """
        value = _evaluate(rule.root, findings, open_ids, maybe_ids)
        return True if value == _TRUE else None if value == _ASK else False

    def open_rules(
        self,
        findings: Findings,
        open_ids: frozenset[str],
        above: Urgency,
        always: Urgency,
        maybe_ids: frozenset[str] = frozenset(),
    ) -> list[ScreenRule]:
        """Return the rules that could still fire and are more urgent than ``above``, or at least ``always``.

        Rules of level ``always`` and above stay open even when the triage already
        reaches their level, because what they would name (a suspected abscess rather than
        a disc) changes what is done, not only how soon.
        """
        return [
            rule
            for rule in self.rules
            if (rule.level > above or rule.level >= always)
            and rule.findings & open_ids
            and self.truth(rule, findings, open_ids, maybe_ids) is None
        ]


# A rule or condition in four values, combined like three-valued logic with "maybe" between
# "ask" and "false": it can hold only through a finding that will not be asked again.
_FALSE, _MAYBE, _ASK, _TRUE = 0, 1, 2, 3


def _evaluate(node: _Node, findings: Findings, open_ids: frozenset[str], maybe_ids: frozenset[str]) -> int:
    if node.leaf is not None:
        leaf = node.leaf
        sides = [_leaf_side(ids, leaf, findings, open_ids, maybe_ids) for ids in leaf.ids_by_side]
        return _all(sides)
    values = [_evaluate(child, findings, open_ids, maybe_ids) for child in node.children]
    return _all(values) if node.kind == "all" else max(values, default=_FALSE)


def _leaf_side(
    ids: Sequence[str],
    leaf: _Leaf,
    findings: Findings,
    open_ids: frozenset[str],
    maybe_ids: frozenset[str],
) -> int:
    """Return one side of a leaf in four values.

    True if a known finding passes; else "ask" while some finding may be asked; an
    ``unless_known_otherwise`` leaf whose findings are all unknown then holds, as the triage
    reads it; else "maybe" while a finding answered "don't know" may be present; else false.
    """
    result = _FALSE
    known = False
    for finding_id in ids:
        value = findings.get(finding_id)
        if value is not None:
            if leaf.test(value):
                return _TRUE
            known = True
        elif finding_id in open_ids:
            result = _ASK
        elif finding_id in maybe_ids and result == _FALSE:
            result = _MAYBE
    if result != _ASK and leaf.unknown_holds and not known:
        return _TRUE
    return result


def _all(values: Iterable[int]) -> int:
    """All of them: false if one is, else "ask" if one needs asking, else "maybe" if one may hold."""
    values = list(values)
    if not values:
        return _TRUE
    if min(values) == _FALSE:
        return _FALSE
    if _ASK in values:
        return _ASK
    return min(values)


def compile_screen(table: s.TriageTable, vocabulary: Vocabulary) -> RuleScreen:
    """Compile the rules of triage.yaml for three-valued evaluation (same reading as :mod:`triage`)."""
    compiler = _ScreenCompiler(table.definitions, vocabulary)
    rules = []
    for rule in table.rules:
        root = compiler.compile(rule.when)
        rules.append(ScreenRule(rule.id, Urgency.from_id(rule.level), root, frozenset(_ids(root))))
    return RuleScreen(tuple(rules))


def _ids(node: _Node) -> set[str]:
    if node.leaf is not None:
        return set(node.leaf.ids)
    return set().union(*(_ids(child) for child in node.children))


class _ScreenCompiler:
    def __init__(self, definitions: Mapping[str, s.Condition], vocabulary: Vocabulary) -> None:
        self.definitions = definitions
        self.vocabulary = vocabulary

    def compile(self, condition: s.Condition) -> _Node:
        if condition.ref is not None:
            return self.compile(self.definitions[condition.ref])
        if condition.all is not None:
            return _Node("all", tuple(self.compile(child) for child in condition.all))
        if condition.any is not None:
            return _Node("any", tuple(self.compile(child) for child in condition.any))
        specs = matching_specs(condition.finding or "", self.vocabulary)
        if condition.side == "both":
            by_side = tuple(
                tuple(spec.id for spec in specs if spec.side == side) for side in self.vocabulary.sides
            )
        else:
            by_side = (tuple(spec.id for spec in specs),)
        unknown_holds = condition.unless_known_otherwise is not None
        return _Node("leaf", leaf=_Leaf(by_side, leaf_test(condition), unknown_holds))


# --- information gain -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One observable of a question, with the log-likelihood of each of its outcomes."""

    modality: int  # index into MODALITIES, or -1
    inside: Matrix  # [K, U] when the lesion involves the modality
    outside: Vector  # [K] when it does not
    unit: Matrix  # [K, U]
    cause: Matrix  # [K, C]
    feature: str = ""  # a sided cause feature: outcomes are the feature's value (either side)
    defines: Matrix | None = None  # [K, C]: 1 where an outcome is a defining finding of the cause

    @property
    def outcomes(self) -> int:
        return int(self.outside.shape[0])


@dataclass(frozen=True)
class State:
    """The evidence of the known findings, read as :func:`pinchpoint.core.posterior.infer` reads it."""

    evidence: Evidence
    """One row: the summed log-likelihood vectors of the known findings."""
    features: Mapping[str, bool | int]
    """Each sided cause feature known so far, combined over the legs."""
    undefined: Vector
    """Log weight of each cause none of whose defining findings is present (0 elsewhere)."""

    @property
    def inside(self) -> Matrix:
        """[M, U]: the anatomical evidence per modality when the lesion involves it."""
        inside: Matrix = self.evidence.inside[0]
        return inside

    @property
    def outside(self) -> Vector:
        """[M]: the same evidence's background when it does not."""
        outside: Vector = self.evidence.outside[0]
        return outside


@dataclass
class _Deltas:
    """What each predicted answer adds to the known evidence, one row per answer."""

    unit: Matrix
    cause: Matrix
    inside: Matrix  # [B, M, U]
    outside: Matrix  # [B, M]
    weights: Vector | None  # None: rows are samples of equal weight
    defined: Matrix | None = None  # [B, C]: 1 where the answer supplies a cause's defining finding


class Predictor:
    """The likelihood model arranged for scoring many possible answers at once.

    The log joint of every predicted answer comes from the model's one kernel,
    :meth:`~pinchpoint.core.likelihood.StackedModel.log_joint`, given the known evidence and
    what each answer adds; the known evidence is read by :func:`pinchpoint.core.posterior.weigh`,
    as an assessment reads it.
    """

    def __init__(self, knowledge: Knowledge) -> None:
        model = knowledge.model
        stacked = model.stacked
        self.knowledge = knowledge
        self.model = model
        self.stacked = stacked
        self.units = len(model.units)
        self.causes = len(model.causes)
        self.by_site, self.site_starts = _runs(model.pair_site, len(model.site_ids))
        self.by_cause, self.cause_starts = _runs(model.pair_cause, self.causes)
        # Per modality and pair, the log chance that the lesion involves the modality (or not).
        self.pair_log_in = stacked.involved[:, model.pair_unit]  # [M, P]
        self.pair_log_out = stacked.not_involved[:, model.pair_unit]
        for index, override in stacked.overrides:
            self.pair_log_in[index, override.pairs] = override.log_in
            self.pair_log_out[index, override.pairs] = override.log_out
        self._no_pattern = np.zeros((1, self.causes))
        self._items: dict[str, tuple[_Item, ...]] = {}
        self._feature_vectors: dict[tuple[str, bool], Vector] = {}
        for feature in model.sided_cause_features.values():
            for value in (True, False):
                rows = stacked.rows.get((feature, value))
                self._feature_vectors[(feature, value)] = (
                    stacked.over_plain[rows.plain[0], self.units :]
                    if rows and rows.plain
                    else np.zeros(self.causes)
                )

    # --- state -------------------------------------------------------------------------------------

    def state(self, findings: Findings) -> State:
        """Return the evidence of ``findings``, read as :func:`pinchpoint.core.posterior.infer` reads it."""
        evidence, (reading,) = weigh([findings], self.model)
        undefined = np.zeros(self.causes)
        undefined[list(reading.undefined)] = self.model.undefined_log_weight
        return State(evidence, dict(reading.features), undefined)

    def log_joint(self, state: State) -> Vector:
        """Return the unnormalised log posterior over hypotheses (cause, site unit)."""
        first: Vector = self.stacked.log_joint(state.evidence)[0]
        return first

    def _log_joint_rows(self, state: State, deltas: _Deltas) -> Matrix:
        cause = deltas.cause
        if deltas.defined is not None:
            # An answer that supplies a defining finding lifts its cause's weight for being undefined.
            cause = cause - deltas.defined * state.undefined[None, :]
        added = Evidence(deltas.unit, cause, self._no_pattern, deltas.inside, deltas.outside)
        return self.stacked.log_joint(added, state.evidence)

    # --- entropy -------------------------------------------------------------------------------------

    def uncertainty(self, log_joint: Matrix) -> tuple[Vector, Vector]:
        """Return, per row of log posteriors, the entropy of site plus cause, and the log evidence."""
        top = log_joint.max(axis=1, keepdims=True)
        weights = np.exp(log_joint - top)
        total = weights.sum(axis=1, keepdims=True)
        posterior = weights / total
        # Marginals by summing runs of pairs that share a site (or a cause): far less work than
        # multiplying by the 0/1 membership matrices when a question has many sampled answers.
        sites = np.add.reduceat(posterior[:, self.by_site], self.site_starts, axis=1)
        causes = np.add.reduceat(posterior[:, self.by_cause], self.cause_starts, axis=1)
        entropy = _entropy(sites) + _entropy(causes)
        return entropy, (np.log(total) + top)[:, 0]

    def marginals(self, log_joint: Vector) -> tuple[Vector, Vector]:
        """Return the site and cause marginals of one log posterior."""
        posterior = np.exp(log_joint - log_joint.max())
        posterior /= posterior.sum()
        return posterior @ self.stacked.site_of_pair, posterior @ self.stacked.cause_of_pair

    # --- scoring ---------------------------------------------------------------------------------------

    def expected_gains(
        self,
        state: State,
        questions: Sequence[Question],
        *,
        max_enumerated: int,
        samples: int,
    ) -> Vector:
        """Return each question's expected fall in site-plus-cause entropy (nats) from its answer."""
        now = self.log_joint(state)
        entropy_now, log_evidence_now = self.uncertainty(now[None, :])
        gains = np.zeros(len(questions))
        blocks: list[_Deltas] = []
        owners: list[int] = []
        rng = np.random.default_rng(_SEED)
        posterior = np.exp(now - now.max())
        posterior /= posterior.sum()
        for index, question in enumerate(questions):
            items = self.items(question)
            if not items:
                continue
            count = math.prod(item.outcomes for item in items)
            if count <= max_enumerated:
                block = self._enumerate(state, items)
            else:
                block = self._sample(state, items, posterior, samples, rng)
            blocks.append(block)
            owners.append(index)
        if not blocks:
            return gains
        merged = _Deltas(
            np.concatenate([b.unit for b in blocks]),
            np.concatenate([b.cause for b in blocks]),
            np.concatenate([b.inside for b in blocks]),
            np.concatenate([b.outside for b in blocks]),
            None,
            np.concatenate([b.defined for b in blocks if b.defined is not None]),
        )
        entropy, log_evidence = self.uncertainty(self._log_joint_rows(state, merged))
        start = 0
        for block, index in zip(blocks, owners, strict=True):
            rows = block.unit.shape[0]
            part = entropy[start : start + rows]
            if block.weights is None:
                expected = float(part.mean())
            else:
                # P(answer) = evidence after / evidence now; renormalised over this question's answers.
                weight = block.weights * np.exp(log_evidence[start : start + rows] - log_evidence_now[0])
                expected = float((weight * part).sum() / weight.sum())
            gains[index] = float(entropy_now[0]) - expected
            start += rows
        return gains

    def items(self, question: Question) -> tuple[_Item, ...]:
        """Return the scored observables of a question (cached); an uninformative question has none."""
        cached = self._items.get(question.id)
        if cached is None:
            cached = tuple(self._build_items(question))
            self._items[question.id] = cached
        return cached

    def _build_items(self, question: Question) -> list[_Item]:
        items: list[_Item] = []
        features: set[str] = set()
        for finding in question.findings:
            listed = self.stacked.region_lists.get(finding)
            if listed is not None:
                items.extend(self._region_items(listed))
                continue
            feature = self.model.sided_cause_features.get(finding)
            if feature is not None:
                if feature not in features:
                    features.add(feature)
                    vectors = np.array([self._feature_vectors[(feature, v)] for v in (True, False)])
                    defines = np.array([self._defines(finding, [v]) for v in (True, False)])
                    items.append(self._item(-1, cause=vectors, feature=feature, defines=defines))
                continue
            item = self._finding_item(finding)
            if item is not None:
                items.append(item)
        return items

    def _finding_item(self, finding: str) -> _Item | None:
        """Return a finding's outcomes: one per distinct vector its values carry in the model.

        Values that share their (first) row, such as the numbers of one bin, are one outcome.
        """
        stacked = self.stacked
        outcomes: dict[tuple[bool, int], list[object]] = {}
        for (name, key), placed in stacked.rows.items():
            if name == finding and (placed.modality or placed.plain):
                first = (True, placed.modality[0]) if placed.modality else (False, placed.plain[0])
                outcomes.setdefault(first, []).append(key)
        if len(outcomes) < 2:
            return None
        anatomical = next(iter(outcomes))[0]
        rows = [row for _, row in outcomes]
        if anatomical:
            return self._item(
                stacked.unit_group[rows[0]],
                inside=stacked.over_units[rows],
                outside=stacked.unit_scalar[rows],
            )
        plain = stacked.over_plain[rows]
        defines = np.array([self._defines(finding, keys) for keys in outcomes.values()])
        return self._item(-1, unit=plain[:, : self.units], cause=plain[:, self.units :], defines=defines)

    def _defines(self, finding: str, keys: Sequence[object]) -> Vector:
        """Return 1 for each cause that one of these answers (lookup keys) of ``finding`` defines."""
        model = self.model
        binner = model.binners.get(finding)
        lows = dict(binner.ordered) if binner is not None else {}
        defines = np.zeros(self.causes)
        for one in model.defining:
            for key in keys:
                bin_range = lows.get(key) if isinstance(key, str) else None
                number = bin_range[0] if bin_range is not None else key
                if (finding, key) in one.positives or any(
                    finding == name and isinstance(number, int | float) and number >= at_least
                    for name, at_least in one.thresholds
                ):
                    defines[one.cause] = 1.0
        return defines

    def _region_items(self, listed: StackedRegionList) -> list[_Item]:
        """Return one yes/no outcome per region of an exhaustive region list."""
        stacked = self.stacked
        items = []
        for rows in listed.present.values():
            row = rows.modality[0]
            present, present_out = stacked.over_units[row], float(stacked.unit_scalar[row])
            # present = log p - log(1 - p) per unit, so log(1 - p) = -log(1 + e^present).
            absent = -np.logaddexp(0.0, present)
            absent_out = -float(np.logaddexp(0.0, present_out))
            items.append(
                self._item(
                    stacked.unit_group[row],
                    inside=np.array([present + absent, absent]),
                    outside=np.array([present_out + absent_out, absent_out]),
                )
            )
        return items

    def _item(
        self,
        modality: int,
        *,
        inside: Matrix | None = None,
        outside: Vector | None = None,
        unit: Matrix | None = None,
        cause: Matrix | None = None,
        feature: str = "",
        defines: Matrix | None = None,
    ) -> _Item:
        k = next(a.shape[0] for a in (inside, unit, cause) if a is not None)
        return _Item(
            modality=modality,
            inside=inside if inside is not None else np.zeros((k, self.units)),
            outside=outside if outside is not None else np.zeros(k),
            unit=unit if unit is not None else np.zeros((k, self.units)),
            cause=cause if cause is not None else np.zeros((k, self.causes)),
            feature=feature,
            defines=defines if defines is not None and defines.any() else None,
        )

    def _empty(self, rows: int) -> _Deltas:
        return _Deltas(
            np.zeros((rows, self.units)),
            np.zeros((rows, self.causes)),
            np.zeros((rows, len(MODALITIES), self.units)),
            np.zeros((rows, len(MODALITIES))),
            None,
            np.zeros((rows, self.causes)),
        )

    def _accumulate(self, deltas: _Deltas, item: _Item, chosen: npt.NDArray[np.intp], state: State) -> None:
        if item.defines is not None and deltas.defined is not None:
            deltas.defined = np.maximum(deltas.defined, item.defines[chosen])
        if item.feature:
            current = state.features.get(item.feature)
            if current is True:
                return
            base = self._feature_vectors[(item.feature, False)] if current is False else 0.0
            deltas.cause += item.cause[chosen] - base
            return
        deltas.unit += item.unit[chosen]
        deltas.cause += item.cause[chosen]
        if item.modality >= 0:
            deltas.inside[:, item.modality, :] += item.inside[chosen]
            deltas.outside[:, item.modality] += item.outside[chosen]

    def _enumerate(self, state: State, items: Sequence[_Item]) -> _Deltas:
        combos = np.array(list(product(*(range(item.outcomes) for item in items))), dtype=np.intp)
        deltas = self._empty(combos.shape[0])
        for column, item in enumerate(items):
            self._accumulate(deltas, item, combos[:, column], state)
        deltas.weights = np.ones(combos.shape[0])
        return deltas

    def _sample(
        self,
        state: State,
        items: Sequence[_Item],
        posterior: Vector,
        samples: int,
        rng: np.random.Generator,
    ) -> _Deltas:
        model = self.model
        pairs = rng.choice(posterior.shape[0], size=samples, p=posterior)
        units = model.pair_unit[pairs]
        causes = model.pair_cause[pairs]
        involved = {}
        for m in {item.modality for item in items if item.modality >= 0}:
            yes = self.pair_log_in[m, pairs] + state.inside[m, units]
            no = self.pair_log_out[m, pairs] + state.outside[m]
            involved[m] = rng.random(samples) < 1.0 / (1.0 + np.exp(np.clip(no - yes, -700.0, 700.0)))
        deltas = self._empty(samples)
        for item in items:
            logits = item.unit[:, units].T + item.cause[:, causes].T
            if item.modality >= 0:
                logits = logits + np.where(
                    involved[item.modality][:, None], item.inside[:, units].T, item.outside[None, :]
                )
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            cumulative = np.cumsum(weights, axis=1)
            draws = rng.random(samples)[:, None] * cumulative[:, -1:]
            chosen = np.minimum((cumulative < draws).sum(axis=1), item.outcomes - 1).astype(np.intp)
            self._accumulate(deltas, item, chosen, state)
        return deltas


def _runs(owner: npt.NDArray[np.intp], owners: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Return an order of the pairs grouping them by owner, and where each owner's run starts.

    The knowledge gives every site and every cause at least one pair, so no run is empty
    (an empty run would make ``reduceat`` repeat its neighbour's first value).
    """
    if (np.bincount(owner, minlength=owners) == 0).any():
        raise ValueError("every site and cause needs at least one (cause, site) pair in the model")
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(owners))
    return order.astype(np.intp), starts.astype(np.intp)


def _entropy(p: Matrix) -> Vector:
    safe = np.where(p > 0.0, p, 1.0)
    result: Vector = -(p * np.log(safe)).sum(axis=1)
    return result


def screen_for(knowledge: Knowledge) -> RuleScreen:
    """Return the :class:`RuleScreen` of ``knowledge`` (its :attr:`~Knowledge.screen`, built once)."""
    return knowledge.screen
