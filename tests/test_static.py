"""Project-wide static checks: lint (incl. the security rules) and the layering of imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    """``ruff check`` with the rules in pyproject.toml (incl. flake8-bandit ``S``) is clean."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_packages_do_not_import_streamlit() -> None:
    """Only survey_app.py and app_pages/ may import streamlit: the core stays pure."""
    code = (
        "import sys, importlib, pkgutil\n"
        "for pkg in ('questionnaires', 'responses', 'analysis', 'access'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        if info.name.endswith('__main__'):\n"
        "            continue\n"
        "        importlib.import_module(info.name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
