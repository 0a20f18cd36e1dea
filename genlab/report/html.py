"""A report's blocks (genlab/report/document.py) as one HTML page: its own small stylesheet, no
script, nothing fetched. ``embed``: its pictures inside it as ``data:`` URIs (one file to attach);
else linked by name, beside it (a report written to a directory)."""

from __future__ import annotations

import base64
from html import escape as escape_attribute

from genlab.report.document import Block

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.run { padding-left: .5rem; border-left: .5rem solid; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #f3f3f5; }
.warn { background: #fff4d6; border: 1px solid #e0b400; padding: .5rem .8rem; border-radius: 4px; }
figure { margin: 1rem 0; } figcaption { font-size: .85rem; color: #555; }
img { max-width: 100%; }
img.digits { image-rendering: pixelated; width: 30rem; max-width: 100%; }
"""


def escape(text: str) -> str:
    """Text between tags (quotes left as they are: readable when the page is read as text)."""
    return escape_attribute(text, quote=False)


def colour_css(colour) -> str:
    return f' class="run" style="border-left-color: rgb({colour[0]},{colour[1]},{colour[2]})"' if colour else ""


def table(rows: tuple) -> str:
    head, *body = rows
    out = ['<div class="wide"><table>']
    if any(head):
        out.append("<tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in head) + "</tr>")
    out += ["<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join(out + ["</table></div>"])


def block(b: Block, pictures: dict, embed: bool) -> str:
    if b.kind in ("h1", "h2", "h3"):
        return f"<{b.kind}{colour_css(b.colour)}>{escape(b.text)}</{b.kind}>"
    if b.kind == "p":
        return f"<p>{escape(b.text)}</p>"
    if b.kind == "warn":
        return f'<p class="warn">{escape(b.text)}</p>'
    if b.kind == "table":
        return table(b.rows)
    if b.kind == "list":
        return "<ul>" + "".join(f"<li>{escape(str(item))}</li>" for item in b.rows) + "</ul>"
    if b.kind == "img":
        src = f"data:image/png;base64,{base64.b64encode(pictures[b.picture]).decode()}" if embed else escape_attribute(b.picture)
        css = ' class="digits"' if b.pixelated else ""
        return (f'<figure><img src="{src}"{css} alt="{escape_attribute(b.text)}">'
                f"<figcaption>{escape(b.text)}</figcaption></figure>")
    raise ValueError(f"unknown block {b.kind!r}")


def page(title: str, blocks: list[Block], pictures: dict, embed: bool = True) -> bytes:
    body = "\n".join(block(b, pictures, embed) for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n").encode()
