"""The terminal interview: ``pinchpoint interview`` over :class:`pinchpoint.core.interview.Interview`.

Choices are picked with the arrow keys and Enter (or a number key); a body map is a list
with Space to mark each place; numbers are typed. ``b`` takes the last answer back and
``q`` saves and quits. When standard input is not a terminal the same questions are asked
as numbered lists read line by line, so the command also works in a pipe.

A thin translator over :class:`~pinchpoint.service.sessions.InterviewService`: it asks, reads
the keys or lines into values (:mod:`pinchpoint.service.values`) and hands them to the
service, which checks, answers, takes back and saves. With ``--session FILE`` the session is
kept in FILE (the service's one state format, written atomically after every step) and
resumed from FILE when it exists; a file saved before (a bare ``Interview.to_dict()``) is read
too. A corrupt file is refused with a message, never loaded in part. Every question and label
comes from the question bank, and the summary ends with the disclaimer and what to do in an
emergency.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pinchpoint.core.interview import Interview
from pinchpoint.core.questions import Cell, Mode, Question
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InterviewConflictError, InvalidAnswerError, InvalidSessionError
from pinchpoint.io.readers import load_json, read_regular_file
from pinchpoint.service.sessions import InterviewService, Session, upgrade_state
from pinchpoint.service.values import number_from_text

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.service.store import InterviewStore

__all__ = ["load_session", "run_interview"]

EXIT_OK = 0
_WINDOW = 12
_MAX_SESSION_BYTES = 1024 * 1024
"""The largest session file read: a session is a few kilobytes."""
_KEY_HELP = "  (arrows or number: choose, Enter: confirm, b: back, q: save and quit)"
_MAP_HELP = "  (arrows: move, Space: mark or unmark, Enter: confirm, b: back, q: save and quit)"
_LINE_HELP = "  (type the answer and Enter; ?: don't know, b: back, q: save and quit)"
_SHOWN = 3
_RULE = "-" * 72


class _Back(Exception):  # noqa: N818 - a request to go back, not an error
    """The user asked to take the last answer back."""


class _Quit(Exception):  # noqa: N818 - a request to quit, not an error
    """The user asked to save and quit."""


@dataclass(frozen=True, slots=True)
class _Choice:
    label: str
    value: object


@dataclass(frozen=True, slots=True)
class _FileRecord:
    id: str
    state: Mapping[str, Any]
    assessment_id: str | None = None


class _SessionFile:
    """One session kept in one JSON file: the :class:`InterviewStore` of the terminal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def create_interview(self, state: Mapping[str, Any]) -> _FileRecord:
        return self.update_interview(str(self.path), state)

    def update_interview(self, interview_id: str, state: Mapping[str, Any]) -> _FileRecord:
        """Write the state atomically (a temporary file, then a rename)."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            # Readable by the owner only, as the database is: the file holds health data.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)  # a temporary file left by an earlier crash keeps its mode
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(json.dumps(state, indent=1) + "\n")
            temporary.replace(self.path)
        except OSError as exc:
            raise InvalidSessionError(
                "the session file cannot be written",
                location=str(self.path),
                expected="a writable path",
                got=exc.strerror,
            ) from exc
        return _FileRecord(interview_id, state)

    def get_interview(self, interview_id: str) -> _FileRecord:
        """Read the file; a session saved in the format before (a bare interview) is converted."""
        data = load_json(
            read_regular_file(
                self.path,
                error=InvalidSessionError,
                what="the session file",
                expected="a session saved by pinchpoint interview",
                limit=_MAX_SESSION_BYTES,
            ),
            origin=str(self.path),
            error=InvalidSessionError,
            expected="a session saved by pinchpoint interview",
        )
        state = (upgrade_state(data) or data) if isinstance(data, dict) else {}
        return _FileRecord(interview_id, state)


def load_session(path: Path, knowledge: Knowledge) -> Session:
    """Read a saved session file.

    Raises:
        InvalidSessionError: The file cannot be read, is not JSON, or is not a valid
            session; nothing is loaded in part.
    """
    service = InterviewService(knowledge, _SessionFile(path))
    try:
        return service.load(str(path))
    except InterviewConflictError as exc:
        raise InvalidSessionError(
            "the session file is not a session this version of pinchpoint can resume",
            location=str(path),
            expected=exc.expected,
            hint="start a new interview without this file, or with another --session",
        ) from exc


def run_interview(
    knowledge: Knowledge,
    *,
    clinician: bool = False,
    session: Path | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
) -> int:
    """Run the interview in the terminal and print the assessment; return the exit code.

    Raises:
        InvalidSessionError: The session file is corrupt or cannot be written.
    """
    mode: Mode = "clinician" if clinician else "self_check"
    store: InterviewStore
    if session is None:
        # Imported here: the store module brings SQLAlchemy, which `pinchpoint assess` never needs.
        from pinchpoint.service.store import MemoryInterviewStore  # noqa: PLC0415

        store = MemoryInterviewStore()
    else:
        store = _SessionFile(session)
    service = InterviewService(knowledge, store)
    if session is not None and session.exists():
        current = load_session(session, knowledge)
    else:
        current = service.start(mode=mode)
    console = _Console(stdin or sys.stdin, stdout or sys.stdout)
    ui = _InterviewUI(service, current, console, session)
    with console.raw():
        finished = ui.run()
    if finished:
        console.write(ui.summary() + "\n")
    return EXIT_OK


class _InterviewUI:
    def __init__(
        self, service: InterviewService, session: Session, console: _Console, path: Path | None
    ) -> None:
        self.service = service
        self.current = session
        self.interview = session.interview
        self.console = console
        self.session = path
        self.bank = session.interview.knowledge.questions
        self.mode = session.interview.mode

    def label(self, label_id: str) -> str:
        return self.bank.label(label_id, self.mode)

    def run(self) -> bool:
        """Ask until the interview is finished (True) or the user quits (False).

        Once the answers make it an emergency, what to do now is printed at once (a
        self-check then has nothing more to ask; a clinician's interview goes on).
        """
        self.console.write(self.label("disclaimer") + "\n" + self.label("emergency_advice") + "\n")
        warned = False
        while True:
            question = self.interview.next_question()
            if question is None:
                return True  # the summary follows, what to do now first
            if self.interview.emergency and not warned:  # a clinician's interview goes on
                self.console.write("\n" + self._act_now() + "\n")
                warned = True
            progress = self.interview.progress()
            phase = {"screening": "screening", "diagnostic": "narrowing"}.get(progress.phase or "")
            heading = self.label("progress").format(number=progress.answered + 1)
            if phase is not None:
                heading += " - " + self.label(phase)
            self.console.write("\n" + _RULE + "\n" + heading + "\n")
            try:
                self.service.answer(self.current, question.id, self.ask(question))
            except _Back:
                if self.interview.answers:
                    self.service.back(self.current)
            except _Quit:
                if self.session is not None:
                    self.console.write(self.label("saved").format(path=self.session) + "\n")
                self.console.write(self.label("disclaimer") + "\n" + self.label("emergency_advice") + "\n")
                return False
            except InvalidAnswerError as exc:
                self.console.write(f"{exc}\n")

    def _act_now(self) -> str:
        vocabulary = self.interview.knowledge.vocabulary
        return self.label("emergency_now").format(what=vocabulary.triage[Urgency.EMERGENCY.id])

    # --- questions -----------------------------------------------------------------------------------

    def ask(self, question: Question) -> object:
        text = question.wording.text(self.mode)
        if question.kind == "yes_no":
            return self.console.choose(text, self._yes_no())
        if question.kind == "choice":
            choices = [_Choice(o.wording.text(self.mode), o.value) for o in question.options]
            return self.console.choose(text, [*choices, _Choice(self.label("dont_know"), None)])
        if question.kind == "number":
            return self._number(text, question)
        if question.kind == "body_map":
            return self._body_map(text)
        if question.kind == "grid":
            return self._grid(text, question)
        return self._form(text, question)

    def _yes_no(self) -> list[_Choice]:
        return [
            _Choice(self.label("yes"), True),
            _Choice(self.label("no"), False),
            _Choice(self.label("dont_know"), None),
        ]

    def _number(self, text: str, question: Question | Cell) -> object:
        low, high = question.minimum, question.maximum
        kind = question.number_type if isinstance(question, Question) else question.type
        shown = f"{text} [{_plain(low)}-{_plain(high)}]" if low is not None and high is not None else text
        while True:
            reply = self.console.line(shown)
            if reply == "?":
                return None
            value = number_from_text(reply, whole=kind == "int")
            if not isinstance(value, str):
                return value
            self.console.write(f"'{reply}' is not a number.\n")

    def _body_map(self, text: str) -> object:
        vocabulary = self.interview.knowledge.vocabulary
        choices = [_Choice(self.label("none_marked"), []), _Choice(self.label("dont_know"), None)]
        for name, region in vocabulary.regions.items():
            if region.midline:
                choices.append(_Choice(region.description, name))
            else:
                choices += [
                    _Choice(f"{region.description} ({self.label(side)})", f"{name}.{side}")
                    for side in vocabulary.sides
                ]
        marked = self.console.choose_many(text, choices, special=2)
        if marked is None:
            return None
        return [choices[i].value for i in sorted(marked)]

    def _cell(self, prompt: str, cell: Cell) -> object:
        if cell.type == "bool":
            return self.console.choose(prompt, self._yes_no())
        if cell.type == "enum":
            values = [_Choice(v, v) for v in cell.values]
            return self.console.choose(prompt, [*values, _Choice(self.label("dont_know"), None)])
        if (
            cell.type == "int"
            and cell.minimum is not None
            and cell.maximum is not None
            and cell.maximum <= 10
        ):
            grades = [_Choice(str(g), g) for g in range(int(cell.maximum), int(cell.minimum) - 1, -1)]
            return self.console.choose(prompt, [*grades, _Choice(self.label("dont_know"), None)])
        return self._number(prompt, cell)

    def _form(self, text: str, question: Question) -> object:
        self.console.write(text + "\n")
        answer: dict[str, object] = {}
        for cell in question.cells:
            side = f" ({self.label(cell.side)})" if cell.side else ""
            answer[cell.finding] = self._cell("  " + cell.wording.text(self.mode) + side, cell)
        return answer

    def _grid(self, text: str, question: Question) -> object:
        self.console.write(text + "\n")
        answer: dict[str, object] = {}
        rows: dict[str, list[Cell]] = {}
        for cell in question.cells:
            rows.setdefault(cell.row, []).append(cell)
        for cells in rows.values():
            wording = "  " + cells[0].wording.text(self.mode)
            if all(cell.type == "bool" for cell in cells):
                answer.update(self._sides(wording, cells))
                continue
            for cell in cells:
                answer[cell.finding] = self._cell(f"{wording} ({self.label(cell.side or '')})", cell)
        return answer

    def _sides(self, prompt: str, cells: Sequence[Cell]) -> dict[str, object]:
        by_side = {cell.side: cell.finding for cell in cells}
        choices = [_Choice(self.label("no"), ())]
        choices += [_Choice(self.label(side), (side,)) for side in by_side if side]
        if len(by_side) > 1:
            choices.append(_Choice(" + ".join(self.label(side) for side in by_side if side), tuple(by_side)))
        choices.append(_Choice(self.label("dont_know"), None))
        picked = self.console.choose(prompt, choices)
        if picked is None:
            return dict.fromkeys(by_side.values())
        assert isinstance(picked, tuple)
        return {finding: side in picked for side, finding in by_side.items()}

    # --- summary ---------------------------------------------------------------------------------------

    def summary(self) -> str:
        assessment = self.service.result(self.current)
        return _summary(assessment, self.interview, self.label)


def _summary(assessment: Assessment, interview: Interview, label: Any) -> str:
    mode = interview.mode
    vocabulary = interview.knowledge.vocabulary
    level = assessment.triage.id
    lines = ["", _RULE]
    if assessment.triage >= Urgency.EMERGENCY:  # what to do now comes first, before anything else
        lines += [label("emergency_now").format(what=vocabulary.triage[level]), ""]
    lines += [label("summary"), "", label("triage_heading") + ":"]
    lines.append(f"  {level.upper().replace('_', ' ')}: {vocabulary.triage[level]}")
    lines += [f"  - {r.patient if mode == 'self_check' else r.clinician}" for r in assessment.triage_reasons]
    for heading, ranked in (("sites_heading", assessment.sites), ("causes_heading", assessment.causes)):
        lines += ["", label(heading) + ":"]
        for h in ranked[:_SHOWN]:
            name = h.id if h.label in {"", h.id} else f"{h.id} ({h.label})"
            lines.append(f"  {h.p:6.1%}  {name}")
    if assessment.warnings:
        lines += ["", label("warnings_heading") + ":"]
        lines += [f"  - {warning}" for warning in assessment.warnings]
    lines += ["", _RULE, label("disclaimer"), label("emergency_advice")]
    lines.append(f"knowledge version {assessment.knowledge_version}")
    return "\n".join(lines)


def _plain(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


class _Console:
    """Reads keys or lines and draws menus; raw key mode only when standard input is a terminal."""

    def __init__(self, stdin: IO[str], stdout: IO[str]) -> None:
        self.stdin = stdin
        self.stdout = stdout
        try:
            self.interactive = stdin.isatty() and stdout.isatty()
        except (AttributeError, ValueError):
            self.interactive = False
        self._saved: Any = None

    def write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    @contextlib.contextmanager
    def raw(self) -> Iterator[None]:
        """Keep the terminal in cbreak mode (keys arrive one by one, unechoed) while inside."""
        if not self.interactive:
            yield
            return
        import termios  # noqa: PLC0415 - POSIX only, and only for a real terminal
        import tty  # noqa: PLC0415

        fd = self.stdin.fileno()
        self._saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, self._saved)

    # --- keys --------------------------------------------------------------------------------------

    def _key(self) -> str:
        fd = self.stdin.fileno()
        first = os.read(fd, 1).decode(errors="replace")
        if first == "\x1b":
            rest = os.read(fd, 2).decode(errors="replace")
            return {"[A": "up", "[B": "down"}.get(rest, "")
        if first in {"\r", "\n"}:
            return "enter"
        if first == "":
            raise _Quit
        return first

    def _draw(self, lines: Sequence[str], previous: int) -> int:
        if previous:
            self.write(f"\x1b[{previous}F\x1b[J")
        self.write("\n".join(lines) + "\n")
        return len(lines)

    def _menu_lines(
        self, title: str, choices: Sequence[_Choice], cursor: int, marked: set[int] | None
    ) -> list[str]:
        start = max(0, min(cursor - _WINDOW // 2, len(choices) - _WINDOW))
        lines = [title]
        for index in range(start, min(len(choices), start + _WINDOW)):
            pointer = ">" if index == cursor else " "
            box = "" if marked is None else ("[x] " if index in marked else "[ ] ")
            lines.append(f" {pointer} {index + 1:2d}. {box}{choices[index].label}")
        lines.append(_KEY_HELP if marked is None else _MAP_HELP)
        return lines

    def choose(self, title: str, choices: Sequence[_Choice]) -> object:
        """Return the value of the chosen option."""
        if not self.interactive:
            return choices[self._numbered(title, choices, many=False)[0]].value
        cursor, drawn, typed = 0, 0, ""
        while True:
            drawn = self._draw(self._menu_lines(title, choices, cursor, None), drawn)
            key = self._key()
            if key.isdigit():
                typed = (typed + key)[-2:]
                if 1 <= int(typed) <= len(choices):
                    cursor = int(typed) - 1
                elif 1 <= int(key) <= len(choices):
                    cursor, typed = int(key) - 1, key
                continue
            typed = ""
            if key == "up":
                cursor = (cursor - 1) % len(choices)
            elif key == "down":
                cursor = (cursor + 1) % len(choices)
            elif key == "enter":
                self.write(f"  -> {choices[cursor].label}\n")
                return choices[cursor].value
            else:
                self._command(key)

    def choose_many(self, title: str, choices: Sequence[_Choice], *, special: int) -> set[int] | None:
        """Return the indices marked, ignoring the first ``special`` options; None for don't know.

        The first option means "none" and the second "don't know": choosing either with
        Enter ends the question at once.
        """
        if not self.interactive:
            picked = self._numbered(title, choices, many=True)
            if 1 in picked:
                return None
            return {i for i in picked if i >= special}
        cursor, drawn = 0, 0
        marked: set[int] = set()
        while True:
            drawn = self._draw(self._menu_lines(title, choices, cursor, marked), drawn)
            key = self._key()
            if key == "up":
                cursor = (cursor - 1) % len(choices)
            elif key == "down":
                cursor = (cursor + 1) % len(choices)
            elif key == " " and cursor >= special:
                marked ^= {cursor}
            elif key == "enter":
                if cursor in {0, 1}:
                    marked = set()
                chosen = (
                    ", ".join(choices[i].label for i in sorted(marked))
                    or choices[1 if cursor == 1 else 0].label
                )
                self.write(f"  -> {chosen}\n")
                return None if cursor == 1 else marked
            else:
                self._command(key)

    def _command(self, key: str) -> None:
        if key == "b":
            raise _Back
        if key == "q":
            raise _Quit

    def line(self, prompt: str) -> str:
        """Read one typed line (echoed)."""
        self.write(prompt + "\n" + _LINE_HELP + "\n> ")
        if self.interactive:
            reply = self._read_echoed()
        else:
            reply = self.stdin.readline()
            if reply == "":
                raise _Quit
        reply = reply.strip()
        self._command(reply)
        return reply

    def _read_echoed(self) -> str:
        typed = ""
        while True:
            key = os.read(self.stdin.fileno(), 1).decode(errors="replace")
            if key in {"\r", "\n", ""}:
                self.write("\n")
                return typed
            if key in {"\x7f", "\b"}:
                if typed:
                    typed = typed[:-1]
                    self.write("\b \b")
                continue
            if key.isprintable():
                typed += key
                self.write(key)

    def _numbered(self, title: str, choices: Sequence[_Choice], *, many: bool) -> list[int]:
        self.write(title + "\n")
        for index, choice in enumerate(choices, start=1):
            self.write(f"  {index:2d}. {choice.label}\n")
        hint = "numbers separated by spaces" if many else "a number"
        while True:
            self.write(f"  ({hint}; b: back, q: save and quit)\n> ")
            reply = self.stdin.readline()
            if reply == "":
                raise _Quit
            reply = reply.strip()
            self._command(reply)
            try:
                picked = [int(part) - 1 for part in reply.replace(",", " ").split()]
            except ValueError:
                picked = []
            if picked and all(0 <= i < len(choices) for i in picked) and (many or len(picked) == 1):
                return picked
            self.write(f"'{reply}' is not {hint} from 1 to {len(choices)}.\n")
