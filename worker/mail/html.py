"""HTML mail bodies as the plain text a reader sees.

163, QQ Mail and Outlook often send HTML only. Layout becomes line breaks;
scripts, styles and (when asked) the quoted history containers are dropped.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, NavigableString

_INVISIBLE = ("script", "style", "head", "title", "noscript", "template", "object", "iframe")
_BLOCKS = (
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
    "tbody", "thead", "tfoot", "tr", "ul",
)
# Where mail clients put the message being replied to.
_QUOTE_CONTAINERS = (
    "blockquote",                 # Apple Mail, Thunderbird, 163 (id=isReplyContent)
    "includetail",                # QQ Mail and Foxmail wrap the original in it
    "div.gmail_quote",
    "div#isReplyContent",
    "div#divRplyFwdMsg",          # Outlook: the 发件人/From block of the original
    "div#appendonsend",           # Outlook: everything after it is the original
)
_HTML_WHITESPACE = re.compile(r"[ \t\r\n\f]+")
# Placeholders for block edges, resolved once all are in place.
_BLOCK_EDGE, _PARAGRAPH_EDGE = "\x1e", "\x1d"
_EDGES = re.compile("[ \t]*[\x1d\x1e][\x1d\x1e \t]*")


def html_to_text(html: str, drop_quoted: bool = False) -> str:
    """Readable text of an HTML body; `drop_quoted` removes replied-to history."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup.find_all(_INVISIBLE):
        element.decompose()
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    if drop_quoted:
        _drop_quoted(soup)
    for node in soup.find_all(string=True):
        if type(node) is NavigableString and node.find_parent("pre") is None:
            # HTML ignores source line breaks; the only breaks are the ones added below.
            node.replace_with(_HTML_WHITESPACE.sub(" ", str(node)))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for cell in soup.find_all(("td", "th")):
        cell.insert_after(NavigableString(" "))
    for block in soup.find_all(_BLOCKS):
        edge = _PARAGRAPH_EDGE if block.name == "p" else _BLOCK_EDGE
        block.insert_before(NavigableString(edge))
        block.insert_after(NavigableString(edge))
    return _tidy_lines(_EDGES.sub(_edge_break, soup.get_text()))


def _edge_break(edges: re.Match[str]) -> str:
    """Adjacent blocks share one line break, as a browser renders them; paragraphs add a blank line."""
    return "\n\n" if _PARAGRAPH_EDGE in edges.group() else "\n"


def _drop_quoted(soup: BeautifulSoup) -> None:
    for selector in _QUOTE_CONTAINERS:
        for element in soup.select(selector):
            if selector == "div#appendonsend":
                for sibling in list(element.find_next_siblings()):
                    sibling.decompose()
            element.decompose()


def _tidy_lines(text: str) -> str:
    """Lines stripped of edge spaces, no more than one blank line in a row."""
    lines = [line.replace("\xa0", " ").strip() for line in text.split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()
