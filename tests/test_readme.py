"""The README cannot go stale: every shell command in it is run by CI or by a test.

Each command in a ```sh block must be one of:
- `make test`: CI runs exactly that (`.ci/run`);
- `make demo`: tests/test_demo.py runs scripts/demo.sh, which the Makefile's `demo` target runs after
  `make install` (checked there);
- a benchmark command: run here as written, with its size option scaled down so it finishes in
  seconds (the figures in the README come from the full sizes), and its JSON summary checked.
A new kind of command fails `test_every_readme_command_is_covered` until it gets a test. Links to
files in the repository must resolve.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# Benchmark commands: the option(s) that set the size, and the small value(s) used here (option, value, ...;
# the first option must be in the command, later ones are scaled only where the command sets them).
BENCH_SCALE = {
    "bench/bridge_calls.py": ("--users", "60"),
    "bench/reconcile.py": ("--users", "150"),
    "bench/latency.py": ("--changes", "40", "--users", "20"),
    "bench/faults.py": ("--seconds", "4"),
    "bench/recovery.py": ("--users", "60"),
    "bench/pacing.py": ("--people", "30"),
    "bench/burst.py": ("--people", "40"),
    "bench/site_reconcile.py": ("--users", "60"),
}
# What each benchmark's JSON summary must say for the run to count as working.
BENCH_CHECK = {
    "bench/bridge_calls.py": lambda s: s["batched"]["calls"] < s["one_per_call"]["calls"],
    "bench/reconcile.py": lambda s: s["writes"] == s["expected_writes"] and s["second_run_writes"] == 0,
    "bench/latency.py": lambda s: s["lost"] == 0,
    "bench/faults.py": lambda s: s["lost"] == 0 and s["drift"] == 0 and s["faults"] == 16 and {
        "PostgreSQL restart", "Rocket.Chat back empty", "two beats", "duplicate delivery of tasks"} <= set(s["fault_kinds"]),
    "bench/recovery.py": lambda s: (s["writes"] == s["expected_writes"] and s["second_run_writes"] == 0
                                    and s["members_ok"]),
    "bench/burst.py": lambda s: list(s) == ["people", "seconds", "calls", "calls_per_person", "lost", "naive_calls"]
    and s["people"] == 40 and s["lost"] == 0 and 0 < s["calls"] < s["naive_calls"],
    "bench/pacing.py": lambda s: all(r["calls"] > 0 and r["share_429"] < 0.01 for r in s["runs"]),
    "bench/site_reconcile.py": lambda s: (s["status"] == "succeeded" and s["writes"] == 0
                                          and s["second_run_writes"] == 0 and s["peak_rss_mb"] > 0),
}


def readme_commands(text: str) -> list[str]:
    """Shell commands of the ```sh / ```bash / ```shell blocks, comments stripped, one per line."""
    commands = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def bench_script(command: str) -> str | None:
    words = shlex.split(command)
    if len(words) >= 2 and words[0] == ".venv/bin/python" and words[1] in BENCH_SCALE:
        return words[1]
    return None


def scaled(command: str) -> list[str]:
    words = shlex.split(command)
    pairs = BENCH_SCALE[words[1]]
    assert pairs[0] in words, f"{command!r} no longer sets {pairs[0]}; update BENCH_SCALE"
    for option, small in zip(pairs[::2], pairs[1::2]):
        if option in words:
            words[words.index(option) + 1] = small
    return [sys.executable if words[0] == ".venv/bin/python" else words[0], *words[1:]]


COMMANDS = readme_commands(README.read_text())


def test_readme_commands_are_found() -> None:
    assert COMMANDS[:2] == ["make demo", "make test"]
    assert any(bench_script(c) for c in COMMANDS)


def test_the_extractor_sees_comments_and_blocks_correctly() -> None:
    text = "x\n```sh\nmake demo   # a comment\n# only a comment\n\nmake test\n```\n```python\nprint(1)\n```\n"
    assert readme_commands(text) == ["make demo", "make test"]


def test_every_readme_command_is_covered() -> None:
    uncovered = [c for c in COMMANDS if c not in ("make test", "make demo") and bench_script(c) is None]
    assert not uncovered, f"README commands no test runs: {uncovered}"


