"""Write docs/configuration.md: every setting, from the settings registry and the comments of
reconciler.example.toml, so the reference cannot drift from the code.

    python scripts/settings_reference.py          rewrite docs/configuration.md
    python scripts/settings_reference.py --check  exit 1 if it is not what the code says

The registry (`reconciler/config/settings.py`) gives each key, its type, default, allowed
values and whether it is a secret; the example file gives what each one is for (its comment).
tests/test_docs.py runs the check.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconciler.config import settings as registry  # noqa: E402

EXAMPLE = ROOT / "reconciler.example.toml"
TARGET = ROOT / "docs" / "configuration.md"
KEY_LINE = re.compile(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*(=|:)\s*(.*)$")

HEADER = """# Configuration reference

Every setting, its default and what it is for. This page is generated from the settings
registry (`reconciler/config/settings.py`) and the comments of `reconciler.example.toml` by
`scripts/settings_reference.py`; a test fails when it falls behind.

Where a value comes from, highest first:

- the environment: `RECONCILER_<SECTION>__<KEY>` (for example `RECONCILER_SYNC__ON_CANCEL=delete`);
- the configuration file: `--config FILE`, else `$RECONCILER_CONFIG`, else `./reconciler.toml`;
- the default below.

Secrets (marked *secret*) never belong in the file: give them as
`RECONCILER_<SECTION>__<KEY>`, as a file named by `RECONCILER_<SECTION>__<KEY>_FILE`, or as a
systemd credential named `<section>_<key>` (read from `$CREDENTIALS_DIRECTORY`). They never
appear in logs, `status` output or tracebacks. Durations are seconds (`60`) or text (`"90s"`,
`"5m"`, `"1h30m"`, `"1d"`). A bad value anywhere stops the start with one line per problem and
exit code 2.
"""


def _comments(example: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """(section -> its introduction, (section, key) -> what the key is for), from the file.

    A comment block right above a key with no comment of its own is that key's; above a key
    that has one, and before any key of the section, it introduces the section. An indented
    comment line continues the key above it. A commented-out key (`# key = value`,
    `# key: text`) is documented like a set one."""
    intros: dict[str, str] = {}
    keys: dict[tuple[str, str], str] = {}
    section, last, pending = "", None, []

    def flush() -> None:
        if pending and section and not any(s == section for s, _ in keys):
            intros.setdefault(section, " ".join(pending))

    for raw in example.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            flush()
            section, last, pending = line[1:-1], None, []
            continue
        if not section:
            continue
        if not line:
            flush()
            pending, last = [], None
            continue
        found = KEY_LINE.match(line)
        if found:
            commented, name, sign, rest = found.groups()
            if commented:
                text = rest.strip() if sign == ":" else ""
            else:
                text = rest.split("#", 1)[1].strip() if "#" in rest else ""
            if pending and not text:
                text = " ".join(pending)
            elif pending:
                flush()
            pending, last = [], (section, name)
            keys[last] = f"{keys.get(last, '')} {text}".strip()
            continue
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            if raw.startswith(" ") and last is not None:
                keys[last] = f"{keys[last]} {text}".strip()
            else:
                pending.append(text)
                last = None
    flush()
    see_top = " (see the top of this page)."
    return intros, {key: text.replace("; see above.", see_top) for key, text in keys.items()}


def _type_name(tp: Any) -> str:
    text = getattr(tp, "__name__", None) or str(tp)
    text = text.replace("typing.", "").replace("reconciler.config.settings.", "")
    return {"timedelta": "duration", "Secret | None": "secret", "str": "text"}.get(text, text)


def _default(spec: dataclasses.Field[Any]) -> str:
    value = spec.default
    if value is dataclasses.MISSING or value is None:
        return ""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds and seconds % size == 0:
                return f'`"{seconds // size}{unit}"`'
        return f'`"{seconds}s"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[]`" if not value else f"`{list(value)}`"
    return f"`{value}`"


def _allowed(spec: dataclasses.Field[Any]) -> str:
    meta = spec.metadata
    parts = []
    if "choices" in meta:
        parts.append(" \\| ".join(f'`"{c}"`' for c in meta["choices"]))
    if "min" in meta or "max" in meta:
        parts.append(f"{meta.get('min', '')}..{meta.get('max', '')}")
    if meta.get("required"):
        parts.append("required")
    return ", ".join(parts)


def render(example: str) -> str:
    intros, keys = _comments(example)
    out = [HEADER]
    for section, cls in registry.typed_sections().items():
        out.append(f"\n## `[{section}]`\n")
        if section in intros:
            out.append(intros[section] + "\n")
        hints = typing.get_type_hints(cls)
        out.append("| key | default | allowed | what it is for |\n| --- | --- | --- | --- |")
        for spec in dataclasses.fields(cls):
            key = registry.toml_key(spec)
            kind = _type_name(hints[spec.name])
            default = _default(spec) or ("*secret*" if kind == "secret" else "")
            what = keys.get((section, key), "").replace("|", "\\|")
            env = f"`RECONCILER_{section.upper()}__{key.upper()}`"
            out.append(f"| `{key}` | {default} | {_allowed(spec)} | {what} ({env}) |")
    for section in registry.free_form_sections():
        out.append(f"\n## `[{section}]`\n")
        out.append((intros.get(section) or "A free-form table.") + "\n")
        listed = [(k, v) for (s, k), v in keys.items() if s == section]
        if listed:
            out.append("| key | what it is for |\n| --- | --- |")
            out.extend(f"| `{k}` | {v.replace('|', chr(92) + '|')} |" for k, v in listed)
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is out of date")
    args = parser.parse_args()
    page = render(EXAMPLE.read_text())
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != page:
            sys.stderr.write(f"{TARGET} is out of date: run scripts/settings_reference.py\n")
            return 1
        return 0
    TARGET.write_text(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
