"""The ``pinchpoint`` command: assess case files, evaluate against expected answers, show an example.

A thin translator over :func:`pinchpoint.core.assessment.assess`::

    pinchpoint assess CASE.yaml            a readable report
    pinchpoint assess CASES/ --json        one contract JSON object per case (JSON Lines)
    pinchpoint assess CASE.yaml --json --detail    the same with the reasons and the plan's wording
    pinchpoint evaluate CASES/ [--json]    the scores of shared/contract/CASES.md
    pinchpoint evaluate CASES/ --interview the same through simulated interviews, with question counts
    pinchpoint evaluate CASES/ --interview --from-narrative   story first against plain, questions saved
    pinchpoint interview [--session FILE]  a terminal interview, saved and resumed with --session
    pinchpoint example [NAME] [--list]     assess a bundled example case
    pinchpoint knowledge article [--json]  every claim of the source article, graded
    pinchpoint read-text "TEXT" [--json]   propose findings from free text (- reads stdin); no assessment
    pinchpoint evaluate-text CORPUS...     recall and precision of free-text reading on annotated corpora
    pinchpoint serve [--host H] [--port N] [--database URL]   run the web app
                     [--allowed-host NAME] [--tls-cert F --tls-key F | --behind-tls-proxy]
    pinchpoint users add|list|remove|token|revoke-tokens|log    accounts and the access log

Each command imports what only it needs when it runs (the evaluation, the terminal interview,
FHIR, the web app): every run pays for its own command's modules, and ``assess DIR --json``,
whose start-up a batch waits for, pays for no other.

Errors pinchpoint raises on purpose (:class:`~pinchpoint.errors.PinchpointError`) are
printed as one line without a traceback, with exit code 2. Anything else is a bug and
propagates with its traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pinchpoint import Assessment, Evidence, Hypothesis, assess, assess_many
from pinchpoint.cli.audit import add_audit_commands
from pinchpoint.cli.batch import PARALLEL_FROM, available_cores, write_json_lines
from pinchpoint.cli.evaluate_text import add_evaluate_text_command
from pinchpoint.cli.knowledge import add_knowledge_command, plan_lines
from pinchpoint.cli.read_text import add_read_text_command
from pinchpoint.cli.users import add_users_command
from pinchpoint.errors import InputError, PinchpointError
from pinchpoint.io.casefile import parse_case_yaml, read_cases
from pinchpoint.io.fhir.detect import is_fhir_file
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.contract import to_contract

if TYPE_CHECKING:
    from pinchpoint.core.case import Case
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Mode
    from pinchpoint.core.vocabulary import Urgency
    from pinchpoint.evaluation import EvaluationReport

__all__ = ["main", "run"]

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left

SAFETY_NOTE = (
    "pinchpoint supports a clinician's judgement; it does not replace it.\n"
    "In an emergency, call your local emergency number (such as 112, 999 or 911) "
    "or go to the nearest emergency department."
)
_DEFAULT_EXAMPLE = "l5-foot-drop"
_SHOWN = 5
_BAR_WIDTH = 20
_RULE = "-" * 72
_METRICS = (
    ("triage_exact", "triage exact"),
    ("under_triage", "under-triage (unsafe)"),
    ("over_triage", "over-triage"),
    ("emergency_sensitivity", "emergency sensitivity"),
    ("site_top1", "site top-1"),
    ("site_top3", "site top-3"),
    ("cause_top1", "cause top-1"),
    ("cause_top3", "cause top-3"),
)

Command = Callable[[argparse.Namespace], int]


def run() -> NoReturn:
    """The console script (``pinchpoint`` and ``python -m pinchpoint``): run the command, then exit.

    ``assess`` and ``evaluate`` end the process without tearing its heap down object by object
    (the knowledge base, the frozen objects of a batch, every module): the operating system
    frees it at once, which saves a batch tens of milliseconds after its last line. What must
    outlive the process is finished first: logging is shut down and stdout and stderr flushed.
    Commands that hold a server, a database or another engine exit normally.
    """
    code, quick = _run(None)
    if not quick:
        sys.exit(code)
    logging.shutdown()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pinchpoint`` command line and return its exit code.

    Args:
        argv: The arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 on success, 2 when pinchpoint refused the input or its knowledge (the message
        is on stderr, prefixed ``pinchpoint: error:``), 141 when the reader of the
        output closed it early.
    """
    return _run(argv)[0]