def inline_commands(text: str) -> list[str]:
    """`code spans` outside code blocks that are commands: make targets, manage.py, .venv/bin/python."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", prose)
    command = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:make \w|manage\.py|\.venv/bin/python)")
    return [span for span in spans if command.match(span)]


def inline_is_covered(span: str) -> bool:
    words = span.split()
    while words and re.match(r"^[A-Z_]+=", words[0]):
        if not words[0].startswith("RCSYNC_DEMO_"):
            return False  # only the demo's own switches are exercised by tests/test_demo.py
        if words[0].split("=")[0] not in (ROOT / "tests" / "test_demo.py").read_text():
            return False  # ... and only those it actually sets
        words = words[1:]
    rest = " ".join(words)
    if rest in ("make test", "make demo"):
        return True
    if rest == "make test-newest":  # CI runs it after make test
        return "make test-newest" in (ROOT / ".ci" / "run").read_text()
    if rest == "make install":  # a prerequisite of both targets
        makefile = (ROOT / "Makefile").read_text()
        return bool(re.search(r"^test: .*install", makefile, re.M) and re.search(r"^demo: .*install", makefile, re.M))
    if rest in ("make messages", "make messages-check"):  # tests/django_hooks/test_translations.py runs both
        action = "check" if rest.endswith("-check") else "update"
        makefile = (ROOT / "Makefile").read_text()
        test = (ROOT / "tests" / "django_hooks" / "test_translations.py").read_text()
        target = re.search(rf"^{rest.split()[1]}:.*\n\t.*scripts/messages\.py {action}$", makefile, re.M)
        return bool(target) and f'run_messages("{action}"' in test
    if rest.startswith("manage.py rcsync"):
        sub = rest.split()[2:3]
        runner = (ROOT / "scripts" / "demo_run.py").read_text()
        return not sub or f'"rcsync", "{sub[0]}"' in runner
    return bench_script(rest) is not None


def test_inline_commands_are_covered() -> None:
    spans = inline_commands(README.read_text())
    assert "RCSYNC_DEMO_SITE_PORT=0 RCSYNC_DEMO_RC_PORT=0 make demo" in spans
    uncovered = [span for span in spans if not inline_is_covered(span)]
    assert not uncovered, f"README commands no test runs: {uncovered}"
    assert not inline_is_covered("make bench") and not inline_is_covered("FOO=1 make demo")


def test_make_test_is_what_ci_runs() -> None:
    # `make test` first (the README's command), then the same tests on the newest allowed versions.
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]
    assert commands[0] in ("make test", "exec make test"), commands
    assert commands[1:] in ([], ["make test-newest"], ["exec make test-newest"]), commands


def test_make_demo_is_exercised_by_the_demo_test() -> None:
    demo_test = (ROOT / "tests" / "test_demo.py").read_text()
    assert '["scripts/demo.sh"]' in demo_test
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: .*install.*\n\t.*scripts/demo\.sh", makefile, re.M)


def test_readme_links_resolve() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\(((?!https?://|#)[^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_docs_links_resolve() -> None:
    missing = []
    for doc in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(((?!https?://|#)[^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                missing.append(f"{doc.name} -> {target}")
    assert not missing, missing


DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def anchors(doc: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    out = set()
    for heading in re.findall(r"^#+ +(.+?) *$", text, re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-"))
    return out


def test_links_to_sections_name_existing_headings() -> None:
    missing = []
    for doc in DOCS:
        for target, anchor in re.findall(r"\]\(((?!https?://)[^)#\s]*)#([^)\s]+)\)", doc.read_text()):
            linked = (doc.parent / target) if target else doc
            if linked.suffix == ".md" and linked.exists() and anchor not in anchors(linked):
                missing.append(f"{doc.name} -> {target}#{anchor}")
    assert not missing, missing


# Paths in `code spans` that are this repository's files must exist. Not: the site's own files in the
# examples (mysite/...), Rocket.Chat's source paths, system paths.
PACKAGES = ("bridge", "sync_tasks", "django_hooks", "fake_rocketchat")
FOREIGN = ("mysite/", "app/", "apps/", "ee/", "server/", "packages/", "/", "$", "~", "besedka/", "dist/")


def test_files_named_in_the_docs_exist() -> None:
    missing = []
    for doc in DOCS:
        prose = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for span in re.findall(r"`([^`\s]+)`", prose):
            path = span.split(":")[0].rstrip(".,")
            if not re.fullmatch(r"[\w./-]+/[\w.-]+\.(?:py|md|sh|cfg|toml|ini|txt|json|html)", path):
                continue
            if path.startswith(FOREIGN) or "*" in path:
                continue
            bases = [ROOT, doc.parent, *(ROOT / pkg for pkg in PACKAGES)]  # `rest/base.py` in fake-rocketchat.md
            if not any((base / path).exists() for base in bases):
                missing.append(f"{doc.name}: {path}")
    assert not missing, missing


def test_design_and_reference_mentions_point_at_the_shipped_copies() -> None:
    # DESIGN.md and the Rocket.Chat reference ship as docs/design.md and docs/rocketchat-api.md.
    assert (ROOT / "docs" / "design.md").exists() and (ROOT / "docs" / "rocketchat-api.md").exists()
    stale = []
    for doc in DOCS:
        text = doc.read_text()
        if doc.name in ("design.md", "rocketchat-api.md"):
            continue
        stale += [f"{doc.name}: {m.group(0)}" for m in re.finditer(r'(?<!")\bDESIGN\.md|shared/reference', text)]
        unlinked = text.replace("[reference](rocketchat-api.md) §", "").replace("[reference](docs/rocketchat-api.md) §", "")
        stale += [f"{doc.name}: {m.group(0)}" for m in re.finditer(r'(?<!")reference §', unlinked)]  # "quoted": naming the citation form
    assert not stale, stale


def test_install_guide_is_linked_first() -> None:
    links = re.findall(r"\]\((docs/[^)#]+\.md)", README.read_text().split("## Using it on your site", 1)[1])
    assert links and links[0] == "docs/install.md", links


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in COMMANDS if bench_script(c)], ids=bench_script)
def test_benchmark_command_runs(command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCSYNC_", "DJANGO_"))}
    done = subprocess.run(scaled(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert BENCH_CHECK[bench_script(command)](summary), summary
