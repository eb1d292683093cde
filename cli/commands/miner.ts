import type { Command } from "commander";
import type { Wrap } from "../context";

/** `based miner …` (being built: issue 7). */
export function registerMinerCommands(_program: Command, _wrap: Wrap): void {}
