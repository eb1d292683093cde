import type { Command } from "commander";
import type { Wrap } from "../context";

/** `based validator …` (being built: issue 7). */
export function registerValidatorCommands(_program: Command, _wrap: Wrap): void {}
