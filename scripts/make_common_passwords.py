"""Generate ``access/data/common_passwords.txt`` from Django's list: once, by hand.

The platform never runs this script and does not depend on Django: it ships the list this
script writes. Get the wheel with pip (no install needed) and run::

    pip download --no-deps django==5.2.19 -d /tmp/django-wheel
    python scripts/make_common_passwords.py /tmp/django-wheel/django-5.2.19-py3-none-any.whl

What it reads
-------------
``django/contrib/auth/common-passwords.txt.gz`` from the Django 5.2.19 wheel (PyPI; BSD
3-Clause licence, Copyright (c) Django Software Foundation and individual contributors). Django
describes it as "20000 common passwords (unhexed, lowercased and deduplicated), created by Royce
Williams" (gist roycewilliams/226886fd01572964e1431ac8afc999ce); the file holds 19,640 lines,
most common first.

What it does
------------
Keeps the entries with at least ``MIN_LENGTH`` = 8 characters after Unicode NFKC normalisation
and case folding (shorter ones can never pass the policy, whose lowest allowed minimum length
is 8), drops duplicates, keeps the order (most common first) and writes one per line, UTF-8,
no comments (a few entries start with ``#``).
"""

from __future__ import annotations

import gzip
import sys
import unicodedata
import zipfile
from pathlib import Path

MEMBER = "django/contrib/auth/common-passwords.txt.gz"
MIN_LENGTH = 8
OUT = Path(__file__).resolve().parents[1] / "access" / "data" / "common_passwords.txt"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python scripts/make_common_passwords.py DJANGO_WHEEL\n")
        return 2
    with zipfile.ZipFile(argv[0]) as wheel:
        text = gzip.decompress(wheel.read(MEMBER)).decode("utf-8")
    seen: set[str] = set()
    kept: list[str] = []
    for line in text.splitlines():
        entry = unicodedata.normalize("NFKC", line).casefold()
        if len(entry) >= MIN_LENGTH and entry not in seen:
            seen.add(entry)
            kept.append(entry)
    OUT.write_text("".join(entry + "\n" for entry in kept), encoding="utf-8")
    sys.stdout.write(f"wrote {len(kept)} entries to {OUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
