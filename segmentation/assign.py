"""Where runs saved before version 2 of the run layout find ``SegmentAssigner``.

A saved ``PipelineModel`` names each Python stage by its module path; models written before
the package was split into stages name ``segmentation.assign.SegmentAssigner``. New models
name :mod:`segmentation.model.assign`.
"""

from segmentation.model.assign import SegmentAssigner

__all__ = ["SegmentAssigner"]
