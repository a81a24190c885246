#!/usr/bin/env python3
"""Tests of count_tests.py, the check that keeps the test command from shrinking (scripts/test.sh
runs them first): CTest tests counted one by one, a group of GoogleTest tests counted by its
report, and every way a run can come out short."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def junit(cases):
    """A CTest junit file: cases are (name, status) with status run, fail or skipped."""
    rows = []
    for name, status in cases:
        if status == "run":
            rows.append(f'<testcase name="{name}" status="run" time="1"/>')
        elif status == "fail":
            rows.append(f'<testcase name="{name}" status="fail" time="1"><failure message="x"/></testcase>')
        else:
            rows.append(f'<testcase name="{name}" status="notrun" time="0"><skipped message="x"/></testcase>')
    return f'<?xml version="1.0"?><testsuite tests="{len(rows)}">{"".join(rows)}</testsuite>'


def gtest_report(cases):
    """A GoogleTest report: cases are (Suite.Test, result) with result completed, failed or skipped."""
    rows = []
    for full, result in cases:
        suite, name = full.split(".")
        inner = '<failure message="x"/>' if result == "failed" else ('<skipped message="x"/>' if result == "skipped" else "")
        res = "completed" if result == "failed" else result
        rows.append(f'<testcase name="{name}" status="run" result="{res}" classname="{suite}">{inner}</testcase>')
    return f'<?xml version="1.0"?><testsuites><testsuite name="s">{"".join(rows)}</testsuite></testsuites>'


class CountTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def run_count(self, tests, cases, reports, *wanted):
        """tests: (name, labels, command); reports: file name -> GoogleTest cases."""
        for name, report in reports.items():
            with open(self.path(name), "w") as f:
                f.write(gtest_report(report))
        with open(self.path("tests.json"), "w") as f:
            json.dump({"tests": [{"name": n, "command": c, "properties": [{"name": "LABELS", "value": l}]}
                                 for n, l, c in tests]}, f)
        with open(self.path("junit.xml"), "w") as f:
            f.write(junit(cases))
        return subprocess.run([sys.executable, os.path.join(HERE, "count_tests.py"), self.path("tests.json"),
                               self.path("junit.xml"), *wanted], capture_output=True, text=True)

    def group(self, name, members, report):
        return (name, ["torch"], ["exe", "--gtest_filter=" + ":".join(members),
                                  "--gtest_output=xml:" + self.path(report)])

    def test_single_tests_count_once_each_and_skips_and_failures_do_not(self):
        tests = [("A.x", ["core"], ["exe"]), ("A.y", ["core"], ["exe"]), ("A.z", ["core"], ["exe"]),
                 ("B.w", ["core", "blas"], ["exe"])]
        r = self.run_count(tests, [("A.x", "run"), ("A.y", "skipped"), ("A.z", "fail"), ("B.w", "run")], {},
                           "core=2", "blas=1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("label core: 2 passed (minimum 2)", r.stdout)
        r = self.run_count(tests, [("A.x", "run"), ("A.y", "skipped"), ("A.z", "fail"), ("B.w", "run")], {},
                           "core=3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("label core: 2 passed (minimum 3) FAILED", r.stdout)

    def test_a_group_counts_the_tests_that_passed_in_its_report(self):
        members = ["S.a", "S.b", "S.c", "S.d"]
        tests = [self.group("S (1/1)", members, "s.xml"), ("plain", ["torch"], ["exe"])]
        report = {"s.xml": [("S.a", "completed"), ("S.b", "completed"), ("S.c", "skipped"), ("S.d", "completed"),
                            ("Other.e", "completed")]}
        r = self.run_count(tests, [("S (1/1)", "run"), ("plain", "run")], report, "torch=4")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("label torch: 4 passed (minimum 4)", r.stdout)
        r = self.run_count(tests, [("S (1/1)", "run"), ("plain", "run")], report, "torch=5")
        self.assertEqual(r.returncode, 1)

    def test_a_group_that_failed_counts_nothing(self):
        tests = [self.group("S", ["S.a", "S.b"], "s.xml")]
        report = {"s.xml": [("S.a", "completed"), ("S.b", "failed")]}
        r = self.run_count(tests, [("S", "fail")], report, "torch=1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("label torch: 0 passed", r.stdout)

    def test_a_report_that_lacks_a_test_of_its_group_fails(self):
        tests = [self.group("S", ["S.a", "S.b"], "s.xml")]
        r = self.run_count(tests, [("S", "run")], {"s.xml": [("S.a", "completed")]}, "torch=1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("lacks S.b", r.stdout + r.stderr)

    def test_a_missing_report_fails(self):
        tests = [self.group("S", ["S.a"], "none.xml")]
        r = self.run_count(tests, [("S", "run")], {}, "torch=1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot be read", r.stdout + r.stderr)

    def test_two_tests_of_one_name_fail(self):
        tests = [("A.x", ["core"], ["exe"]), ("A.x", ["torch"], ["exe"])]
        r = self.run_count(tests, [("A.x", "run")], {}, "core=1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("two tests are named A.x", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
