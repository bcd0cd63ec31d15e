"""The reference tables of docs/configuration.md and docs/monitoring.md, generated from the code that
declares them (Pulumi.yaml's config schema, the alarm specs), so a page cannot drift from the stack.

`python -m tests.program.doc_tables --write` rewrites the tables in place; test_docs fails when stale.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from components.pipeline_alarms import FunctionConsumer, alarm_specs
from components.settings import AlarmSettings, _config_key
from tests.paths import REPO_ROOT

CONFIGURATION = REPO_ROOT / "docs" / "configuration.md"
MONITORING = REPO_ROOT / "docs" / "monitoring.md"
START, END = "<!-- generated:{name}:start -->", "<!-- generated:{name}:end -->"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def config_table() -> str:
    schema = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    production = yaml.safe_load((REPO_ROOT / "Pulumi.production.yaml").read_text())["config"]
    rows = ["| Key | Type | Default | production | Meaning |", "| --- | --- | --- | --- | --- |"]
    for key, spec in schema.items():
        default = spec.get("default")
        shown = (
            '`""` (derived)'
            if default == ""
            else f"`{yaml.safe_dump(default, default_flow_style=True).strip()}`"
        )
        shown = shown.replace("`[]\n...`", "`[]`").replace("\n...", "")
        set_in_production = production.get(f"cis-file-pipeline:{key}")
        rows.append(
            f"| `{key}` | {spec['type']} | {shown} | "
            f"{'`' + str(set_in_production) + '`' if set_in_production is not None else ''} | "
            f"{_cell(spec['description'])} |"
        )
    return "\n".join(rows)


def alarm_table() -> str:
    schema = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    defaults = {name: schema[_config_key(name)]["default"] for name in AlarmSettings.__dataclass_fields__}
    settings = AlarmSettings(**defaults)
    function = FunctionConsumer("<function>", schema["lambdaTimeoutSeconds"]["default"])
    ec2 = alarm_specs(settings, "<queue>", "<dlq>", "<group>", "<namespace>")
    lambda_mode = alarm_specs(settings, "<queue>", "<dlq>", None, "<namespace>", function)
    in_ec2, in_lambda = {spec.key for spec in ec2}, {spec.key for spec in lambda_mode}
    rows = [
        "| Alarm | Compute | Watches | Fires when | Rolls back a refresh (ec2) | What to do (ec2 wording) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for spec in ec2 + [spec for spec in lambda_mode if spec.key not in in_ec2]:
        mode = (
            "both"
            if spec.key in in_ec2 and spec.key in in_lambda
            else ("ec2" if spec.key in in_ec2 else "lambda")
        )
        if spec.metric:
            watches = f"{spec.metric['namespace']} {spec.metric['metric_name']} ({spec.metric['stat']}, {spec.metric['period']} s)"
        else:
            (expression,) = [query for query in spec.queries if query.get("return_data")]
            watches = f"`{expression['expression']}`"
        operator = {"GreaterThanThreshold": ">", "LessThanThreshold": "<"}[spec.comparison]
        fires = f"{operator} {spec.threshold:g} for {spec.evaluation_periods} period(s)"
        rows.append(
            f"| `<prefix>-{spec.key}` | {mode} | {_cell(watches)} | {fires} | {'yes' if spec.rollout else ''} | "
            f"{_cell(spec.description)} |"
        )
    return "\n".join(rows)


TABLES = {CONFIGURATION: {"config": config_table}, MONITORING: {"alarms": alarm_table}}


def section(text: str, name: str) -> str | None:
    pattern = re.escape(START.format(name=name)) + r"\n(.*?)\n" + re.escape(END.format(name=name))
    match = re.search(pattern, text, re.DOTALL)
    return match.group(1) if match else None


def rewrite(path: Path) -> None:
    text = path.read_text()
    for name, build in TABLES[path].items():
        block = f"{START.format(name=name)}\n{build()}\n{END.format(name=name)}"
        pattern = re.escape(START.format(name=name)) + r".*?" + re.escape(END.format(name=name))
        text = re.sub(pattern, lambda _, block=block: block, text, flags=re.DOTALL)
    path.write_text(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the generated tables in docs/")
    if parser.parse_args().write:
        for page in TABLES:
            rewrite(page)
