"""JUnit XML: one ``testsuite`` per suite, one ``testcase`` per case, for CI dashboards.

A case that failed an expectation has a ``failure`` (its message: the first failing check;
its text: every failing check and the transcript); a case that could not run has an ``error``;
a known failure (``xfail``) that failed is ``skipped``. Skipped checks (no judge configured) are
listed in ``system-out``; they do not fail a case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from evals.results import CaseResult, RunResult


def _details(case: CaseResult) -> str:
    lines = [f"turn {i + 1}: {c.name}: {c.message}" for i, c in case.failures]
    if case.error:
        lines.insert(0, case.error)
    lines.append("")
    lines.append("transcript:")
    for turn in case.turns:
        said = turn.transcript if turn.transcript and turn.kind != "text" else turn.user
        lines.append(f"  user ({turn.kind}): {said}")
        reply = turn.reply or {}
        lines.append(f"  avatar [{reply.get('status')}]: {reply.get('text', '')}")
    return "\n".join(lines)


def junit_xml(result: RunResult) -> str:
    root = ET.Element("testsuites", name="avatar-agent evals")
    totals = result.totals()
    root.set("tests", str(totals["cases"]))
    root.set("failures", str(totals["failed"]))
    root.set("errors", str(totals["error"]))
    root.set("time", f"{result.duration_s:.3f}")
    for suite in result.suites:
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            file=suite.path,
            tests=str(len(suite.cases)),
            failures=str(suite.count("failed")),
            errors=str(suite.count("error")),
            skipped=str(suite.count("xfailed")),
            time=f"{sum(c.duration_s for c in suite.cases):.3f}",
        )
        for case in suite.cases:
            test = ET.SubElement(
                node,
                "testcase",
                classname=suite.name,
                name=case.name,
                time=f"{case.duration_s:.3f}",
            )
            if case.status == "failed":
                failure = ET.SubElement(test, "failure", message=case.reason(), type="expectation")
                failure.text = _details(case)
            elif case.status == "error":
                error = ET.SubElement(test, "error", message=case.error or "", type="error")
                error.text = _details(case)
            elif case.status == "xfailed":
                skip = ET.SubElement(
                    test, "skipped", message=f"known failure: {case.xfail}", type="xfail"
                )
                skip.text = _details(case)
            notes = [
                f"skipped: turn {i + 1}: {c.name}: {c.message}" for i, c in case.skipped_checks
            ]
            if case.status == "xpassed":
                notes.insert(0, f"passed although marked as a known failure: {case.xfail}")
            if notes:
                ET.SubElement(test, "system-out").text = "\n".join(notes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")
