"""Benchmark: where the questions of a story-first interview go, and how far a reader could take it.

Usage::

    python benchmarks/story_first.py [CASES_DIR ...] [--mode self-check|clinician] [--questions]

For every case with a narrative and an expected answer it interviews the person three ways and
counts the questions asked after the intake:

* plainly (no story);
* story first, as ``pinchpoint evaluate --interview --from-narrative`` does (the reader proposes,
  the simulated person keeps what is true of them);
* with a perfect reader: every finding of the case file taken as stated and confirmed, except a
  red flag the case denies (false, or trauma "none"), which is asked by rule, as the reader must.

The third is the ceiling of story first under the red-flag rule on these cases: no reader can save
more. With ``--questions`` it also lists, per question id, how often story first still asks it,
how often the perfect reader does, and whether it is a warning-sign question. A benchmark, not a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from pinchpoint.core.case import Case
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Mode
from pinchpoint.evaluation.narrative import simulate_from_narrative
from pinchpoint.evaluation.simulation import SimulatedInterview, answer_to_the_end, simulate, simulated_answer
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.freetext import interview_from_findings, red_flag_findings
from pinchpoint.io.knowledge.loader import load_knowledge

_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_DENIALS = (False, "none")
"""Values that deny a finding: a red flag with one of them is asked, never taken from a story."""


def perfect_reader(case: Case, knowledge: Knowledge, mode: Mode) -> SimulatedInterview:
    """Interview ``case`` as if a reader had read every one of its findings, red-flag denials left to ask."""
    red_flags = red_flag_findings(knowledge)
    vocabulary = knowledge.vocabulary
    stated = {
        finding: value
        for finding, value in case.findings.items()
        if not (vocabulary.findings[finding].base in red_flags and value in _DENIALS)
    }
    story = interview_from_findings(stated, knowledge, mode=mode).to_dict()
    told = {answer["question"] for answer in story["answers"]}
    bank = knowledge.questions
    intake: list[dict[str, Any]] = []
    for question_id in bank.intake:
        value = simulated_answer(bank[question_id], case.findings)
        if question_id not in told and value is not None:
            intake.append({"question": question_id, "value": value, "phase": "intake"})
    interview = Interview.from_dict({**story, "answers": [*intake, *story["answers"]]}, knowledge)
    return answer_to_the_end(interview, case)


def main() -> None:
    """Print the questions plain, story first and with a perfect reader, per set of cases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[_SHARED / "cases", _SHARED / "validation"])
    parser.add_argument("--mode", choices=["self-check", "clinician"], default="self-check")
    parser.add_argument("--questions", action="store_true", help="also list the questions still asked")
    args = parser.parse_args()
    mode: Mode = "clinician" if args.mode == "clinician" else "self_check"
    knowledge = load_knowledge()
    bank = knowledge.questions
    for path in args.paths:
        cases = [
            c for c in read_cases(path, knowledge.vocabulary) if c.expect is not None and c.narrative.strip()
        ]
        plain = story = perfect = warning_signs = 0
        story_asks: Counter[str] = Counter()
        perfect_asks: Counter[str] = Counter()
        for case in cases:
            before = simulate(case, knowledge, mode=mode)
            after = simulate_from_narrative(case, knowledge, mode=mode)
            best = perfect_reader(case, knowledge, mode)
            plain += len(before.questions)
            story += len(after.questions)
            perfect += len(best.questions)
            warning_signs += sum(1 for q in best.questions if bank[q].group == "red_flags")
            story_asks.update(after.questions)
            perfect_asks.update(best.questions)
        count = len(cases) or 1
        print(
            f"{path} ({len(cases)} cases, {mode}): questions plain {plain}, story first {story} "
            f"(saved {1 - story / plain:.1%}), perfect reader {perfect} (saved {1 - perfect / plain:.1%}); "
            f"the perfect reader still asks {perfect / count:.1f} a case, "
            f"{warning_signs / count:.1f} of them warning-sign questions"
        )
        if args.questions:
            for question, asked in story_asks.most_common():
                mark = "warning sign" if bank[question].group == "red_flags" else ""
                best = perfect_asks[question]
                print(f"  {question:32} story first {asked:3}  perfect reader {best:3}  {mark}")


if __name__ == "__main__":
    main()
