import { expect } from "chai";
import os from "node:os";
import { detectHardware, systemProbe } from "../../../compute/miner/hardware";

describe("compute/miner/hardware: a miner declares the device it has", () => {
  it("declares this machine as it is: GPU exactly when the system probe sees an NVIDIA device", () => {
    const hw = detectHardware();
    const gpuSeen = systemProbe.exists("/dev/nvidia0") || systemProbe.nvidiaSmi() !== undefined;
    expect(hw.device).to.equal(gpuSeen ? "gpu" : "cpu");
    expect(hw.executionProviders).to.deep.equal(gpuSeen ? ["cuda", "cpu"] : ["cpu"]);
    expect(hw.cores).to.equal(os.availableParallelism());
    expect(hw.memoryBytes).to.equal(os.totalmem());
    expect(hw.detail).to.contain(`onnxruntime: ${hw.executionProviders.join(", ")}`);
  });

  it("a CPU machine names its CPU and core count; a hanging or failing nvidia-smi means no GPU", () => {
    const cpu = detectHardware({ exists: () => false, nvidiaSmi: () => undefined });
    expect(cpu.detail).to.equal(
      `${os.cpus()[0]!.model.trim()} × ${os.availableParallelism()} (onnxruntime: cpu)`,
    );
  });

  it("declares a GPU from /dev/nvidia0 or from nvidia-smi, and asks onnxruntime for CUDA first", () => {
    const smi =
      "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0000)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-0001)\n";
    const bySmi = detectHardware({ exists: () => false, nvidiaSmi: () => smi });
    expect(bySmi.device).to.equal("gpu");
    expect(bySmi.detail).to.equal("NVIDIA H100 80GB HBM3; NVIDIA H100 80GB HBM3 (onnxruntime: cuda, cpu)");
    expect(bySmi.executionProviders).to.deep.equal(["cuda", "cpu"]);
    const byDevice = detectHardware({ exists: (f) => f === "/dev/nvidia0", nvidiaSmi: () => undefined });
    expect(byDevice.device).to.equal("gpu");
    const none = detectHardware({ exists: () => false, nvidiaSmi: () => undefined });
    expect(none.device).to.equal("cpu");
    expect(none.executionProviders).to.deep.equal(["cpu"]);
  });
});
