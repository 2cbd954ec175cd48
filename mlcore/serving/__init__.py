"""Serving forms of the transformer models: export, quantisation, sessions, form choice.

device         the CUDA boundary (`cuda_available`), half precision, batch size by free memory
onnx_export    torch -> ONNX (dynamo exporter) + onnxruntime's transformer fusions
quantise       dynamic and static (QDQ, calibrated) int8 of an ONNX file
sessions       OnnxRunner: one onnxruntime session of an exported encoder
choice         the forms, their measures, the tolerance rule, the fastest form of a device
embedder_forms the embedder's forms, exported once into a cache and measured by cosine

The classifier's forms are exported and measured by `mlcore.classifier.forms`.
"""
