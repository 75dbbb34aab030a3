"""Map the checkout's folders onto one import package, `latent_explorer`.

The folders stay where the course put them (models/, training/, explorer/ at the top); a wheel
installs them as latent_explorer.models, latent_explorer.training and latent_explorer.explorer,
so nothing generic lands at the top of site-packages. Packages are found, never listed: a new
sub-package cannot be left out of the wheel. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

PACKAGE = "latent_explorer"
FOLDERS = ("models", "training", "explorer")  # each installs as latent_explorer.<folder>

packages = [PACKAGE] + [f"{PACKAGE}.{name}"
                        for name in find_packages(include=[f"{f}*" for f in FOLDERS])]
package_dir = {PACKAGE: PACKAGE, **{f"{PACKAGE}.{f}": f for f in FOLDERS}}
# The user guide travels with the code (Help → User guide opens the installed copy).
# Its screenshots folder is data only, named here so setuptools does not warn it was left out.
packages += [f"{PACKAGE}.docs", f"{PACKAGE}.docs.screenshots"]
package_dir[f"{PACKAGE}.docs"] = "docs"

setup(packages=packages, package_dir=package_dir)  # package data: pyproject.toml
