export * from "./safetensors";
export * from "./checkpoint";
export * from "./files";
export * from "./forward";
export * from "./greedy";
export * from "./onnx-export";
export * from "./onnx-runner";
export * from "./random-checkpoint";
