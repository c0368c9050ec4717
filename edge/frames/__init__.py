"""The frame pipeline: from an uploaded photo to a stored, analysed, tracked learning event."""
