"""Only what pyproject.toml cannot say: ship the top-level resources/ and ui/ folders in the wheel.

They become the data-only packages ``clinic_app_resources`` and ``clinic_app_ui``, and the user
guide in docs/ becomes ``clinic_app_docs`` (only the files pyproject.toml's package-data names);
``clinic_app.core.resources`` finds them there when the app is installed from a wheel.
"""

from setuptools import find_namespace_packages, find_packages, setup

resource_packages = [
    "clinic_app_resources",
    *(f"clinic_app_resources.{name}" for name in find_namespace_packages(where="resources")),
]

setup(
    packages=[
        *find_packages(include=["clinic_app", "clinic_app.*"]),
        *resource_packages,
        "clinic_app_ui",
        "clinic_app_docs",
    ],
    package_dir={
        "clinic_app_resources": "resources",
        "clinic_app_ui": "ui",
        "clinic_app_docs": "docs",
    },
)
