"""The repository's promises about itself: the README's two commands exist and CI runs the test one."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block
    assert "make test" in first_block


def test_ci_runs_exactly_the_readme_test_command() -> None:
    # First the README's command as written, then the newest-versions run (make test-newest).
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]
    assert commands[0] in ("make test", "exec make test"), commands
    assert "make test-newest" in commands[1:] or not commands[1:], commands


def test_makefile_has_both_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install:", "test:", "demo:"):
        assert f"\n{target}" in makefile
