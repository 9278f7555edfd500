"""Export a network for inference: ONNX or a torch.export program, each checked against
PyTorch (:mod:`.graphs`); ``inception-v4 export`` is :mod:`.commands`."""

from .graphs import (
    ATOL,
    FORMATS,
    MIN_OPSET,
    ExportCheckError,
    check_int8_program,
    check_onnx,
    check_program,
    example_input,
    export_int8_program,
    export_onnx,
    export_program,
    inference_network,
    prepare_for_export,
)

__all__ = ["ATOL", "FORMATS", "MIN_OPSET", "ExportCheckError", "check_int8_program", "check_onnx",
           "check_program", "example_input", "export_int8_program", "export_onnx",
           "export_program", "inference_network", "prepare_for_export"]
