"""The StudyLens cloud API: accounts, sign-in, sync ingest, images and analytics (in progress)."""
