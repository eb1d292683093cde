import type { Command } from "commander";
import type { Wrap } from "../context";

/** `based account …` (being built: issue 7). */
export function registerAccountCommands(_program: Command, _wrap: Wrap): void {}
