# The attnlrp Python package: pure Python over libattnlrp.so (ctypes), NumPy arrays out.
#
#   pip install ./python          (in a virtual environment, or with --target DIR; offline: nothing is
#                                  downloaded, Debian's python3-numpy is used)
#
# When the library has been built (`make` at the repository root: build/libattnlrp.so) or ATTNLRP_LIB names
# one, a copy goes into the built package (never into this source tree), so the installed package works on
# its own; otherwise it looks for the installed library at run time (attnlrp/_lib.py).
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

here = os.path.dirname(os.path.abspath(__file__))


class build_py_with_library(build_py):
    def run(self):
        super().run()
        lib = os.environ.get("ATTNLRP_LIB") or os.path.join(here, "..", "build", "libattnlrp.so")
        if not os.path.exists(lib):
            return
        dest = os.path.join(self.build_lib, "attnlrp")
        shutil.copyfile(os.path.realpath(lib), os.path.join(dest, "libattnlrp.so"))
        # the build tree's models, for Model() when the library finds no default model of its own
        models = os.path.realpath(os.path.join(here, "..", "models"))
        with open(os.path.join(dest, "_build_info.py"), "w") as f:
            f.write("# Written by setup.py: where the package was built from.\nMODELS_DIR = %r\n" % models)


# The version of the C library's header (one place), when the package is built from the repository.
version = "0.2.0"
header = os.path.join(here, "..", "include", "attnlrp.h")
if os.path.exists(header):
    m = re.search(r'#define ATTNLRP_VERSION "([^"]+)"', open(header).read())
    version = m.group(1) if m else version

setup(
    name="attnlrp",
    version=version,
    description="AttnLRP explanations of transformer predictions (ctypes over libattnlrp.so, NumPy arrays out)",
    packages=["attnlrp"],
    python_requires=">=3.9",
    install_requires=[],  # numpy: Debian's python3-numpy (not pulled from an index)
    cmdclass={"build_py": build_py_with_library},
)
