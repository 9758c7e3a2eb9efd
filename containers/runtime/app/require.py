"""Makes sure the app's requirements.txt (and gunicorn) are installed.

When every requirement is already provided by the base image (Debian packages in the offline test
images), nothing is installed. Otherwise pip installs requirements.txt; a base image without pip and
with missing requirements fails the build with the list of what is missing.
Usage: python3 require.py REQUIREMENTS_FILE
"""
import importlib.metadata
import re
import subprocess
import sys

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def wanted(path):
    names = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            m = NAME.match(line)
            if m:
                names.append(m.group(1))
    return names


def installed(name):
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def main(path):
    names = wanted(path)
    missing = [n for n in names + ["gunicorn"] if not installed(n)]
    if not missing:
        print(f"require: all {len(names)} requirements and gunicorn come with the base image")
        return 0
    have_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0
    if not have_pip:
        print(
            "require: the base image lacks " + ", ".join(missing) + " and has no pip to install them. "
            "Fix: use a base image with pip (python:3.x-slim) or one that ships these packages.",
            file=sys.stderr,
        )
        return 1
    cmd = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-r", path]
    if "gunicorn" in missing and "gunicorn" not in [n.lower() for n in names]:
        cmd.append("gunicorn")
    print("require: installing " + ", ".join(missing))
    subprocess.run(cmd, check=True)
    # Compile what pip installed, like the rest of the runtime.
    subprocess.run([sys.executable, "-OO", "/opt/lernmanager/precompile.py", "--system"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
