"""The segmentation job (``segment run``): customers -> segments, a model and its outputs.

:mod:`segmentation.run.config` is its configuration (each section defined by the stage that
owns it), :mod:`segmentation.run.job` composes the stages, :mod:`segmentation.run.manifest`
says what the run did.
"""
