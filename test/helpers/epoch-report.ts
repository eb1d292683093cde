/**
 * Computes one epoch's report from the chain alone, as an attester without any state would:
 * `node --require tsx/cjs test/helpers/epoch-report.ts <deployments.json> <epoch>` replays the
 * carried state from epoch 0 and prints the report as one JSON line (message id, payload, roots).
 * The epoch tests run it in separate processes to show that the bytes depend on the chain only.
 */
import { EMPTY_CARRY } from "../../oracle/consensus/rewards";
import { type EpochSource, computeEpochFromChain, replayCarry } from "../../oracle/epoch/reporter";
import { EconomyLogs } from "../../oracle/epoch/snapshot";
import { chainContext } from "../../sdk/chain";
import { readDeployments } from "../../sdk/node/deployments-file";

async function main(): Promise<void> {
  const [file, rawEpoch] = process.argv.slice(2);
  if (!file || !rawEpoch || !/^\d+$/.test(rawEpoch)) {
    console.error("usage: epoch-report.ts <deployments.json> <epoch>");
    process.exit(2);
  }
  const epoch = BigInt(rawEpoch);
  const deployments = readDeployments(file);
  const b = deployments.based!;
  const client = chainContext({ deployments }, "based").publicClient;
  const contracts = {
    BrainRegistry: b.contracts.BrainRegistry,
    Network: b.contracts.Network,
    Staking: b.contracts.Staking,
    Consensus: b.contracts.Consensus,
  };
  const source: EpochSource = {
    client,
    contracts,
    logs: new EconomyLogs(client, contracts, BigInt(b.startBlock)),
    chainId: BigInt(b.chainId),
  };
  const refused: string[] = [];
  const carry = await replayCarry(source, 0n, epoch, EMPTY_CARRY, {
    onRefused: (e) => refused.push(e.toString()),
  });
  const stored = await computeEpochFromChain(source, epoch, carry);
  process.stdout.write(
    JSON.stringify({
      epoch: rawEpoch,
      messageId: stored.messageId,
      payload: stored.message.payload,
      rewardsRoot: stored.report.rewardsRoot,
      inputsHash: stored.report.inputsHash,
      refused,
    }) + "\n",
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
