"""The little that depends on which Keras backend runs: device setup, state reset, OOM."""

from __future__ import annotations

import gc
import logging
import re

import keras

logger = logging.getLogger(__name__)

_OOM_TEXT = re.compile(r"out of memory|\bOOM\b|RESOURCE_EXHAUSTED", re.IGNORECASE)
_OOM_TYPES = frozenset({"ResourceExhaustedError", "OutOfMemoryError", "MemoryError"})


def configure_devices() -> None:
    """Let TensorFlow grow GPU memory as needed instead of taking it all at start.

    Call once, before the first model is built; other backends need nothing here.
    """
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # the device was initialized before this call
            logger.warning("cannot enable memory growth on %s: %s", gpu.name, exc)


def reset_keras_state() -> None:
    """Drop the models, graphs and layer names of earlier trials, and free their memory.

    One full garbage collection: Keras's own (clear_session's free_memory) is skipped, as
    a second pass over the heap finds nothing more and costs as much as the first.
    """
    keras.backend.clear_session(free_memory=False)
    if keras.backend.backend() == "tensorflow":
        _forget_custom_gradients()
    gc.collect()


def _forget_custom_gradients() -> None:
    """Drop the gradient functions TensorFlow registered for the cleared session's graphs.

    Each trace of a `tf.custom_gradient` (Keras's train step has two) registers its gradient
    in a process-wide registry under a fresh name, `CustomGradient-<n>`, and nothing ever
    removes it; the function's closure holds the traced graph and every function in it.
    That was all of the worker's growth: ~12 MiB per convnet trial on digits. Once the
    session is cleared no graph is left to differentiate, so none of them is needed.
    """
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry
    for name in [name for name in registry if name.startswith("CustomGradient-")]:
        del registry[name]


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an accelerator or host out-of-memory error on any backend."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & _OOM_TYPES) or bool(_OOM_TEXT.search(str(exc)))
