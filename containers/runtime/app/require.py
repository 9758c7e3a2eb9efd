"""Makes sure the app's requirements.txt (and gunicorn) are installed, in the versions it asks for.

When every requirement is already provided by the base image (Debian packages in the offline test
images) in a version its specifiers allow (`reportlab>=4.0`: the Debian package must be 4.0 or
newer), nothing is installed. Otherwise pip installs requirements.txt; a base image without pip and
with missing or too old requirements fails the build naming each and the version it has.
Usage: python3 require.py REQUIREMENTS_FILE
"""
import importlib.metadata
import re
import subprocess
import sys

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
SPEC = re.compile(r"^(~=|==|!=|<=|>=|<|>)\s*([0-9][0-9A-Za-z.*+!-]*)$")


def wanted(path):
    """(name, [(operator, version), ...]) per requirement line; markers after ';' are left to pip."""
    found = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            m = NAME.match(line.split(";", 1)[0])
            if not m:
                continue
            specs = []
            for part in filter(None, (p.strip() for p in m.group(3).split(","))):
                spec = SPEC.match(part)
                if spec:
                    specs.append((spec.group(1), spec.group(2)))
            found.append((m.group(1), specs))
    return found


PRE = re.compile(r"(a|b|c|rc|alpha|beta|pre|preview|dev)[-_.]?\d*$", re.I)


def release(version, strip=True):
    """The numeric release of a version (`4.0.9.post1` -> (4, 0, 9)), for comparing floors and pins;
    trailing zeros dropped unless `strip` is False (`~=1.4.0` needs its three parts)."""
    parts = []
    for piece in re.split(r"[.+!-]", version):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group(0)))
        if m.group(0) != piece:
            break
    while strip and parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def key(version):
    """Orders versions as pip does for releases: a pre-release or dev build (`4.0rc1`, `4.0.dev2`)
    comes before its release, so it does not meet a floor of `>=4.0`."""
    pre = any(PRE.match(p) or PRE.match(re.sub(r"^\d+", "", p)) for p in re.split(r"[.+!-]", version.split("+")[0]))
    return (release(version), 0 if pre else 1)


def allows(op, want, have):
    """Whether installed version `have` meets `<op> <want>` (`==1.*` too; pre-releases below their release)."""
    if op in ("==", "!=") and want.endswith(".*"):
        prefix = release(want[:-2], strip=False)
        same = release(have, strip=False)[: len(prefix)] == prefix
        return same if op == "==" else not same
    h, w = key(have), key(want)
    if op == ">=":
        return h >= w
    if op == ">":
        return h > w
    if op == "<=":
        return h <= w
    if op == "<":
        return h < w
    if op == "==":
        return h == w
    if op == "!=":
        return h != w
    # ~= X.Y.Z: >= X.Y.Z and == X.Y.* (the prefix from the parts as written: ~=1.4.0 is 1.4.*)
    written = release(want, strip=False)
    prefix = written[:-1] if len(written) > 1 else written
    padded = release(have, strip=False) + (0,) * len(prefix)
    return h >= w and padded[: len(prefix)] == prefix


def installed(name):
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def shortfalls(requirements):
    """What the base image lacks: one line per requirement missing or in a version it does not allow."""
    lines = []
    for name, specs in requirements:
        have = installed(name)
        if have is None:
            lines.append(f"{name} (not installed)")
            continue
        refused = [f"{op}{want}" for op, want in specs if not allows(op, want, have)]
        if refused:
            lines.append(f"{name} {have} (requirements.txt wants {','.join(refused)})")
    return lines


def main(path):
    requirements = wanted(path)
    names = [n for n, _ in requirements]
    extra = [] if "gunicorn" in [n.lower() for n in names] else [("gunicorn", [])]
    missing = shortfalls(requirements + extra)
    if not missing:
        print(f"require: all {len(names)} requirements and gunicorn come with the base image")
        return 0
    have_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0
    if not have_pip:
        print(
            "require: the base image lacks " + "; ".join(missing) + " and has no pip to install them. "
            "Fix: use a base image with pip (python:3.x-slim) or one that ships these packages in those versions.",
            file=sys.stderr,
        )
        return 1
    cmd = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-r", path]
    if extra and any(m.startswith("gunicorn ") for m in missing):
        cmd.append("gunicorn")
    print("require: installing, as the base image lacks " + "; ".join(missing))
    subprocess.run(cmd, check=True)
    # Compile what pip installed, like the rest of the runtime.
    subprocess.run([sys.executable, "-OO", "/opt/lernmanager/precompile.py", "--system"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
