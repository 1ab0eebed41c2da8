"""Transfer-learning experiments end to end (Jayram et al., 2019; docs/transfer.md): resumable stage lists for
the temporal, feature and reasoning protocols, zero-shot task transfer (TTNet; docs/zeroshot.md), fine-tuning
modes (full, head, flex-tuning), tables and figures."""

from vrkit.transfer.recipes import FT_MODES, RECIPES, RecipeSpec, build_stages, parse_partitions, run_recipe
from vrkit.transfer.report import write_report
from vrkit.transfer.stages import Stage, load_result, read_stage_log, run_stages
from vrkit.transfer.table import aggregate, collect
from vrkit.transfer.zeroshot import ZeroShotSpec, run_zeroshot
from vrkit.transfer.zeroshot_report import write_zeroshot_report

__all__ = [
    "FT_MODES", "RECIPES", "RecipeSpec", "Stage", "aggregate", "build_stages", "collect", "load_result",
    "parse_partitions", "read_stage_log", "run_recipe", "run_stages", "write_report",
    "ZeroShotSpec", "run_zeroshot", "write_zeroshot_report",
]
