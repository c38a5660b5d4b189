"""Stand-in for the get-pip.py that ansible-test's pip bootstrap downloads (not part of the collection).

Why: `ansible-test sanity --venv` creates each virtual environment `--without-pip` and then runs
get-pip.py, which it downloads from a CI file host this machine cannot reach. ansible-test first
looks for a cached copy at ~/.ansible/test/cache/get_pip_<version>.py; `make collection-sanity`
points HOME at .cache/ansible-test-home and puts this file there under every name ansible-test
asks for. It installs pip with the interpreter's own `ensurepip` (no network) and then lets that
pip install exactly what ansible-test asked get-pip for (e.g. `pip==25.1.1`) from the package
index as usual, so the resulting venv is the one ansible-test expects.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that are not pip options: ensurepip installs neither setuptools nor wheel.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main() -> int:
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    if not [a for a in args if not a.startswith("-")]:
        return 0
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
