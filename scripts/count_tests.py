#!/usr/bin/env python3
"""Checks that a CTest run ran enough tests of each label (used by scripts/test.sh).

  count_tests.py TESTS_JSON JUNIT_XML LABEL=MINIMUM...

TESTS_JSON is `ctest --show-only=json-v1` of the run (it gives each test's labels), JUNIT_XML its
`--output-junit` file (it gives what each test did). A test counts when it ran and passed; a
skipped test (no CUDA device, a missing tool) does not, nor does one with an <error>; a test reported
twice counts once, and only when every report of it passed; two tests of one name in TESTS_JSON fail
the check (their labels would mix). A CTest test that runs a group of GoogleTest tests
(tests/gtest_groups.cmake: `--gtest_filter=A.x:A.y --gtest_output=xml:REPORT`) counts as the tests
of its group that passed in REPORT, and only when the CTest test passed; a report that lacks one of
its group's tests fails the check. Prints one line per label and exits 1,
naming the label, when one ran fewer tests than its minimum, so that a dependency that went
missing cannot quietly remove tests from the run.
"""
import json
import sys
import xml.etree.ElementTree as ET


def group_passed(name, members, report):
    """How many of a group's GoogleTest tests passed, from the group's report."""
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError) as e:
        sys.exit(f"camkit tests: FAILED: the report of {name} cannot be read: {e}")
    results = {}
    for case in root.iter("testcase"):
        ok = (case.get("status") == "run" and case.get("result", "completed") == "completed"
              and all(case.find(tag) is None for tag in ("failure", "error", "skipped")))
        results[f"{case.get('classname')}.{case.get('name')}"] = ok
    lacking = [m for m in members if m not in results]
    if lacking:
        sys.exit(f"camkit tests: FAILED: the report of {name} ({report}) lacks {', '.join(lacking)}")
    return sum(results[m] for m in members)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tests_json, junit_xml, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    labels = {}
    groups = {}  # CTest name -> (its GoogleTest tests, their report)
    for test in json.load(open(tests_json))["tests"]:
        if test["name"] in labels:
            sys.exit(f"camkit tests: FAILED: two tests are named {test['name']}; their labels cannot be told apart")
        labels[test["name"]] = []
        for prop in test.get("properties", []):
            if prop["name"] == "LABELS":
                labels[test["name"]] = prop["value"]
        args = test.get("command", [])
        report = [a[len("--gtest_output=xml:"):] for a in args if a.startswith("--gtest_output=xml:")]
        members = [a[len("--gtest_filter="):] for a in args if a.startswith("--gtest_filter=")]
        if report and members:
            groups[test["name"]] = (members[0].split(":"), report[0])
    ok_by_name = {}  # a test reported twice counts once, and only when every report passed
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        ok = case.get("status") == "run" and all(case.find(tag) is None for tag in ("failure", "error", "skipped"))
        ok_by_name[case.get("name")] = ok_by_name.get(case.get("name"), True) and ok
    passed = {}
    for name, ok in ok_by_name.items():
        if not ok:
            continue
        count = group_passed(name, *groups[name]) if name in groups else 1
        for label in labels.get(name, []):
            passed[label] = passed.get(label, 0) + count
    failed = []
    for item in wanted:
        label, minimum = item.split("=")
        count = passed.get(label, 0)
        ok = count >= int(minimum)
        print(f"camkit tests: label {label}: {count} passed (minimum {minimum}){'' if ok else ' FAILED'}")
        if not ok:
            failed.append(label)
    if failed:
        print(f"camkit tests: FAILED: fewer tests than required ran for label(s) {', '.join(failed)}; "
              "a dependency or a test executable may be missing")
        sys.exit(1)


if __name__ == "__main__":
    main()
