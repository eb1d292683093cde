/**
 * The relayer service: `tsx oracle/relayer/main.ts --state-dir <dir> --attester http://127.0.0.1:7101
 * --attester … [--deployments <file>] [--poll-ms 1000]`, paying gas with BASED_PRIVATE_KEY. Anyone
 * can run one; they cannot forge messages, only deliver them.
 */
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { nonceManager } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { chainContext, deploymentOf, basedDeployment } from "../../sdk/chain";
import { chainSettings } from "../../sdk/node/config";
import { errorLine } from "../../sdk/errors";
import { requireKey } from "../../service/requirements";
import { type ServiceDefinition, serviceMain } from "../../service/shell";
import type { Inbox } from "../inbox";
import { Relayer } from "./relayer";

export const relayerOptionsSchema = z.object({
  attester: z.array(z.string().url()).min(1, "name at least one --attester URL"),
  stateDir: z.string().min(1),
  pollMs: z.coerce.number().int().min(50).default(1_000),
});

/** Transactions already sent get this long to be confirmed (and recorded) after a stop. */
const SETTLE_MS = 10_000;

export const relayerService: ServiceDefinition<z.infer<typeof relayerOptionsSchema>> = {
  name: "relayer",
  summary:
    "An oracle relayer: gathers a threshold of attester signatures per message and delivers it to\nthe destination chain's inbox (permissionless: it cannot forge messages, only deliver them).",
  flags: {
    attester: { type: "string", multiple: true, description: "an attester's HTTP endpoint (repeat)" },
    "state-dir": { type: "string", description: "where the ids it delivered are kept" },
    "poll-ms": { type: "string", description: "milliseconds between rounds (default 1000)" },
  },
  options: relayerOptionsSchema,
  shutdownTimeoutMs: SETTLE_MS + 5_000,
  async run({ options, config, log, signal, setHealth }) {
    const settings = chainSettings(config);
    // Checked here for the error that names the deployments file.
    basedDeployment(settings.deployments);
    const account = privateKeyToAccount(requireKey(config, "it pays the delivery gas"), { nonceManager });
    const inboxes: Inbox[] = [];
    for (const [name, title] of [
      ["ethereum", "Ethereum"],
      ["based", "BasedAI"],
    ] as const) {
      const address = deploymentOf(settings.deployments, name).contracts.MessageInbox;
      if (!address) throw new Error(`the deployments file lacks the ${title} MessageInbox`);
      inboxes.push({ ctx: chainContext(settings, name, account), address });
    }
    const relayer = new Relayer({
      attesterUrls: options.attester,
      inboxes,
      stateFile: path.join(options.stateDir, "relayer.json"),
      log,
    });
    log.info({ attesters: options.attester, relayer: account.address }, "relayer started");
    setHealth(() => ({ relayer: account.address }));
    while (!signal.aborted) {
      try {
        await relayer.poll();
      } catch (err) {
        log.warn({ err: errorLine(err) }, "relay round failed; retrying");
      }
      await sleep(options.pollMs, undefined, { signal }).catch(() => {});
    }
    await Promise.race([relayer.settle(), sleep(SETTLE_MS)]);
  },
};

if (require.main === module) serviceMain(relayerService);