def _run(argv: Sequence[str] | None) -> tuple[int, bool]:
    """Run the command line; return its exit code and whether the process may end at once."""
    args = _parser().parse_args(argv)
    command: Command = args.command
    quick = getattr(args, "quick_exit", False)
    try:
        if getattr(args, "resident", False):
            _keep_knowledge_resident()
        return command(args), quick
    except PinchpointError as exc:
        sys.stderr.write(f"pinchpoint: error: {exc}\n")
        return EXIT_ERROR, quick
    except BrokenPipeError:
        # The reader left early (`pinchpoint assess DIR --json | head`): stop quietly as Unix
        # tools do, and point stdout at devnull so that flushing it at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE, quick


def _keep_knowledge_resident() -> None:
    """Load the knowledge for a command that keeps it all its life, and set it aside from collection.

    The knowledge base is tens of thousands of objects that live as long as the process; left
    among the collected ones, every full collection during a batch walks all of them again.
    Freezing applies to everything alive at the call, so it happens here, once, at start-up,
    where the process is known to be a batch command (never inside the library).
    """
    load_knowledge()
    gc.freeze()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinchpoint",
        description="Clinical decision support for a pinched nerve in the leg.",
        epilog=SAFETY_NOTE,
    )
    commands = parser.add_subparsers(metavar="COMMAND", required=True)
    assess_command = commands.add_parser(
        "assess",
        help="assess a case file, a FHIR QuestionnaireResponse or Bundle (JSON), or every *.yaml in a folder",
    )
    assess_command.add_argument("path", metavar="FILE|DIR", type=Path)
    assess_command.add_argument(
        "--json", action="store_true", help="print one contract JSON object per case (JSON Lines)"
    )
    assess_command.add_argument(
        "--detail",
        action="store_true",
        help="with --json, add the findings for and against the leading sites and causes,"
        " and the wording of every plan item",
    )
    assess_command.add_argument(
        "--jobs",
        type=_positive,
        default=available_cores(),
        metavar="N",
        help=f"with --json, assess a folder of {PARALLEL_FROM} files or more in N processes"
        " (default: every core of this machine; 1 keeps it in one process)",
    )
    assess_command.set_defaults(command=_assess, resident=True, quick_exit=True)
    evaluate_command = commands.add_parser("evaluate", help="score the cases that state an expected answer")
    evaluate_command.add_argument("path", metavar="DIR", type=Path)
    evaluate_command.add_argument("--json", action="store_true", help="print the report as one JSON object")
    evaluate_command.add_argument(
        "--interview",
        action="store_true",
        help="interview a simulated patient per case: age, sex and pain regions first, answers from the case",
    )
    evaluate_command.add_argument(
        "--mode",
        choices=("clinician", "self-check"),
        default="clinician",
        help="with --interview: who answers (default: clinician, who can report examination findings)",
    )
    evaluate_command.add_argument(
        "--from-narrative",
        action="store_true",
        help="with --interview: start each case with a narrative from its story, and compare with the"
        " plain interview (questions asked, triage safety)",
    )
    evaluate_command.set_defaults(command=_evaluate, resident=True, quick_exit=True)
    interview_command = commands.add_parser(
        "interview", help="answer questions in the terminal to assess a case"
    )
    interview_command.add_argument(
        "--clinician", action="store_true", help="clinician mode: examination questions, clinician wording"
    )
    interview_command.add_argument(
        "--session",
        metavar="FILE",
        type=Path,
        help="save the session to FILE after every answer, and resume from FILE if it exists",
    )
    interview_command.set_defaults(command=_interview)
    example_command = commands.add_parser("example", help="assess a bundled example case")
    example_command.add_argument(
        "name", nargs="?", default=_DEFAULT_EXAMPLE, help="an example name (see --list)"
    )
    example_command.add_argument("--list", action="store_true", help="list the example names")
    example_command.set_defaults(command=_example)
    add_knowledge_command(commands)
    add_read_text_command(commands)
    add_evaluate_text_command(commands)
    add_audit_commands(commands)
    serve_command = commands.add_parser("serve", help="run the web app (self-check, clinician mode, history)")
    serve_command.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve_command.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve_command.add_argument(
        "--database",
        metavar="URL",
        default="",
        help="SQLAlchemy URL (default: a SQLite file in the user data folder)",
    )
    serve_command.add_argument(
        "--allowed-host",
        metavar="NAME",
        action="append",
        default=[],
        help="a host name clients use (repeatable); needed on an address other than loopback; never '*'",
    )
    serve_command.add_argument(
        "--tls-cert", metavar="FILE", default="", help="serve HTTPS with this PEM certificate"
    )
    serve_command.add_argument(
        "--tls-key", metavar="FILE", default="", help="the PEM private key of --tls-cert"
    )
    serve_command.add_argument(
        "--behind-tls-proxy",
        action="store_true",
        help="a reverse proxy in front serves HTTPS (cookies are marked Secure)",
    )
    serve_command.add_argument(
        "--secret-file",
        metavar="FILE",
        default="",
        help="the key that signs session cookies (made, mode 0600, when missing; default: user data folder)",
    )
    serve_command.add_argument(
        "--cds-issuer",
        metavar="ISSUER=JWKS",
        action="append",
        default=[],
        help="a CDS client allowed to call /cds-services: its iss and JWK Set (file or https URL)",
    )
    serve_command.add_argument(
        "--public-url",
        metavar="URL",
        default="",
        help="the address clients reach this server at (the audience of CDS clients' JWTs)",
    )
    serve_command.set_defaults(command=_serve)
    add_users_command(commands)
    return parser


