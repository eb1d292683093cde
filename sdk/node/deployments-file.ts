/**
 * The deployments file on disk: written by `npm run devnet` (and by deployments to real networks),
 * read by every command and service.
 */
import fs from "node:fs";
import path from "node:path";
import { type Deployments, deploymentsSchema, parseDeployments } from "../deployments";
import { BasedError } from "../errors";

/** Where `npm run devnet` writes its deployments unless BASED_DEPLOYMENTS says otherwise. */
export const DEFAULT_DEPLOYMENTS_FILE = path.resolve(__dirname, "..", "..", ".devnet", "deployments.json");

/** Reads and validates a deployments file; says how to create one when it is missing. */
export function readDeployments(file: string = DEFAULT_DEPLOYMENTS_FILE): Deployments {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch {
    throw new BasedError(
      "environment",
      "DeploymentsMissing",
      `No deployments file at ${file}.`,
      "Start a local network with `npm run devnet` (it writes this file), or point BASED_DEPLOYMENTS at one.",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new BasedError(
      "environment",
      "DeploymentsInvalid",
      `${file} is not JSON: ${(err as Error).message}`,
    );
  }
  try {
    return parseDeployments(json, file);
  } catch (err) {
    if (err instanceof BasedError) {
      throw new BasedError(err.kind, err.code, err.message, "Restart `npm run devnet` to write a fresh one.");
    }
    throw err;
  }
}

/** Writes a deployments file atomically (readers never see half a file). */
export function writeDeployments(file: string, deployments: Deployments): void {
  const valid = deploymentsSchema.parse(deployments);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(valid, null, 2) + "\n");
  fs.renameSync(tmp, file);
}
