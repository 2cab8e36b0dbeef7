"""The README stays true to the code: every setting is in its table, `make eval` runs what the
README says it runs, and the quick start is the two commands it has always been."""

from __future__ import annotations

import re

from rag.settings import Settings
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def test_every_setting_has_a_row_in_the_settings_table() -> None:
    table = README.split("### Settings", 1)[1].split("\n### ", 1)[0]
    rows = set(re.findall(r"`(RAG_[A-Z0-9_]+)`", table))
    fields = {"RAG_" + name.upper() for name in Settings.model_fields}
    assert fields - rows == set(), "settings missing from the README's table"
    assert rows - fields == set(), "the README's table names settings that do not exist"


def test_make_eval_runs_the_command_the_readme_gives() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    squad = re.search(r"^SQUAD \?= (\S+)$", makefile, re.M)
    recipe = re.search(r"^eval:.*\n\t\$\(VENV\)/bin/(rag eval .+)$", makefile, re.M)
    assert squad and recipe
    command = recipe.group(1).replace("$(SQUAD)", squad.group(1))
    assert f"`make eval`, i.e. `{command}`" in README


def test_the_quick_start_is_the_two_set_up_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert quick.splitlines() == [
        'make install && .venv/bin/rag ingest seeds/ && .venv/bin/rag ask "What did Albanese say about Japan?"',  # noqa: E501
        "make test",
    ]
