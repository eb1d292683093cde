import type { Command } from "commander";
import { type Hex, formatEther } from "viem";
import { z } from "zod";
import {
  type BridgeContext,
  type BridgeDirection,
  type BridgeStatus,
  type SentTransfer,
  attesterUrlsFor,
  getBridgeStatus,
  sendBridgeTransfer,
  waitForBridgeTransfer,
} from "../../sdk/bridge";
import { messageIdSchema } from "../../protocol/attester";
import { BasedError } from "../../sdk/errors";
import { parseAddress, parseTokenAmount } from "../core/args";
import type { CommandContext, Wrap } from "../core/context";

const DIRECTIONS: Record<
  BridgeDirection,
  { from: string; to: string; symbol: string; gets: string; verb: string; example: string }
> = {
  "to-ethereum": {
    from: "the BasedAI chain",
    to: "Ethereum",
    symbol: "BASED",
    gets: "wBASED",
    verb: "lock",
    example: "based bridge to-ethereum --amount 250",
  },
  "to-based": {
    from: "Ethereum",
    to: "the BasedAI chain",
    symbol: "wBASED",
    gets: "BASED",
    verb: "burn",
    example: "based bridge to-based --amount 250 --recipient 0x…",
  },
};

const timeoutSeconds = z.coerce.number().positive().max(86_400);

async function bridgeContext(ctx: CommandContext, withAccount: boolean): Promise<BridgeContext> {
  const ethereum = await ctx.ethereum({ withAccount });
  const based = await ctx.based({ withAccount });
  return { ethereum, based, attesterUrls: attesterUrlsFor(ctx.config.attesterUrls, ethereum.deployments) };
}

/** One line of progress for the spinner. */
function progressText(status: BridgeStatus, attesters: number): string {
  const sig = status.signatures;
  const count =
    attesters === 0
      ? "signatures not visible (set BASED_ATTESTERS)"
      : `${sig.threshold === undefined ? sig.valid : Math.min(sig.valid, sig.threshold)}/${sig.threshold ?? "?"} attester signatures`;
  switch (status.state) {
    case "unknown":
    case "pending":
      return `waiting for the attesters: ${count}`;
    case "signed":
      return `${count}; waiting for a relayer to deliver it`;
    case "waiting":
      return `delivered; waiting: ${status.destination?.waitingReason ?? "the handler failed"}`;
    case "executed":
      return "executed";
    case "superseded":
      return `refused: another message (${status.destination?.supersededBy ?? "?"}) took its nonce`;
  }
}

function transferJson(sent: SentTransfer) {
  return {
    direction: sent.direction,
    messageId: sent.messageId,
    sender: sent.sender,
    recipient: sent.recipient,
    amount: sent.amount,
    sourceChainId: sent.sourceChainId,
    destinationChainId: sent.destinationChainId,
    sourceTransactionHash: sent.sourceTransactionHash,
    approvalHash: sent.approvalHash ?? null,
  };
}

/** The human form of `based bridge status` (the `--json` form is the status itself). */
export function statusLines(s: BridgeStatus): string[] {
  const inbox = (name: string, status: string) => `  ${name.padEnd(16)} ${status}`;
  const lines = [`Message ${s.messageId}: ${s.state}`];
  if (s.message) {
    const route = `${s.source?.chain ?? `chain ${s.message.srcChainId}`} → ${s.destination?.chain ?? `chain ${s.message.dstChainId}`}`;
    lines.push(
      s.transfer
        ? `  transfer         ${formatEther(s.transfer.amount)} from ${s.transfer.sender} to ${s.transfer.recipient} (${route})`
        : `  kind             ${s.kind} (${route})`,
    );
  }
  if (s.source) {
    lines.push(
      `  source           block ${s.source.blockNumber}, log ${s.source.logIndex}${s.source.transactionHash ? `, tx ${s.source.transactionHash}` : ""}`,
    );
  }
  const sig = s.signatures;
  if (sig.attesters.length > 0) {
    const each = sig.attesters.map((a) => `${a.url.replace(/^https?:\/\//, "")} ${a.status}`).join(", ");
    lines.push(
      `  signatures       ${sig.valid}${sig.threshold ? ` (${sig.threshold} needed)` : ""}: ${each}`,
    );
  } else {
    lines.push("  signatures       no attesters to ask (set BASED_ATTESTERS)");
  }
  lines.push(inbox("Ethereum inbox", s.inboxes.ethereum), inbox("BasedAI inbox", s.inboxes.based));
  if (s.destination?.transactionHash) lines.push(`  executed in tx   ${s.destination.transactionHash}`);
  if (s.destination?.waitingReason) lines.push(`  waiting          ${s.destination.waitingReason}`);
  if (s.destination?.supersededBy) {
    lines.push(
      `  superseded by    ${s.destination.supersededBy}`,
      `  refused          ${s.destination.supersededReason ?? "another message was delivered under its nonce"}`,
      `  next             \`based bridge status ${s.destination.supersededBy}\` shows what was delivered instead`,
    );
  }
  if (s.state === "unknown") {
    lines.push(
      "  (no attester or inbox knows this id yet: a transfer appears once its source block is final; check the id otherwise)",
    );
  }
  return lines;
}

