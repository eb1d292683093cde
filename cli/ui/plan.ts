/**
 * How `based` tells a user whether a Brain's encrypted-inference plan is lossy (zkllm
 * `planLossiness`): activation quantization, dropped attention heads or the fast parameter set
 * make an encrypted answer possibly differ from the plain one. Pure: `brain show`, `model fetch`
 * and `prompt` print these lines.
 */
import type { PlanLossiness } from "../../zkllm/client";

/** A measured agreement (0–1) as a percentage: "98.8 %". */
export function agreementText(agreement: number): string {
  return `${(agreement * 100).toFixed(1)} %`;
}

/** What makes a plan lossy and how often it agreed: "256-level activation quantization; measured agreement 98.8 %". */
function lossDetails(plan: PlanLossiness): string {
  const measured =
    plan.agreement === undefined
      ? "agreement not measured"
      : `measured agreement ${agreementText(plan.agreement)}`;
  return `${plan.reasons.join(", ")}; ${measured}`;
}

/** One phrase for a plan: lossless, or lossy with its reasons and agreement. */
export function planSummary(plan: PlanLossiness): string {
  return plan.lossy
    ? `lossy (${lossDetails(plan)}): the encrypted answer may differ from the plain one`
    : "lossless: the encrypted answer equals the plain one";
}

/** The warning `based prompt` prints before an encrypted prompt runs on a lossy plan (none otherwise). */
export function lossyPlanWarning(brainId: number, plan: PlanLossiness | null): string | undefined {
  if (!plan?.lossy) return undefined;
  return `warning: Brain #${brainId}'s plan is lossy (${lossDetails(plan)}): the encrypted answer may differ from the plain one.`;
}

/** A Brain's plan as `brain show` reports it: read from the model on this machine, or why not. */
export type PlanView =
  ({ available: true; modelDir: string } & PlanLossiness) | { available: false; reason: string };

/** The `brain show` line of a Brain's plan. */
export function planLine(view: PlanView): string {
  return `  encrypted plan ${view.available ? planSummary(view) : `unknown: ${view.reason}`}`;
}
