"""Build of the optional compiled twins (see rtcc/compiled.py); everything else is in
pyproject.toml. Without a C compiler the build goes on and rtcc runs pure Python."""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # building without Cython (it is in build-system.requires): pure Python
    extensions = []
else:
    extensions = cythonize(
        [Extension(name, [name.replace(".", "/") + ".pyx"], optional=True)
         for name in ("rtcc.media._rtp_c", "rtcc.ingest._sink_c")],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=extensions)
