/**
 * What a miner and a validator do first: make sure their key is a member of the Brain in their
 * role, registering it ("memorize", paying the Brain's fee) unless told not to. One key holds one
 * role per Brain.
 */
import type { Logger } from "pino";
import type { ChainContext } from "../sdk/chain";
import { signerOf } from "../sdk/chain";
import { BASED } from "../sdk/economy";
import { BasedError } from "../sdk/errors";
import { type DeviceName, type RoleName, getMembership, registerMember } from "../sdk/network";

export type MembershipRequest = {
  brainId: number;
  role: RoleName;
  /** Register when not a member yet (`--no-register` turns it off). */
  register: boolean;
  endpoint: string;
  device?: DeviceName;
  storageGiB?: number;
  log: Logger;
};

/** The key's uid in the Brain, after registering it when needed. */
export async function ensureMember(based: ChainContext, request: MembershipRequest): Promise<number> {
  const { brainId, role, log } = request;
  const me = signerOf(based);
  const other: RoleName = role === "miner" ? "validator" : "miner";
  const membership = await getMembership(based, brainId, me);
  if (membership.role === other) {
    throw new BasedError(
      "refused",
      "WrongRole",
      `${me} is a ${other} of Brain #${brainId} (uid ${membership.uid}); one key holds one role per Brain.`,
      `Run the ${role} with another key (BASED_PRIVATE_KEY).`,
    );
  }
  if (membership.role === role) {
    log.info({ uid: membership.uid }, `already a ${role} of the Brain`);
    return membership.uid;
  }
  if (!request.register) {
    throw new BasedError(
      "refused",
      "NotRegistered",
      `${me} is not a ${role} of Brain #${brainId}, and --no-register was given.`,
      `Register with \`based register --brain ${brainId} --role ${role} --endpoint <host:port>\`, or start without --no-register.`,
    );
  }
  log.info({ device: request.device, storageGiB: request.storageGiB }, `registering as a ${role}`);
  const done = await registerMember(based, brainId, {
    role,
    endpoint: request.endpoint,
    device: request.device,
    storageGiB: request.storageGiB,
    onStep: (step, detail) => log.debug({ step }, detail),
  });
  log.info({ uid: done.uid, fee: BASED(done.fee), tx: done.transactionHash }, `registered as a ${role}`);
  return done.uid;
}