def _positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return number


def _assess(args: argparse.Namespace) -> int:
    knowledge = load_knowledge()
    if is_fhir_file(args.path):
        return _assess_fhir(args, knowledge)
    if args.json:
        write_json_lines(args.path, knowledge, detail=args.detail, jobs=args.jobs)
    else:
        _write_reports(read_cases(args.path, knowledge.vocabulary), knowledge)
    return EXIT_OK


def _assess_fhir(args: argparse.Namespace, knowledge: Knowledge) -> int:
    """Assess a FHIR QuestionnaireResponse or Bundle file (ages and durations counted to today)."""
    from pinchpoint.io.fhir.inputs import assess_fhir, read_fhir_file  # noqa: PLC0415 (the FHIR models are slow to import: only FHIR input pays)

    fhir_input = read_fhir_file(args.path, knowledge, today=date.today())
    assessment = assess_fhir(fhir_input, knowledge)
    if args.json:
        sys.stdout.write(json.dumps(to_contract(assessment)) + "\n")
    else:
        report = _render_assessment(fhir_input.case, assessment, knowledge)
        sys.stdout.write(f"{SAFETY_NOTE}\n{report}\n{_RULE}\n{SAFETY_NOTE}\n")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    if args.from_narrative and not args.interview:
        raise InputError(
            "--from-narrative needs --interview",
            location="evaluate",
            expected="evaluate DIR --interview --from-narrative",
        )
    from pinchpoint.cli.evaluate_text import story_first_report  # noqa: PLC0415 (see the module docstring)
    from pinchpoint.evaluation import score  # noqa: PLC0415

    knowledge = load_knowledge()
    cases = read_cases(args.path, knowledge.vocabulary)
    if args.interview:
        mode: Mode = "self_check" if args.mode == "self-check" else "clinician"
        if args.from_narrative:
            return story_first_report(cases, knowledge, mode, args.json)
        return _evaluate_interviews(cases, knowledge, mode, args.json)
    report = score(zip(cases, assess_many(cases, knowledge, explain_findings=False), strict=True))
    text = json.dumps(report.to_json()) if args.json else _render_evaluation(report)
    sys.stdout.write(text + "\n")
    return EXIT_OK


