"""The StudyLens edge daemon: frames, voice, topics and sync next to the student."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("studylens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
