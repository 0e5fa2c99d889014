"""Tag routing with Fluentd's match patterns, compiled once to regular expressions.

    *       one tag part (no dots):            a.*     matches a.b, not a.b.c or a
    **      zero or more parts:                a.**    matches a, a.b, a.b.c;  **.err matches err, x.y.err
    {x,y}   either alternative (nestable):     app.{web,db}.*
    \\c      the character c literally
    "a b"   several patterns separated by spaces match when any does (Fluentd's <match a b>)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import ConfigError

_CACHE_LIMIT = 4096  # distinct tags remembered by a Router; tags are few, but never let it grow unbounded


def glob_to_regex(pattern: str) -> str:
    """The regular expression (for re.fullmatch) equivalent to one Fluentd tag pattern."""
    out: list[str] = []
    depth = 0
    dot_pending = False  # a "." is emitted late: before "**" it becomes "end of tag or a dot"
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            if dot_pending:
                out.append(r"(?![^.])")
                dot_pending = False
            follows_dot = pattern.startswith(".", i + 2)
            out.append(r"(?:.*\.)?" if follows_dot else ".*")
            i += 3 if follows_dot else 2
            continue
        if dot_pending:
            out.append(r"\.")
            dot_pending = False
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == ".":
            dot_pending = True
        elif char == "*":
            out.append(r"[^.]*")
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if dot_pending:
        out.append(r"\.")
    if depth:
        raise ValueError(f"unclosed '{{' in {pattern!r}")
    return "".join(out)


class TagMatcher:
    """Matches a tag against any of several patterns (each may hold several, space-separated)."""

    def __init__(self, patterns: Iterable[str], key: str = "match") -> None:
        self.patterns = tuple(p for text in patterns for p in text.split())
        if not self.patterns:
            raise ConfigError(key, "needs at least one tag pattern")
        try:
            self._regex = re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in self.patterns))
        except (ValueError, re.error) as err:
            raise ConfigError(key, f"bad tag pattern: {err}") from err

    def matches(self, tag: str) -> bool:
        return self._regex.fullmatch(tag) is not None

    def __repr__(self) -> str:
        return f"TagMatcher({' '.join(self.patterns)!r})"


class Router:
    """Which outputs (by name) a tag goes to; answers are cached per tag."""

    def __init__(self, routes: Mapping[str, TagMatcher]) -> None:
        self._routes = dict(routes)
        self._cache: dict[str, tuple[str, ...]] = {}

    def outputs_for(self, tag: str) -> tuple[str, ...]:
        names = self._cache.get(tag)
        if names is None:
            names = tuple(name for name, matcher in self._routes.items() if matcher.matches(tag))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[tag] = names
        return names

    def accepts(self, output: str, tag: str) -> bool:
        return output in self.outputs_for(tag)
