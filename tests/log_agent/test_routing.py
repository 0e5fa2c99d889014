"""Fluentd-style tag globs: examples from Fluentd's docs plus properties checked with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_agent.errors import ConfigError
from log_agent.routing import Router, TagMatcher

# No deadline: other suites run concurrently on small CI machines; a slow example is not a failure.
relaxed = settings(deadline=None, max_examples=60)

part = st.text(alphabet="abcxyz019_-", min_size=1, max_size=5)
tags = st.lists(part, min_size=1, max_size=5).map(".".join)


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("a.*", ["a.b", "a.x_y"], ["a", "a.b.c", "ab.c", "b.a"]),
        ("a.**", ["a", "a.b", "a.b.c"], ["ab", "b.a", "xa.b"]),
        ("**.err", ["err", "x.err", "x.y.err"], ["xerr", "err.x"]),
        ("a.**.z", ["a.z", "a.b.z", "a.b.c.z"], ["az", "a.bz", "a.b"]),
        ("app.{web,db}.*", ["app.web.x", "app.db.y"], ["app.api.x", "app.web", "app.webdb.x"]),
        ("{a,b.{c,d}}", ["a", "b.c", "b.d"], ["b", "b.e", "a.c"]),
        ("**", ["x", "x.y.z"], []),
        (r"a\*.b", ["a*.b"], ["ax.b"]),
        ("docker.container+1", ["docker.container+1"], ["docker.container1"]),
        ("a.* b.**", ["a.x", "b", "b.y.z"], ["a", "c"]),
    ],
)
def test_fluentd_glob_examples(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    matcher = TagMatcher([pattern])
    assert [t for t in matching if not matcher.matches(t)] == []
    assert [t for t in not_matching if matcher.matches(t)] == []


@relaxed
@given(tags)
def test_a_literal_tag_matches_itself_and_double_star_matches_everything(tag: str) -> None:
    assert TagMatcher([tag]).matches(tag)
    assert TagMatcher(["**"]).matches(tag)


@relaxed
@given(st.lists(part, min_size=1, max_size=5))
def test_star_matches_exactly_one_part(parts: list[str]) -> None:
    tag = ".".join(parts)
    assert TagMatcher(["*"]).matches(tag) == (len(parts) == 1)
    assert TagMatcher([f"{parts[0]}.*"]).matches(tag) == (len(parts) == 2)


@relaxed
@given(part, st.lists(part, max_size=4))
def test_prefix_double_star_matches_the_prefix_and_anything_below(prefix: str, rest: list[str]) -> None:
    matcher = TagMatcher([f"{prefix}.**"])
    assert matcher.matches(".".join([prefix, *rest]))
    assert not matcher.matches(prefix + "x" + "".join(rest))


@relaxed
@given(part, part, tags)
def test_alternation_is_the_union_of_its_alternatives(left: str, right: str, tag: str) -> None:
    union = TagMatcher([f"{{{left},{right}}}.**"]).matches(tag)
    assert union == (TagMatcher([f"{left}.**"]).matches(tag) or TagMatcher([f"{right}.**"]).matches(tag))


def test_router_sends_each_tag_to_every_matching_output() -> None:
    router = Router(
        {"cloud": TagMatcher(["app.**"]), "debug": TagMatcher(["**.debug"]), "all": TagMatcher(["**"])}
    )
    assert router.outputs_for("app.web") == ("cloud", "all")
    assert router.outputs_for("sys.debug") == ("debug", "all")
    assert router.outputs_for("app.debug") == ("cloud", "debug", "all")
    assert router.accepts("cloud", "app.x") and not router.accepts("cloud", "sys.x")


@pytest.mark.parametrize("patterns", [["app.{web"], [], [" "]])
def test_bad_patterns_raise_config_error_naming_the_key(patterns: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        TagMatcher(patterns, key="outputs[0].match")
    assert caught.value.key == "outputs[0].match"
