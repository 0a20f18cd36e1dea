"""A report's blocks (genlab/report/document.py) as Markdown (GitHub's: pipe tables), its
pictures linked from the folder written beside it (``FILE_files/``)."""

from __future__ import annotations

from genlab.report.document import Block


def cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ") or " "


def table(rows: tuple) -> list[str]:
    head, *body = rows
    lines = ["| " + " | ".join(cell(c) for c in head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]


def block(b: Block, folder: str) -> list[str]:
    if b.kind in ("h1", "h2", "h3"):
        return ["#" * int(b.kind[1]) + " " + b.text]
    if b.kind == "p":
        return [b.text]
    if b.kind == "warn":
        return [f"> **{b.text}**"]
    if b.kind == "table":
        return table(b.rows)
    if b.kind == "list":
        return [f"- {item}" for item in b.rows]
    if b.kind == "img":
        return [f"![{b.text}]({folder}/{b.picture})", "", f"*{b.text}*"]
    raise ValueError(f"unknown block {b.kind!r}")


def document(blocks: list[Block], folder: str) -> bytes:
    """The Markdown text; ``folder``: where its pictures are, relative to it."""
    return ("\n\n".join("\n".join(block(b, folder)) for b in blocks) + "\n").encode()
