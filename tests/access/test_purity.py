"""The access package is pure core: importing every module never imports streamlit."""

from __future__ import annotations

import subprocess
import sys

from tests.access.support import ROOT


def test_access_does_not_import_streamlit() -> None:
    code = (
        "import sys, importlib, pkgutil, access\n"
        "for info in pkgutil.walk_packages(access.__path__, 'access.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "False"
