import type { Command } from "commander";
import type { Wrap } from "../context";

/** `based prompt …` (being built: issue 7). */
export function registerPromptCommands(_program: Command, _wrap: Wrap): void {}
