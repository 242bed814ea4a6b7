/**
 * GPU providers checked without a GPU: which nodes of a model ONNX Runtime's CUDA provider has a
 * kernel for ({@link io.github.sqonnx.gpu.CudaPlacement}, from ORT's published operator-kernel table),
 * and whether TensorRT's ONNX parser would take a Q/DQ graph ({@link io.github.sqonnx.gpu.TensorRtCheck},
 * from onnx-tensorrt's operator matrix and TensorRT's explicit-quantization rules). Both tables are
 * vendored as resources with their source and version.
 */
package io.github.sqonnx.gpu;
