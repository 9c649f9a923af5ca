"""The ``pinchpoint read-text`` command: free text in, proposed findings out, nothing assessed.

``pinchpoint read-text "TEXT"`` (or ``-`` to read standard input) prints every proposed finding
with the words it was read from, the red flags left for the interview and why, and the mentions
that propose nothing. When the proposals, if right, make it an emergency, what to do now comes
first; ``--json`` prints :meth:`pinchpoint.io.freetext.TextReading.to_dict`. There is
deliberately no ``assess --text``: findings read from text are proposals until someone confirms
them, and an assessment of unconfirmed text would look more certain than it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pinchpoint.io.knowledge.loader import load_knowledge

if TYPE_CHECKING:
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Mode

__all__ = ["add_read_text_command", "reading_lines"]

_DISCLAIMER = (
    "pinchpoint supports a clinician's judgement; it does not replace it.\n"
    "In an emergency, call your local emergency number (such as 112, 999 or 911) "
    "or go to the nearest emergency department."
)


def add_read_text_command(commands: Any) -> None:
    """Add ``read-text TEXT [--json] [--clinician]`` to the CLI (an argparse subparsers object)."""
    command = commands.add_parser(
        "read-text", help="propose findings from free text (to be confirmed; nothing is assessed)"
    )
    command.add_argument("text", metavar="TEXT", help="the words to read, or - to read standard input")
    command.add_argument("--json", action="store_true", help="print the reading as one JSON object")
    command.add_argument(
        "--clinician",
        action="store_true",
        help="read a clinician's note (notation such as 'EHL 4/5 L', '3/52'), reasons for a clinician",
    )
    command.set_defaults(command=_read_text_command)


def _read_text_command(args: argparse.Namespace) -> int:
    # Imported here: the lexicon's module is large, and the other commands never read free text.
    from pinchpoint.io.freetext import emergency_in_text, read_text  # noqa: PLC0415

    text = _standard_input() if args.text == "-" else args.text
    knowledge = load_knowledge()
    mode: Mode = "clinician" if args.clinician else "self_check"
    reading = read_text(text, knowledge, mode=mode)
    data = {**reading.to_dict(knowledge, mode), "emergency": emergency_in_text(reading, knowledge, mode)}
    if args.json:
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        sys.stdout.write("\n".join(reading_lines(data, knowledge)) + "\n")
    return 0


def _standard_input() -> str:
    """Read standard input as UTF-8 whatever the locale; bytes that are not UTF-8 become U+FFFD.

    Decoding strictly would end in a traceback under a UTF-8 locale (Python decodes standard
    input strictly there); :func:`~pinchpoint.io.freetext.read_text` refuses the replacement
    character by its place, as it refuses any undecodable text.
    """
    stream = getattr(sys.stdin, "buffer", None)
    return sys.stdin.read() if stream is None else stream.read().decode("utf-8", errors="replace")


def reading_lines(data: dict[str, Any], knowledge: Knowledge) -> list[str]:
    """Return the readable report of a reading given as :meth:`TextReading.to_dict` data."""
    emergency = data.get("emergency") or []
    lines = [emergency[0], *(f"  - {why}" for why in emergency[1:-1]), emergency[-1], ""] if emergency else []
    lines += [data["notice"], ""]
    sections = (
        ("Proposed findings (confirm each)", data["proposed"]),
        ("Warning signs left for the interview to ask", data["left_for_interview"]),
        ("Mentioned but not proposed", data["not_proposed"]),
    )
    for heading, rows in sections:
        lines.append(f"{heading}:")
        if not rows:
            lines.append("  (none)")
        for row in rows:
            lines.append(f'  {_finding(row, knowledge)}  <- "{row["text"]}" [{row["start"]}:{row["end"]}]')
            cues = ", ".join(f'{c["category"].lower()} "{c["text"]}"' for c in row["cues"])
            if cues:
                lines.append(f"      context: {cues}")
            if "why" in row:
                lines.append(f"      {row['why']}")
        lines.append("")
    lines.append(f"knowledge {data['knowledge_version']}")
    lines.append(_DISCLAIMER)
    return lines


def _finding(row: dict[str, Any], knowledge: Knowledge) -> str:
    spec = knowledge.vocabulary.findings.get(row["finding"])
    label = f"{row['finding']}" + (f" ({spec.description})" if spec is not None else "")
    value = row["value"]
    if value is None:
        return label
    if isinstance(value, list):
        return f"{label}: {', '.join(value)}"
    return f"{label}: {json.dumps(value)}"
