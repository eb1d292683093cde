/**
 * Bridge latency on a local devnet: seconds from a lock on the BasedAI chain to the wBASED mint on
 * Ethereum, and from a burn on Ethereum to the BASED release, through real attester and relayer
 * processes (test/helpers/oracle.ts; the same settings as `npm run devnet`: four attesters,
 * threshold 3, finality depth 0, attesters and relayer polling every 500 ms), with 1-second
 * BasedAI-chain blocks and an automining Ethereum.
 *
 *   npx tsx bench/oracle/bridge-latency.ts [--transfers 5] [--based-block-time 1] [--poll-ms 500]
 *
 * Per transfer it records when the lock/burn was sent, when its receipt was seen, when the
 * threshold of attester signatures was first available, and when the destination inbox reported
 * the message executed (each watched every 100 ms). One warm-up transfer per direction is not
 * counted. Gas is measured elsewhere (bench/gas/messaging-gas.ts).
 */
import { parseArgs } from "node:util";
import { type Hex, parseEther } from "viem";
import { type BridgeContext, type BridgeDirection, sendBridgeTransfer } from "../../sdk/bridge";
import { devnetPrivateKey } from "../../sdk/devnet";
import { messageInboxAbi } from "../../protocol/generated/abis";
import { type OracleNetwork, startOracleNetwork } from "../../test/helpers/oracle";
import { connectBased, connectEthereum } from "../../sdk/chain";
import { readDeployments } from "../../sdk/node/deployments-file";

const WATCH_MS = 100;

type Sample = { sendToIncluded: number; includedToSigned: number; signedToExecuted: number; total: number };

async function signatureCount(urls: readonly string[], id: Hex): Promise<number> {
  const answers = await Promise.all(
    urls.map(async (u) => {
      try {
        return (await fetch(`${u}/messages/${id}/signatures`, { signal: AbortSignal.timeout(1_000) })).ok;
      } catch {
        return false;
      }
    }),
  );
  return answers.filter(Boolean).length;
}

async function oneTransfer(
  net: OracleNetwork,
  ctx: BridgeContext,
  direction: BridgeDirection,
): Promise<Sample> {
  let sentAt = 0;
  const sent = await sendBridgeTransfer(ctx, direction, {
    amount: parseEther("10"),
    onStep: (step) => {
      if (step === "send") sentAt = performance.now();
    },
  });
  const includedAt = performance.now();
  const destination =
    direction === "to-ethereum"
      ? { client: net.ethereum.client, inbox: net.deployments.ethereum.contracts.MessageInbox! }
      : { client: net.based.client, inbox: net.deployments.based!.contracts.MessageInbox };
  let signedAt: number | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`message ${sent.messageId} not executed within 60 s`);
    const [signatures, status] = await Promise.all([
      signedAt === undefined ? signatureCount(net.attesterUrls, sent.messageId) : Promise.resolve(0),
      destination.client.readContract({
        address: destination.inbox,
        abi: messageInboxAbi,
        functionName: "messageStatus",
        args: [sent.messageId],
      }),
    ]);
    const now = performance.now();
    if (signedAt === undefined && (signatures >= net.threshold || status === 2)) signedAt = now;
    if (status === 2) {
      const s = (ms: number) => ms / 1000;
      return {
        sendToIncluded: s(includedAt - sentAt),
        includedToSigned: s(signedAt! - includedAt),
        signedToExecuted: s(now - signedAt!),
        total: s(now - sentAt),
      };
    }
    await new Promise((r) => setTimeout(r, WATCH_MS));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const f = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      transfers: { type: "string", default: "5" },
      "based-block-time": { type: "string", default: "1" },
      "poll-ms": { type: "string", default: "500" },
    },
  });
  const transfers = Number(values.transfers);
  const basedBlockTime = Number(values["based-block-time"]);
  const pollMs = Number(values["poll-ms"]);
  console.log(
    `starting the devnet (BasedAI blocks every ${basedBlockTime} s, oracle polling every ${pollMs} ms)…`,
  );
  const net = await startOracleNetwork({ basedBlockTime, pollMs });
  try {
    const config = {
      deployments: readDeployments(net.deploymentsFile),
      privateKey: devnetPrivateKey(2),
    };
    const ctx: BridgeContext = {
      ethereum: await connectEthereum(config, { withAccount: true }),
      based: await connectBased(config, { withAccount: true }),
      attesterUrls: net.attesterUrls,
    };
    const rows: string[] = [];
    for (const direction of ["to-ethereum", "to-based"] as const) {
      await oneTransfer(net, ctx, direction); // warm-up
      const samples: Sample[] = [];
      for (let i = 0; i < transfers; i++) {
        const sample = await oneTransfer(net, ctx, direction);
        samples.push(sample);
        console.log(
          `${direction} #${i + 1}: ${f(sample.total)} s (sent→included ${f(sample.sendToIncluded)}, included→signed ${f(sample.includedToSigned)}, signed→executed ${f(sample.signedToExecuted)})`,
        );
      }
      const col = (k: keyof Sample) => samples.map((s) => s[k]);
      const label = direction === "to-ethereum" ? "lock → wBASED minted" : "burn → BASED released";
      rows.push(
        `| ${label} | ${samples.length} | ${f(median(col("total")))} | ${f(Math.max(...col("total")))} | ${f(median(col("sendToIncluded")))} | ${f(median(col("includedToSigned")))} | ${f(median(col("signedToExecuted")))} |`,
      );
    }
    console.log(
      [
        "",
        "| path | transfers | median s | max s | sent → included (median) | included → 3 signatures (median) | signatures → executed (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ...rows,
      ].join("\n"),
    );
  } finally {
    await net.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
