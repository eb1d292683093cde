#!/usr/bin/env node
// The `based` command. Sources are TypeScript; tsx compiles them on the fly so a fresh clone
// needs no build step (`npm ci` is enough).
require("tsx/cjs");
require("../cli/main.ts").main(process.argv);
