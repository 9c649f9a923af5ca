"""Write docs/article-coverage.md from the knowledge base's article.yaml (and advice, sources).

Usage: python tools/generate_article_coverage.py [--check]

With --check, write nothing and exit 1 if the file is out of date. The output's first line
names this script and its input; tests/test_article.py checks the file is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pinchpoint.cli.knowledge import article_markdown
from pinchpoint.io.knowledge.loader import load_knowledge

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "article-coverage.md"


def main(argv: list[str]) -> int:
    text = article_markdown(load_knowledge()) + "\n"
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date; run python tools/generate_article_coverage.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
