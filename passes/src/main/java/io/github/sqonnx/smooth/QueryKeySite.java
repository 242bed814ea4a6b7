package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.Node;

/** Q·Kᵀ in attention, traced back to the Q and K projections ({@code problem} non-null if not usable). */
record QueryKeySite(Node scores, Linear.Output query, Linear.Output key, String problem) {}
