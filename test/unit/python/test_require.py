"""Unit tests of containers/runtime/app/require.py: requirements.txt's version floors and pins are
honoured, and what is too old is named (run by test/unit/jobs.test.ts)."""
import os
import sys
import tempfile
import unittest
from unittest import mock

# The runtime image puts every role's helpers in one folder; here each role has its own.
RUNTIME = os.path.join(os.path.dirname(__file__), "..", "..", "..", "containers", "runtime")
sys.path[:0] = [os.path.join(RUNTIME, role) for role in ("app", "deploy", "jobs", "backups")]

import require  # noqa: E402


def requirements(text):
    fh = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    fh.write(text)
    fh.close()
    return fh.name


class Requirements(unittest.TestCase):
    def test_names_and_specifiers_are_read(self):
        path = requirements("Flask>=3.0\nreportlab >= 4.0, <5  # PDFs\nMarkdown\n-r other.txt\nwerkzeug[watchdog]==3.1.*\n")
        self.addCleanup(os.unlink, path)
        self.assertEqual(
            require.wanted(path),
            [
                ("Flask", [(">=", "3.0")]),
                ("reportlab", [(">=", "4.0"), ("<", "5")]),
                ("Markdown", []),
                ("werkzeug", [("==", "3.1.*")]),
            ],
        )

    def test_a_version_below_the_floor_is_named(self):
        versions = {"reportlab": "3.6.12", "Flask": "2.2.2", "gunicorn": "20.1.0"}
        with mock.patch.object(require, "installed", lambda n: versions.get(n)):
            lines = require.shortfalls([("reportlab", [(">=", "4.0")]), ("Flask", [(">=", "2.2")]), ("Markdown", [])])
        self.assertEqual(lines, ["reportlab 3.6.12 (requirements.txt wants >=4.0)", "Markdown (not installed)"])

    def test_operators(self):
        cases = [
            (">=", "4.0", "4.0.0", True),
            (">=", "4.0", "3.6.12", False),
            (">", "4.0", "4.0", False),
            ("<", "5", "4.9.9", True),
            ("<=", "2.2", "2.2.0", True),
            ("==", "3.1.*", "3.1.4", True),
            ("==", "3.1.*", "3.2.0", False),
            ("!=", "2.0", "2.0.0", False),
            ("~=", "2.2", "2.9", True),
            ("~=", "2.2", "3.0", False),
            ("~=", "1.4.2", "1.4.9", True),
            ("~=", "1.4.2", "1.5.0", False),
            (">=", "4.0", "4.0.9.post1", True),
            # ~= takes its prefix from the parts as written: ~=1.4.0 is 1.4.*, not 1.*
            ("~=", "1.4.0", "1.4.7", True),
            ("~=", "1.4.0", "1.5.0", False),
            ("~=", "2.0", "2.1", True),
            ("~=", "2.0", "3.0", False),
            ("==", "4.0", "4.0.0", True),
            ("==", "3.1.*", "3.10.0", False),
            # a pre-release or dev build comes before its release: it does not meet the floor
            (">=", "4.0", "4.0rc1", False),
            (">=", "4.0", "4.0.dev0", False),
            (">=", "4.0", "4.1b2", True),
            ("<", "4.0", "4.0rc1", True),
        ]
        for op, want, have, ok in cases:
            with self.subTest(f"{have} {op} {want}"):
                self.assertEqual(require.allows(op, want, have), ok)

    def test_a_pin_and_a_compatible_release_name_what_is_off(self):
        versions = {"Flask": "2.2.2", "Markdown": "3.4.1", "reportlab": "4.0rc1", "gunicorn": "20.1.0"}
        with mock.patch.object(require, "installed", lambda n: versions.get(n)):
            lines = require.shortfalls(
                [("Flask", [("==", "2.2.5")]), ("Markdown", [("~=", "3.4.0")]), ("reportlab", [(">=", "4.0")])]
            )
        self.assertEqual(
            lines,
            ["Flask 2.2.2 (requirements.txt wants ==2.2.5)", "reportlab 4.0rc1 (requirements.txt wants >=4.0)"],
        )

    def test_without_pip_the_build_fails_naming_what_is_too_old(self):
        path = requirements("reportlab>=4.0\n")
        self.addCleanup(os.unlink, path)
        versions = {"reportlab": "3.6.12", "gunicorn": "20.1.0"}
        no_pip = mock.Mock(returncode=1)
        with mock.patch.object(require, "installed", lambda n: versions.get(n)), mock.patch.object(
            require.subprocess, "run", return_value=no_pip
        ), mock.patch("sys.stderr") as err:
            self.assertEqual(require.main(path), 1)
        written = "".join(c.args[0] for c in err.write.call_args_list)
        self.assertIn("reportlab 3.6.12 (requirements.txt wants >=4.0)", written)


if __name__ == "__main__":
    unittest.main()
