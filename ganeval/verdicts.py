"""How gate verdicts are shown: an aligned table per run in the terminal, JUnit XML for CI test reporters, and a
Markdown summary for $GITHUB_STEP_SUMMARY. What is judged, and how, lives in ganeval/gate.py."""
from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

from .atomic import check_output_file, write_error, write_text_atomically
from .formatting import format_number
from .gate import Check, Verdict

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def check_outputs(junit: str | os.PathLike | None) -> None:
    """Before anything is judged: the JUnit file, and the GitHub summary file when the variable names one."""
    if junit is not None:
        check_output_file(junit, "--junit")
    if os.environ.get(SUMMARY_VARIABLE):
        check_output_file(os.environ[SUMMARY_VARIABLE], f"${SUMMARY_VARIABLE}")


def verdict_table(checks: list[Check] | tuple[Check, ...], description: str) -> str:
    """The verdict of one target as an aligned table; every column is as wide as its longest text, so a long limit
    never runs into the verdict."""
    header = ("metric", "value", "limit", "verdict")
    rows = [(check.metric, check.shown_value, check.condition, "pass" if check.passed else "FAIL") for check in checks]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(3)]
    lines = [f"gate: {description}", ""]
    for metric, value, condition, verdict in [header, *rows]:
        lines.append(f"{metric:<{widths[0]}}  {value:>{widths[1]}}  {condition:<{widths[2]}}  {verdict}")
    failed = sum(not check.passed for check in checks)
    lines += ["", f"gate {'FAILED' if failed else 'passed'}: {len(checks) - failed} of {len(checks)} checks pass"]
    return "\n".join(lines)


def verdicts_text(verdicts: list[Verdict]) -> str:
    """A verdict table per run and, for several runs, a last line that names the failing ones."""
    text = "\n\n".join(verdict_table(verdict.checks, verdict.description) for verdict in verdicts)
    if len(verdicts) > 1:
        failed = [verdict.run for verdict in verdicts if not verdict.passed]
        text += (f"\n\ngate FAILED: {len(failed)} of {len(verdicts)} runs fail ({', '.join(failed)})" if failed
                 else f"\n\ngate passed: all {len(verdicts)} runs pass")
    return text


def markdown_summary(verdicts: list[Verdict]) -> str:
    """The GitHub step summary: the overall verdict, then each run's table."""
    failed = sum(not verdict.passed for verdict in verdicts)
    counts = f" ({failed} of {len(verdicts)} runs fail)" if failed and len(verdicts) > 1 else ""
    lines = [f"### ganeval gate: {'FAILED' if failed else 'passed'}{counts}"]
    for verdict in verdicts:
        code = verdict.description.replace("`", "'")  # a code span shows the rest literally (it is no table cell)
        lines += ["", f"`{code}`: {'passed' if verdict.passed else '**FAILED**'}", "",
                  "| metric | value | limit | verdict |", "|---|---|---|---|"]
        lines += [f"| {c.metric} | {c.shown_value} | {c.condition} | {'pass' if c.passed else '**FAIL**'} |"
                  for c in verdict.checks]
    return "\n".join(lines) + "\n"


def junit_xml(verdicts: list[Verdict]) -> str:
    """A JUnit report: a testsuite per run (named after it, so CI test reporters group the checks by run) and a
    test case per check, named stably ('fid <= 25') so a test keeps its history when another checkpoint is chosen."""
    root = ElementTree.Element("testsuites", name="ganeval gate", tests=str(sum(len(v.checks) for v in verdicts)),
                               failures=str(sum(not c.passed for v in verdicts for c in v.checks)), errors="0")
    for verdict in verdicts:
        suite = ElementTree.SubElement(root, "testsuite", name=verdict.run, tests=str(len(verdict.checks)),
                                       failures=str(sum(not check.passed for check in verdict.checks)), errors="0")
        properties = ElementTree.SubElement(suite, "properties")
        ElementTree.SubElement(properties, "property", name="target", value=verdict.description)
        ElementTree.SubElement(properties, "property", name="checkpoint", value=verdict.checkpoint or "")
        for check in verdict.checks:
            case = ElementTree.SubElement(suite, "testcase", classname=verdict.run, name=check.name)
            if not check.passed:
                failure = ElementTree.SubElement(case, "failure", message=f"{check.metric} = {format_number(check.value)}, "
                                                 f"limit {check.condition}")
                failure.text = f"{verdict.description}: {check.metric} = {check.value!r}"
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def publish(verdicts: list[Verdict], junit: str | os.PathLike | None) -> None:
    """Write the JUnit file when asked, and the Markdown summary to $GITHUB_STEP_SUMMARY when set."""
    if junit:
        write_text_atomically(Path(junit), junit_xml(verdicts))
    summary = os.environ.get(SUMMARY_VARIABLE)
    if summary:
        try:
            with open(summary, "a") as handle:  # GitHub's file collects every step's summary: append
                handle.write(markdown_summary(verdicts))
        except OSError as exc:
            raise write_error(f"${SUMMARY_VARIABLE} {summary}", exc) from exc
