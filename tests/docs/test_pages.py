"""The README stays a front door whose sample output is still true, and the architecture page names
what really exists: every stack output the program exports, every command module, every make target."""

from __future__ import annotations

import importlib.util
import re

import pipeline_policies  # pytest puts policy/ on sys.path, as the pack runs

from tests.paths import REPO_ROOT

README_MAX_LINES = 200


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in markdown.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_readme_is_a_front_door_not_a_reference():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move reference text to docs/"


def test_architecture_documents_every_stack_output(production):
    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Stack outputs", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert documented == set(production.outputs)


def test_every_documented_command_module_exists():
    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    modules = sorted({module for line in headings for module in re.findall(r"python -m ([\w.]+)", line)})
    assert {
        "preview",
        "worker",
        "audit",
        "dlq",
        "sandbox.deploy",
        "sandbox.drill",
        "bench.policy",
        "bench.worker",
    } <= set(modules)
    missing = [
        module
        for module in modules
        if importlib.util.find_spec(module) is None
        or (
            importlib.util.find_spec(module).submodule_search_locations
            and importlib.util.find_spec(f"{module}.__main__") is None
        )
    ]
    assert missing == [], f"documented but not runnable with python -m: {missing}"


def test_every_make_target_the_readme_shows_exists():
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    shown = set(re.findall(r"^make ([\w-]+)", (REPO_ROOT / "README.md").read_text(encoding="utf-8"), re.M))
    assert {"preview", "test"} <= shown
    assert shown - targets == set()


def test_readme_preview_sample_matches_the_rendered_stack(production):
    """The sample output is abridged by hand; what it does show must still be true of the program."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sample = next(block for block in code_blocks(readme) if "Previewing stack" in block)
    shown = re.findall(r"^ \+\s+[│├└─ ]*([a-z][\w:/.-]*:[\w:/.-]+)\s+(\S+)", sample, re.M)
    assert len(shown) >= 10
    rendered = {(resource.type, resource.name) for resource in production.resources}
    assert [pair for pair in shown if pair not in rendered] == []
    outputs = re.findall(r"^    (\w+)\s*: ", sample, re.M)
    assert outputs and set(outputs) <= set(production.outputs)
    created = sum(1 for resource in production.resources if resource.type != "pulumi:pulumi:Stack")
    assert re.search(r"^Resources: (\d+) to create", sample, re.M).group(1) == str(created)
    assert re.search(r"^Policies: (\d+) evaluated", sample, re.M).group(1) == str(
        len(pipeline_policies.POLICIES)
    )


def test_readme_preview_sample_is_a_real_run(capsys):
    """Every line the README shows is the real run's line (cut lines end in " …"), in the real order;
    only the checkout's path and the elapsed time may differ."""
    from preview.cli import main as preview_main

    assert preview_main(["--stack", "production"]) == 0
    real = [
        re.sub(r"\(\d+\.\d+ s\)$", "(N s)", line.replace(f"{REPO_ROOT}/", ""))
        for line in capsys.readouterr().out.splitlines()
    ]
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sample = next(block for block in code_blocks(readme) if "Previewing stack" in block)
    position = 0
    for line in sample.splitlines():
        line = re.sub(r"\(\d+\.\d+ s\)$", "(N s)", line)
        if re.match(r"^ \+\s+[│├└─ ]*… |^\s+…$", line):  # an abridgement the README says it makes
            continue
        prefix = line[: -len(" …")] if line.endswith(" …") else None
        for index in range(position, len(real)):
            if real[index] == line or (prefix is not None and real[index].startswith(prefix)):
                position = index + 1
                break
        else:
            raise AssertionError(f"README preview line not in the real run (or out of order): {line!r}")
