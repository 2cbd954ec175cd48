"""Text handling for knowledge: safe rendering, HTML/PDF to text, heading-aware chunking, tokens."""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

import markdown
import nh3

from apps.core.encodings import EncodingUnknown, bytes_decode
from mlcore.language import has_han
from mlcore.segment import STOPWORDS_ZH, words_split
from mlcore.text import content_hash, sentences_split

MAX_CHUNK_CHARS = 900
MAX_MESSAGE_CHARS = 2000
MAX_ARTICLE_CHARS = 200_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "hi",
        "hello",
        "please",
        "thanks",
        "thank",
        "hey",
    ]
)


class InvalidText(ValueError):
    """Text that cannot be accepted (empty, binary, too long); the message says why."""


def clean_text(value: str, *, max_chars: int, what: str = "message") -> str:
    """Strip control characters and surrounding space; refuse empty, binary or huge text."""
    if not isinstance(value, str):
        raise InvalidText(f"The {what} must be text.")
    if "\x00" in value:
        raise InvalidText(f"The {what} looks like binary data, not text.")
    # A lone UTF-16 surrogate (an emoji cut in half by a client, sent as a JSON "\\ud83d" escape)
    # cannot be stored as UTF-8: it becomes U+FFFD; a valid pair becomes its character.
    value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    value = unicodedata.normalize("NFC", _CONTROL.sub("", value)).strip()
    if not value:
        raise InvalidText(f"The {what} is empty.")
    if len(value) > max_chars:
        raise InvalidText(f"The {what} is too long ({len(value)} characters; at most {max_chars}).")
    return value


def decode_upload(data: bytes, *, what: str, encoding: str = "") -> str:
    """Bytes of an uploaded text file as str (UTF-8 with or without BOM, GB18030, ...: see
    apps.core.encodings; `encoding` when declared); binary content is refused."""
    if b"\x00" in data[:8192] and data[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise InvalidText(f"{what} is a binary file, not text.")
    try:
        return bytes_decode(data, encoding)
    except (EncodingUnknown, UnicodeDecodeError) as exc:
        raise InvalidText(f"{what}: {exc}") from exc


# -- rendering ------------------------------------------------------------------------------------
def markdown_render(body: str, body_format: str) -> str:
    """Article body as sanitised HTML (scripts, event handlers and styles removed)."""
    if body_format == "markdown":
        html = markdown.markdown(body, extensions=["extra", "sane_lists"])
    elif body_format == "html":
        html = body
    else:
        html = "".join(f"<p>{nh3.clean_text(p)}</p>" for p in body.split("\n\n") if p.strip())
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


# -- conversion to headed text -----------------------------------------------------------------
class _HtmlToText(HTMLParser):
    SKIP = {"script", "style", "nav", "footer", "header", "noscript", "svg", "form"}
    BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "table", "ul", "ol", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.heading_level = 0
        self.title = ""
        self.in_title = False

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            prefix = "#" * self.heading_level + " " if self.heading_level else ""
            self.lines.append(prefix + text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading_level = int(tag[1])
        elif tag in self.BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "title":
            self.in_title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading_level = 0
        elif tag in self.BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif not self.skip_depth:
            self.current.append(data)


def html_to_markdownish(html: str) -> tuple[str, str]:
    """(title, text with '#' heading lines and one paragraph per line) from an HTML page."""
    parser = _HtmlToText()
    parser.feed(html)
    parser.close()
    parser._flush()
    return " ".join(parser.title.split()), "\n\n".join(parser.lines)


def pdf_to_text(data: bytes) -> str:
    # heavy: pypdf is read only for PDF uploads
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InvalidText(f"The PDF could not be read: {exc}") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InvalidText("The PDF has no extractable text (is it a scan?).")
    return text


def plain_text(body: str, body_format: str) -> str:
    """Article body as headed plain text ('#' lines mark headings)."""
    if body_format == "html":
        return html_to_markdownish(body)[1]
    if body_format == "markdown":
        # Links and emphasis keep their words; code fences and images lose their markup.
        text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", body)
        text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
        text = re.sub(r"[*_`]{1,3}", "", text)
        return re.sub(r"<[^>]+>", " ", text)
    return body


# -- chunking -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkDraft:
    position: int
    heading: str
    text: str

    @property
    def hash(self) -> str:
        return content_hash(self.heading, self.text)


def chunks_split(title: str, body: str, body_format: str) -> list[ChunkDraft]:
    """Split an article at its headings; long sections are cut at paragraph boundaries."""
    text = plain_text(body, body_format)
    sections: list[tuple[str, list[str]]] = [("", [])]
    trail: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        match = re.match(r"^(#{1,6})\s+(.*)$", line)
        if match:
            level, heading = len(match.group(1)), match.group(2).strip()
            if level == 1 and heading.lower() == title.lower():
                continue
            trail = [(lvl, h) for lvl, h in trail if lvl < level] + [(level, heading)]
            sections.append((" › ".join(h for _, h in trail), []))
        else:
            sections[-1][1].append(line)
    drafts: list[ChunkDraft] = []
    for heading, lines in sections:
        paragraphs = [p.strip() for p in "\n".join(lines).split("\n\n") if p.strip()]
        paragraphs = [" ".join(p.split()) for p in paragraphs]
        piece: list[str] = []
        for paragraph in paragraphs:
            for part in _hard_wrap(paragraph):
                if piece and sum(len(p) for p in piece) + len(part) > MAX_CHUNK_CHARS:
                    drafts.append(ChunkDraft(len(drafts), heading, "\n".join(piece)))
                    piece = []
                piece.append(part)
        if piece:
            drafts.append(ChunkDraft(len(drafts), heading, "\n".join(piece)))
    return drafts


def _hard_wrap(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_CHUNK_CHARS:
        return [paragraph]
    parts, current = [], ""
    for sentence in sentences_split(paragraph, lines=True):
        if current and len(current) + len(sentence) > MAX_CHUNK_CHARS:
            parts.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts


# -- tokens for keyword search -------------------------------------------------------------------
def _stem(token: str) -> str:
    # A light suffix stripper: enough to match "cards"/"card", "charged"/"charges"/"charge".
    for suffix in ("ing", "ed", "s"):
        if len(token) > len(suffix) + 2 and token.endswith(suffix) and not token.endswith("ss"):
            token = token[: -len(suffix)]
            break
    if len(token) > 3 and token.endswith("e"):
        token = token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Keyword-search terms: stemmed English words; text with Chinese in it is segmented first
    (jieba, search mode: a long word also yields the words inside it), so 密码 in a question
    finds 重置密码 in an article. English-only text never reaches the segmenter."""
    if not has_han(text):
        return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]
    out: list[str] = []
    for word in words_split(text.lower(), for_search=True):
        if has_han(word):
            if word not in STOPWORDS_ZH:
                out.append(word)
        else:
            out += [_stem(t) for t in _TOKEN.findall(word) if t not in STOPWORDS]
    return out
