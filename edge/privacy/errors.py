"""Why an export or an import was refused: one error per failure, under `EdgeError`."""

from __future__ import annotations

from edge.errors import EdgeError, InvalidDate


class SinceInFuture(InvalidDate):
    """`--since` names a day after today: nothing could be exported."""

    code = "since_in_future"


class ArchiveError(EdgeError):
    """Base of the refusals of an export or an import."""

    http_status = 400
    code = "archive_error"


class ExportTargetExists(ArchiveError):
    """The archive to write already exists (and replacing it was not asked for)."""

    http_status = 409
    code = "export_target_exists"


class DataDirNotEmpty(ArchiveError):
    """An import goes into an empty data dir only: it never merges into existing data."""

    http_status = 409
    code = "data_dir_not_empty"


class NotAnExport(ArchiveError):
    """The file is a zip, but not a StudyLens export (no manifest of ours, foreign entries)."""

    code = "not_an_export"


class CorruptArchive(ArchiveError):
    """The archive is not a readable zip, is truncated, or its content disagrees with itself."""

    code = "corrupt_archive"


class UnsafeArchive(ArchiveError):
    """An entry's path would leave the data dir (`../`, absolute, a link)."""

    code = "unsafe_archive"


class ArchiveTooLarge(ArchiveError):
    """The archive unpacks to more than the limit, or more than the disk has free."""

    http_status = 413
    code = "archive_too_large"


class UnknownArchiveVersion(ArchiveError):
    """The manifest's format version is one this StudyLens cannot read."""

    code = "unknown_archive_version"


class PartialArchive(ArchiveError):
    """An export made with `--since` holds part of the history: it cannot become a data dir."""

    code = "partial_archive"