def _evaluate_interviews(cases: list[Case], knowledge: Knowledge, mode: Mode, as_json: bool) -> int:
    from pinchpoint.evaluation.simulation import evaluate_interviews  # noqa: PLC0415 (see the module docstring)

    evaluation = evaluate_interviews(cases, knowledge, mode=mode)
    if as_json:
        sys.stdout.write(json.dumps(evaluation.to_json()) + "\n")
        return EXIT_OK
    lines = [
        _render_evaluation(evaluation.report),
        "",
        f"Simulated interviews ({mode} mode): questions asked after age, sex and pain regions",
        f"  median {evaluation.questions_median:g}, 90th percentile {evaluation.questions_p90:g},"
        f" maximum {evaluation.questions_max}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def _interview(args: argparse.Namespace) -> int:
    from pinchpoint.cli.terminal import run_interview  # noqa: PLC0415 (see the module docstring)

    return run_interview(load_knowledge(), clinician=args.clinician, session=args.session)


def _example(args: argparse.Namespace) -> int:
    examples = _examples()
    if args.list:
        names = (f"{name} (default)" if name == _DEFAULT_EXAMPLE else name for name in examples)
        sys.stdout.write("\n".join(names) + "\n")
        return EXIT_OK
    resource = examples.get(args.name)
    if resource is None:
        raise InputError(
            f"there is no example {args.name!r}",
            location="pinchpoint example",
            expected="one of " + ", ".join(examples),
        )
    knowledge = load_knowledge()
    case = parse_case_yaml(
        resource.read_bytes(), knowledge.vocabulary, origin=f"example {resource.name}", default_id=args.name
    )
    _write_reports([case], knowledge)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from pinchpoint.web.server import serve  # noqa: PLC0415
    from pinchpoint.web.settings import Settings  # noqa: PLC0415

    if not 0 < args.port < 65536:
        raise InputError(
            "the port is out of range",
            location="pinchpoint serve --port",
            expected="1 to 65535",
            got=args.port,
        )
    issuers = []
    for value in args.cds_issuer:
        issuer, separator, jwks = value.partition("=")
        if not separator or not issuer or not jwks:
            raise InputError(
                "a CDS issuer is not ISSUER=JWKS",
                location="pinchpoint serve --cds-issuer",
                expected="the issuer's iss, '=', then its JWK Set file or https:// URL",
                got=value,
            )
        issuers.append((issuer, jwks))
    settings = Settings(
        host=args.host,
        port=args.port,
        database_url=args.database,
        allowed_hosts=tuple(args.allowed_host),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        behind_tls_proxy=args.behind_tls_proxy,
        secret_file=args.secret_file,
        cds_issuers=tuple(issuers),
        public_url=args.public_url,
    )
    serve(settings)
    return EXIT_OK


def _examples() -> dict[str, Traversable]:
    """Return the bundled example cases by name (file stem), in name order."""
    folder = resources.files("pinchpoint").joinpath("examples")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return {file.name.removesuffix(".yaml"): file for file in files}


def _write_reports(cases: Iterable[Case], knowledge: Knowledge) -> None:
    write = sys.stdout.write
    write(SAFETY_NOTE + "\n")
    for case in cases:
        write(_render_assessment(case, assess(case, knowledge), knowledge) + "\n")
    write(_RULE + "\n" + SAFETY_NOTE + "\n")


def _render_assessment(case: Case, assessment: Assessment, knowledge: Knowledge) -> str:
    """Return the readable report of one case: triage, ranked sites and causes, and why.

    Everything is in words from the knowledge; ids appear only in the JSON output.
    """
    names = knowledge.names
    lines = [_RULE, f"Case {case.id}" + (f": {case.title}" if case.title else ""), ""]
    lines += _triage_lines(assessment, knowledge)
    lines += _ranked_lines(
        "Where the nerve is harmed, most likely first",
        assessment.sites,
        lambda site: names.site(site, "plain"),
        names.likelihood_words,
    )
    lines += _ranked_lines(
        "What harms it, most likely first",
        assessment.causes,
        lambda cause: names.cause(cause, "plain"),
        names.likelihood_words,
    )
    for leading in (assessment.sites[:1], assessment.causes[:1]):
        lines += [line for hypothesis in leading for line in _why_lines(hypothesis)]
    lines += [f"Warning: {warning}" for warning in assessment.warnings]
    lines += ["", *plan_lines(assessment, knowledge)]
    if case.expect is not None:
        expect = case.expect
        lines.append(
            f"The case file expects: triage {_level_words(expect.triage)};"
            f" site {'; '.join(names.site(site) for site in expect.sites)};"
            f" cause {'; '.join(names.cause(cause) for cause in expect.causes)}"
        )
    lines.append(f"Knowledge version: {assessment.knowledge_version}")
    return "\n".join(lines)


def _triage_lines(assessment: Assessment, knowledge: Knowledge) -> list[str]:
    level = assessment.triage.id
    lines = [f"Triage: {_level_words(assessment.triage).upper()}: {knowledge.vocabulary.triage[level]}"]
    lines += [
        f"  - {reason.clinician} [{_level_words(reason.level)}; source: {reason.source}]"
        for reason in assessment.triage_reasons
    ]
    return [*lines, ""]


def _level_words(level: Urgency) -> str:
    return level.id.replace("_", " ")


def _ranked_lines(
    heading: str,
    hypotheses: Sequence[Hypothesis],
    plain_words: Callable[[str], str],
    likelihood_words: Callable[[float], str],
) -> list[str]:
    lines = [heading]
    shown = hypotheses[:_SHOWN]
    width = max((len(h.label) for h in shown), default=0)
    for rank, h in enumerate(shown, start=1):
        lines.append(f"  {rank}. {h.label:<{width}}  {_bar(h.p)}  {likelihood_words(h.p)}")
        lines.append(f"     {plain_words(h.id)}")
    return [*lines, ""]


def _bar(p: float) -> str:
    filled = round(min(max(p, 0.0), 1.0) * _BAR_WIDTH)
    return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]"


