"""Text from users and files shown inside Streamlit markdown, made inert.

Why: `st.markdown`, `st.subheader`, `st.caption`, alerts and expander labels
parse GitHub markdown plus Streamlit's directives, images, links, HTML
entities and LaTeX. A clip named `![p](http://host/x.png) :red-background[APPROVED].wav`
would make reviewers' browsers fetch an outside image (with a Referer) and
draw a fake badge. Streamlit has no escaper (streamlit#7638), so every
character that can start markdown syntax is backslash-escaped (CommonMark lets
any ASCII punctuation be escaped), line breaks become spaces (no new blocks),
and the text then renders literally. Never put the result inside backticks:
code spans do not process escapes.
"""

from __future__ import annotations

import re

# Inline syntax anywhere: emphasis, code, links/images, directives, HTML, entities, LaTeX, tables.
_INLINE = re.compile(r"([\\`*_{}\[\]()#!|<>$:~&^\"])")
# Block syntax only matters at the start: lists, headings by underline, quotes.
_LEADING = re.compile(r"^(\s*\d*)([-+=.)])")


def md(text: object) -> str:
    """`text` escaped so Streamlit markdown shows it exactly as written."""
    escaped = _INLINE.sub(r"\\\1", " ".join(str(text).splitlines()))
    return _LEADING.sub(r"\1\\\2", escaped)