/** `based bridge …`: move BASED between the BasedAI chain and Ethereum. */
export function registerBridgeCommands(program: Command, wrap: Wrap): void {
  const bridge = program
    .command("bridge")
    .description("move BASED between the BasedAI chain and Ethereum (as wBASED)")
    .addHelpText(
      "after",
      `
to-ethereum locks BASED in the BasedBridge; the oracle's attesters sign the event and a relayer
delivers it to Ethereum, which mints as much wBASED. to-based burns wBASED and releases the BASED.
Each direction has a per-transfer maximum and a rate limit; a transfer over the limit waits on the
destination and is delivered after the refill (never lost).

Environment:
  BASED_ATTESTERS   attester URLs to ask for signatures, comma-separated
                    (devnet default: http://127.0.0.1:7101 … :7104)`,
    );

  for (const direction of ["to-ethereum", "to-based"] as const) {
    const d = DIRECTIONS[direction];
    bridge
      .command(direction)
      .description(`${d.verb} ${d.symbol} on ${d.from} and receive ${d.gets} on ${d.to}`)
      .requiredOption("--amount <amount>", `${d.symbol} to bridge, e.g. 250 or 0.5`)
      .option("--recipient <address>", `receiver on ${d.to} (default: your own address)`)
      .option("--no-wait", "return once the transfer is sent; follow it with `based bridge status <id>`")
      .option("--timeout <seconds>", "give up waiting after this long (the transfer is not lost)", "300")
      .addHelpText("after", `\nExample:\n  ${d.example}`)
      .action(
        wrap(async (ctx, _args, options) => {
          const opts = options as { amount: string; recipient?: string; wait: boolean; timeout: string };
          const amount = parseTokenAmount(opts.amount, "--amount");
          const recipient =
            opts.recipient === undefined ? undefined : parseAddress(opts.recipient, "--recipient");
          const timeout = timeoutSeconds.safeParse(opts.timeout);
          if (!timeout.success) {
            throw new BasedError(
              "input",
              "InvalidArgument",
              `Invalid --timeout "${opts.timeout}": seconds, at most 86400.`,
            );
          }
          const bctx = await bridgeContext(ctx, true);
          const spinner = ctx.spinner();
          const started = Date.now();
          let sent: SentTransfer;
          try {
            sent = await sendBridgeTransfer(bctx, direction, {
              amount,
              recipient,
              onStep: (_step, detail) => spinner.update(detail),
            });
          } catch (err) {
            spinner.fail();
            throw err;
          }
          const what = `${formatEther(sent.amount)} ${d.symbol}`;
          if (!opts.wait) {
            spinner.succeed(`${what} ${d.verb === "lock" ? "locked" : "burned"}`);
            ctx.out.result({ transfer: { ...transferJson(sent), state: "sent" } }, () =>
              [
                `Sent ${what} from ${d.from} to ${sent.recipient} on ${d.to}`,
                `  message      ${sent.messageId}`,
                sent.approvalHash ? `  approval tx  ${sent.approvalHash}` : undefined,
                `  ${d.verb} tx      ${sent.sourceTransactionHash}`,
                `Follow it with: based bridge status ${sent.messageId}`,
              ]
                .filter((l) => l !== undefined)
                .join("\n"),
            );
            return;
          }
          spinner.update(`${d.verb === "lock" ? "locked" : "burned"} ${what}; waiting for the attesters`);
          let done: BridgeStatus;
          try {
            done = await waitForBridgeTransfer(bctx, sent, {
              timeoutMs: timeout.data * 1000,
              onProgress: (s) =>
                spinner.update(
                  `${sent.messageId.slice(0, 10)}… ${progressText(s, bctx.attesterUrls.length)}`,
                ),
            });
          } catch (err) {
            spinner.fail();
            throw err;
          }
          const seconds = Math.round((Date.now() - started) / 100) / 10;
          spinner.succeed(`${formatEther(sent.amount)} ${d.gets} delivered on ${d.to}`);
          ctx.out.result(
            {
              transfer: {
                ...transferJson(sent),
                state: done.state,
                signatures: { valid: done.signatures.valid, threshold: done.signatures.threshold ?? null },
                destinationTransactionHash: done.destination?.transactionHash ?? null,
                seconds,
              },
            },
            () =>
              [
                `Bridged ${what} → ${formatEther(sent.amount)} ${d.gets} for ${sent.recipient} on ${d.to} (${seconds} s)`,
                `  message         ${sent.messageId}`,
                sent.approvalHash ? `  approval tx     ${sent.approvalHash}` : undefined,
                `  ${`${d.verb} tx`.padEnd(15)} ${sent.sourceTransactionHash} (${d.from})`,
                `  delivery tx     ${done.destination?.transactionHash ?? "?"} (${d.to})`,
              ]
                .filter((l) => l !== undefined)
                .join("\n"),
          );
        }),
      );
  }

  bridge
    .command("status")
    .description("show where a bridge message is: attester signatures, both inboxes, the delivery")
    .argument("<messageId>", "the message id printed by to-ethereum / to-based")
    .action(
      wrap(async (ctx, [rawId]) => {
        const parsed = messageIdSchema.safeParse(rawId);
        if (!parsed.success) {
          throw new BasedError(
            "input",
            "InvalidArgument",
            `Invalid message id "${rawId}": ${parsed.error.issues[0]?.message ?? "invalid"}.`,
          );
        }
        const bctx = await bridgeContext(ctx, false);
        const status = await getBridgeStatus(bctx, parsed.data.toLowerCase() as Hex);
        ctx.out.result({ status }, () => statusLines(status).join("\n"));
      }),
    );
}