def _why_lines(hypothesis: Hypothesis) -> list[str]:
    lines = [f"Why {hypothesis.label}, compared with the next most likely"]
    lines += _evidence_lines("for", "+", hypothesis.evidence_for)
    lines += _evidence_lines("against", "-", hypothesis.evidence_against)
    return [*lines, ""]


def _evidence_lines(heading: str, sign: str, evidence: Sequence[Evidence]) -> list[str]:
    if not evidence:
        return [f"  {heading}: nothing recorded"]
    return [f"  {heading}:"] + [f"    {sign} {e.clinician}" for e in evidence]


def _render_evaluation(report: EvaluationReport) -> str:
    """Return the evaluation report as a table of metrics and a table of misses."""
    values = report.to_json()
    lines = [f"Evaluation of {report.cases} cases (knowledge version {report.knowledge_version})", ""]
    width = max(len(label) for _, label in _METRICS)
    for key, label in _METRICS:
        value = values[key]
        shown = "n/a (no case expects an emergency)" if value is None else f"{value:7.1%}"
        lines.append(f"  {label:<{width}}  {shown}")
    lines += _calibration_lines(report)
    lines += ["", f"Misses ({len(report.misses)})"]
    if report.misses:
        lines += _miss_table(report)
    return "\n".join(lines)


def _calibration_lines(report: EvaluationReport) -> list[str]:
    """Return one line per aspect: the mean top-1 probability beside its accuracy, Brier and ECE."""
    lines = []
    for aspect, value in (("site", report.site_calibration), ("cause", report.cause_calibration)):
        if value is not None:
            lines.append(
                f"  {aspect} top-1 probability {value.mean_p:.2f} (right {value.accuracy:.0%}),"
                f" Brier {value.brier:.3f}, calibration error {value.ece:.3f}"
            )
    return ["", *lines] if lines else []


def _miss_table(report: EvaluationReport) -> list[str]:
    rows = [("case", "aspect", "expected", "got")] + [
        (m.case, m.aspect, m.expected if isinstance(m.expected, str) else ", ".join(m.expected), m.got or "-")
        for m in report.misses
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]


if __name__ == "__main__":
    raise SystemExit(main())
