"""Compiles Python files to .opt-2.pyc (the bytecode `python -OO` / PYTHONOPTIMIZE=2 loads).

Usage: python3 -OO precompile.py [--system] [--strict] DIR...
  --system  also compile the stdlib and every site/dist-packages folder on sys.path
  --strict  fail when a file in the named DIRs does not compile (used for the app itself)
Files of the stdlib or third-party packages that do not compile (test data written for another
Python version) are counted and reported, never fatal.
"""
import compileall
import os
import re
import site
import sys
import sysconfig

SKIP = re.compile(r"/(test|tests|idle_test|lib2to3/tests?|__pycache__)/")


def system_dirs():
    dirs = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            dirs.add(paths[key])
    for d in site.getsitepackages() + sys.path:
        if d and os.path.isdir(d) and not d.endswith(".zip"):
            dirs.add(d)
    return sorted(d for d in dirs if os.path.isdir(d))


def main(argv):
    system = "--system" in argv
    strict = "--strict" in argv
    named = [a for a in argv if not a.startswith("--")]
    ok = True
    for d in named:
        good = compileall.compile_dir(d, quiet=1, optimize=2, workers=0)
        if not good:
            print(f"precompile: some files in {d} do not compile", file=sys.stderr)
            ok = False
    if system:
        for d in system_dirs():
            if not compileall.compile_dir(d, quiet=2, optimize=2, workers=0, rx=SKIP):
                print(f"precompile: note: some files under {d} did not compile (left as source)")
    if strict and not ok:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
