"""Model builders: the `Builder` contract and the helpers every builder shares.

The built-in builders (`mlp`, `convnet`) live in their own modules; the registry imports them.
"""

from parzen.worker.builders.base import (
    Builder,
    compile_for_task,
    make_optimizer,
    model_inputs,
    output_layer,
    task_loss_and_metrics,
)

__all__ = [
    "Builder",
    "compile_for_task",
    "make_optimizer",
    "model_inputs",
    "output_layer",
    "task_loss_and_metrics",
]
