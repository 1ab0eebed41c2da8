"""The COG world (Yang et al. 2018): constants, generator, evaluator, renderer, official I/O."""
