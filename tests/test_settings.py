"""Settings by concern: every ``RAG_*`` knob keeps its name and lands in exactly one group."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from rag.settings import Settings

GROUPS = ("storage", "models", "ingest", "answering", "api", "fetching", "limits")
# a value other than the default for the fields whose default is None
UNSET_DEFAULTS = {
    "database_url": "postgresql://newsroom@db.example.org/news",
    "model_path": Path("models/minilm"),
    "model_cache_dir": Path("cache"),
    "abstain_threshold": 0.5,
    "rate_limit_db": Path("counts.sqlite"),
}
ROOT = Path(__file__).resolve().parent.parent


def _other_value(name: str, default: object) -> object:
    """A valid value for setting ``name`` that differs from its default."""
    if name in UNSET_DEFAULTS:
        return UNSET_DEFAULTS[name]
    if name == "backend":
        return "torch"
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default - 1 if default > 1 else default + 1
    if isinstance(default, float):
        return default / 2
    if isinstance(default, Path):
        return Path("elsewhere") / default.name
    if isinstance(default, list):
        return ["news.example.org"]
    raise AssertionError(f"no other value for {name}={default!r}")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_each_knob_lands_in_exactly_one_group(name: str) -> None:
    default = Settings()
    field = Settings.model_fields[name]
    value = _other_value(name, field.get_default(call_default_factory=True))
    changed = Settings(**{name: value})  # type: ignore[arg-type]
    moved = [g for g in GROUPS if getattr(changed, g) != getattr(default, g)]
    assert len(moved) == 1, (name, moved)
    group = getattr(changed, moved[0])
    expected = tuple(value) if isinstance(value, list) else value
    assert expected in dataclasses.astuple(group), (name, group)


def test_the_environment_names_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_FETCH_TIMEOUT_S", "3")
    monkeypatch.setenv("RAG_API_KEYS", "alpha, beta")
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_MAX_HTML_ELEMENTS", "500")
    monkeypatch.setenv("RAG_FEED_INTERVAL", "10m")
    settings = Settings()
    assert settings.fetching.timeout_s == 3.0 and settings.fetching.feed_interval == 600.0
    assert settings.api.api_keys == ("alpha", "beta")
    assert settings.answering.top_k == 7 and settings.limits.html_elements == 500


def test_a_group_cannot_be_changed_in_place() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().answering.top_k = 9  # type: ignore[misc]


def test_the_library_reads_knobs_through_their_groups() -> None:
    """``settings.top_k`` outside rag/settings.py is a read that skips the groups."""
    flat = set(Settings.model_fields)
    found = []
    for path in [*ROOT.glob("rag/**/*.py"), *ROOT.glob("api/**/*.py")]:
        if path.name == "settings.py" and path.parent.name == "rag":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in flat:
                owner = node.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                if name == "settings":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not found, found
