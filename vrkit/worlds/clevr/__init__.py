"""The CLEVR world (Johnson et al. 2017): constants, official I/O, program executor, scene and question
generators (pure Python + numpy). The renderer lives in ``render*.py`` modules."""
