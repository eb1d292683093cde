"use strict";
// Entry point of the evaluator pool's worker threads.
//
// Why a plain .js file: a worker thread starts with a bare module loader. Whatever TypeScript hook
// the parent uses (tsx, ts-node under Hardhat/mocha, or none when running compiled JS) is not
// inherited, so `new Worker("worker.ts")` would fail in some of them. This file needs no loader:
// it runs the compiled worker when one sits next to it, and otherwise registers tsx's CommonJS
// hook (a dependency of the project) and loads the TypeScript source.
const fs = require("node:fs");
const path = require("node:path");

const compiled = path.join(__dirname, "worker.js");
if (fs.existsSync(compiled)) {
  require(compiled);
} else {
  require("tsx/cjs");
  require("./worker.ts");
}
