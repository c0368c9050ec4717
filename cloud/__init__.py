"""The StudyLens cloud API: accounts, sign-in, sync ingest, images and analytics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("studylens")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
