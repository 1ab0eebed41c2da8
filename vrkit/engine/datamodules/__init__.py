"""The worlds' Lightning datamodules: the shared base (:mod:`.base`), COG (:mod:`.cog`) and CLEVR (:mod:`.clevr`,
with its generated-set cache :mod:`._clevr_gen`). A world is registered in :data:`vrkit.engine.recipe.WORLDS`."""
